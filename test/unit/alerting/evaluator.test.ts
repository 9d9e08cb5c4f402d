import { describe, expect, it } from '@jest/globals';
import { evaluate, GONE_AFTER_CYCLES } from '../../../operator/alerting/evaluator.js';
import { emptyAlertState } from '../../../operator/alerting/state.js';
import {
  INTERVAL,
  T0,
  cpuSeries,
  cycle,
  lastState,
  metricState,
  rule,
  runCycles,
  sample,
  transitionsAt,
} from './fixtures.js';

const HIGH = 900;
const LOW = 500;

describe('evaluate: consecutive breaches and recovery', () => {
  it('never fires on alternating usage with for: 3', () => {
    const values = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? HIGH : LOW));
    const steps = runCycles(rule({ for: 3 }), cpuSeries(values));
    expect(transitionsAt(steps)).toEqual([]);
    expect(steps.map((s) => metricState(s.state)?.state)).toEqual(
      values.map((v) => (v === HIGH ? 'Pending' : 'Normal')),
    );
  });

  it('is Pending for for-1 breaches, fires on the for-th, and resolves after recoverAfter healthy samples', () => {
    const steps = runCycles(
      rule({ for: 3, recoverAfter: 2 }),
      cpuSeries([HIGH, HIGH, HIGH, HIGH, LOW, HIGH, LOW, LOW]),
    );
    expect(steps.map((s) => metricState(s.state)?.state)).toEqual([
      'Pending',
      'Pending',
      'Firing',
      'Firing',
      'Firing', // 1 of 2 healthy
      'Firing', // a breach restarts the healthy count
      'Firing',
      'Normal',
    ]);
    expect(transitionsAt(steps)).toEqual(['fired@2', 'resolved@7']);
    const [fired] = steps[2]?.transitions ?? [];
    expect(fired).toMatchObject({
      kind: 'fired',
      ref: { namespace: 'shop', pod: 'web-7d9f', container: 'app' },
      metric: 'cpu',
      cause: 'threshold',
      value: HIGH,
      threshold: 800,
      breaches: 3,
      firingSince: T0 + 2 * INTERVAL,
      notify: true,
      delayed: false,
    });
    expect(steps[7]?.transitions[0]).toMatchObject({ kind: 'resolved', cause: 'recovered', notify: true });
    expect(steps[2]?.state.lastAlertedAt).toBe(T0 + 2 * INTERVAL);
  });

  it('treats a value equal to the threshold as healthy ("above")', () => {
    const steps = runCycles(rule({ for: 1 }), cpuSeries([800, 800]));
    expect(transitionsAt(steps)).toEqual([]);
  });

  it('fires at once with for: 1 and resolves at once with recoverAfter: 1', () => {
    const steps = runCycles(rule({ for: 1, recoverAfter: 1 }), cpuSeries([HIGH, LOW, HIGH]));
    expect(transitionsAt(steps)).toEqual(['fired@0', 'resolved@1', 'fired@2']);
  });

  it('does not modify the previous state', () => {
    const r = rule({ for: 1 });
    const first = evaluate(r, emptyAlertState(), cycle([sample({ cpuMillicores: HIGH })]), T0);
    const snapshot = structuredClone([...first.state.targets.entries()]);
    evaluate(r, first.state, cycle([sample({ cpuMillicores: LOW })]), T0 + INTERVAL);
    expect([...first.state.targets.entries()]).toEqual(snapshot);
  });
});

describe('evaluate: thresholds in percent', () => {
  const percentOfLimit = rule({ cpu: { kind: 'percent', percent: 80, of: 'limit' }, for: 1 });

  it('takes the percentage of the container limit', () => {
    const steps = runCycles(percentOfLimit, [
      [sample({ cpuMillicores: 790, cpuLimitMillicores: 1000 })],
      [sample({ cpuMillicores: 810, cpuLimitMillicores: 1000 })],
    ]);
    expect(transitionsAt(steps)).toEqual(['fired@1']);
    expect(steps[1]?.transitions[0]).toMatchObject({
      threshold: 800,
      basis: { percent: 80, of: 'limit', amount: 1000 },
    });
  });

  it('takes the percentage of the request when asked to', () => {
    const r = rule({ memory: { kind: 'percent', percent: 150, of: 'request' }, cpu: undefined, for: 1 });
    const steps = runCycles(r, [
      [sample({ memoryBytes: 400, memoryRequestBytes: 200, memoryLimitBytes: 1000 })],
    ]);
    expect(steps[0]?.transitions[0]).toMatchObject({ metric: 'memory', threshold: 300, value: 400 });
  });

  it('reports a container without a limit as NoBasis instead of skipping it', () => {
    const steps = runCycles(percentOfLimit, [[sample({ cpuMillicores: 5000 })]]);
    expect(metricState(lastState(steps))).toMatchObject({
      state: 'NoBasis',
      breaches: 0,
      threshold: null,
      value: 5000,
    });
    expect(transitionsAt(steps)).toEqual([]);
  });

  it('resolves a firing target whose limit is removed', () => {
    const steps = runCycles(percentOfLimit, [
      [sample({ cpuMillicores: 900, cpuLimitMillicores: 1000 })],
      [sample({ cpuMillicores: 900 })],
    ]);
    expect(transitionsAt(steps)).toEqual(['fired@0', 'resolved@1']);
    expect(steps[1]?.transitions[0]).toMatchObject({ cause: 'noBasis', notify: true });
  });
});

describe('evaluate: pod scope', () => {
  const podSamples = (
    app: Partial<Parameters<typeof sample>[0]>,
    sidecar: Partial<Parameters<typeof sample>[0]>,
  ) => [sample({ container: 'app', ...app }), sample({ container: 'sidecar', ...sidecar })];

  it('sums the containers of a pod', () => {
    const samples = podSamples({ cpuMillicores: 500 }, { cpuMillicores: 400 });
    const pod = runCycles(rule({ scope: 'pod', for: 1 }), [samples]);
    const container = runCycles(rule({ scope: 'container', for: 1 }), [samples]);
    expect(pod[0]?.transitions).toEqual([
      expect.objectContaining({ kind: 'fired', ref: { namespace: 'shop', pod: 'web-7d9f' }, value: 900 }),
    ]);
    expect(container[0]?.transitions).toEqual([]);
    expect([...(container[0]?.state.targets.keys() ?? [])]).toEqual([
      'shop/web-7d9f/app',
      'shop/web-7d9f/sidecar',
    ]);
  });

  it('sums limits for a percent threshold, and is NoBasis when one container has no limit', () => {
    const r = rule({ scope: 'pod', cpu: { kind: 'percent', percent: 80, of: 'limit' }, for: 1 });
    const limited = runCycles(r, [
      podSamples(
        { cpuMillicores: 500, cpuLimitMillicores: 500 },
        { cpuMillicores: 350, cpuLimitMillicores: 500 },
      ),
    ]);
    expect(limited[0]?.transitions[0]).toMatchObject({ value: 850, threshold: 800 });
    const unlimited = runCycles(r, [
      podSamples({ cpuMillicores: 500, cpuLimitMillicores: 500 }, { cpuMillicores: 350 }),
    ]);
    expect(metricState(lastState(unlimited), 'shop/web-7d9f')?.state).toBe('NoBasis');
  });

  it('has no data for the pod when one of its containers has none', () => {
    const r = rule({ scope: 'pod', for: 1, recoverAfter: 1, noData: 'resolve' });
    const steps = runCycles(r, [
      podSamples({ cpuMillicores: 500 }, { cpuMillicores: 400 }),
      podSamples({ cpuMillicores: 900 }, { cpuMillicores: null }),
    ]);
    expect(transitionsAt(steps)).toEqual(['fired@0', 'resolved@1']);
    expect(steps[1]?.transitions[0]).toMatchObject({ cause: 'noData', value: null });
  });

  it('counts a container sampled twice in a cycle once', () => {
    const r = rule({ scope: 'pod', for: 1 });
    const steps = runCycles(r, [[sample({ cpuMillicores: 500 }), sample({ cpuMillicores: 500 })]]);
    expect(metricState(lastState(steps), 'shop/web-7d9f')?.value).toBe(500);
  });
});

describe('evaluate: selection', () => {
  it('evaluates only the pods the selector matches', () => {
    const r = rule({
      for: 1,
      selector: (labels) => labels.some((l) => l.k === 'tier' && l.v === 'frontend'),
    });
    const steps = runCycles(r, [
      [
        sample({ pod: 'front', cpuMillicores: HIGH, labels: [{ k: 'tier', v: 'frontend' }] }),
        sample({ pod: 'back', cpuMillicores: HIGH, labels: [{ k: 'tier', v: 'backend' }] }),
      ],
    ]);
    expect([...lastState(steps).targets.keys()]).toEqual(['shop/front/app']);
  });

  it('refuses a cycle of another policy and an invalid rule, naming the field', () => {
    expect(() => evaluate(rule(), emptyAlertState(), { ...cycle([]), policy: 'shop/other' }, T0)).toThrow(
      /evaluates policy shop\/web, not a cycle of shop\/other/,
    );
    expect(() => evaluate(rule({ for: 0 }), emptyAlertState(), cycle([]), T0)).toThrow(
      /for must be an integer >= 1/,
    );
    expect(() => evaluate(rule({ cpu: undefined }), emptyAlertState(), cycle([]), T0)).toThrow(
      /cpu or memory threshold is required/,
    );
  });
});

describe('evaluate: no data', () => {
  it('keep: a sample without a value leaves the counters as they are', () => {
    const steps = runCycles(rule({ noData: 'keep' }), cpuSeries([HIGH, HIGH, null, null, HIGH]));
    expect(steps.map((s) => metricState(s.state)?.breaches)).toEqual([1, 2, 2, 2, 3]);
    expect(transitionsAt(steps)).toEqual(['fired@4']);
    expect(metricState(steps[2]!.state)?.value).toBeNull();
  });

  it('resolve: samples without a value count as healthy', () => {
    const steps = runCycles(rule({ noData: 'resolve', for: 1 }), cpuSeries([HIGH, null, null]));
    expect(transitionsAt(steps)).toEqual(['fired@0', 'resolved@2']);
    expect(steps[2]?.transitions[0]?.cause).toBe('noData');
  });

  it('alert: samples without a value count as breaches', () => {
    const steps = runCycles(rule({ noData: 'alert', for: 2 }), cpuSeries([LOW, null, null]));
    expect(transitionsAt(steps)).toEqual(['fired@2']);
    expect(steps[2]?.transitions[0]).toMatchObject({ cause: 'noData', value: null });
  });

  it('does not create a target from samples that never had a value', () => {
    const steps = runCycles(rule({ noData: 'alert', for: 1 }), cpuSeries([null, null]));
    expect(lastState(steps).targets.size).toBe(0);
    expect(transitionsAt(steps)).toEqual([]);
  });
});

describe('evaluate: targets that disappear', () => {
  it(`keeps an absent target's counters, then drops it after ${GONE_AFTER_CYCLES} cycles and resolves it`, () => {
    const absent = Array.from({ length: GONE_AFTER_CYCLES }, () => undefined);
    const steps = runCycles(rule({ for: 1 }), cpuSeries([HIGH, ...absent]));
    expect(steps.map((s) => s.state.targets.size)).toEqual([1, ...absent.slice(1).map(() => 1), 0]);
    expect(transitionsAt(steps)).toEqual(['fired@0', `resolved@${GONE_AFTER_CYCLES}`]);
    expect(steps.at(-1)?.transitions[0]).toMatchObject({ cause: 'targetGone', notify: true });
  });

  it('continues counting when the target comes back within the grace', () => {
    const steps = runCycles(rule({ for: 3 }), cpuSeries([HIGH, HIGH, undefined, HIGH]));
    expect(transitionsAt(steps)).toEqual(['fired@3']);
  });

  it('resolves a firing metric whose threshold was removed from the rule', () => {
    const r = rule({ for: 1, memory: { kind: 'absolute', value: 2 ** 30 } });
    const [first] = runCycles(r, cpuSeries([HIGH]));
    const second = evaluate(
      { ...r, cpu: undefined },
      first!.state,
      cycle([sample({ cpuMillicores: HIGH })]),
      T0 + INTERVAL,
    );
    expect(second.transitions).toEqual([
      expect.objectContaining({ kind: 'resolved', cause: 'thresholdRemoved' }),
    ]);
    expect(metricState(second.state)).toBeUndefined();
    expect(metricState(second.state, undefined, 'memory')?.state).toBe('Normal');
  });
});

describe('evaluate: mute and suspend', () => {
  it('does not announce a firing while muted, and announces it once when the mute ends if still firing', () => {
    const muteUntil = T0 + 2 * INTERVAL;
    const steps = runCycles(rule({ for: 1, muteUntil }), cpuSeries([HIGH, HIGH, HIGH, HIGH]));
    expect(
      steps.flatMap((s, i) => s.transitions.map((t) => `${t.kind}@${i}:${t.notify}:${t.delayed}`)),
    ).toEqual(['fired@0:false:false', 'fired@2:true:true']);
    expect(steps[2]?.transitions[0]?.firingSince).toBe(T0);
    expect(steps[1]?.state.lastAlertedAt).toBeUndefined();
    expect(steps[2]?.state.lastAlertedAt).toBe(T0 + 2 * INTERVAL);
  });

  it('does not announce the resolution of a firing that was never announced', () => {
    const steps = runCycles(
      rule({ for: 1, recoverAfter: 1, muteUntil: T0 + 10 * INTERVAL }),
      cpuSeries([HIGH, LOW]),
    );
    expect(steps.flatMap((s) => s.transitions.map((t) => `${t.kind}:${t.notify}`))).toEqual([
      'fired:false',
      'resolved:false',
    ]);
  });

  it('announces the resolution of a firing announced before the mute began', () => {
    const r = rule({ for: 1, recoverAfter: 1 });
    const [fired] = runCycles(r, cpuSeries([HIGH]));
    const now = T0 + INTERVAL;
    const resolved = evaluate(
      { ...r, muteUntil: now + 1 },
      fired!.state,
      cycle([sample({ cpuMillicores: LOW })]),
      now,
    );
    expect(resolved.transitions).toEqual([expect.objectContaining({ kind: 'resolved', notify: true })]);
  });

  it('leaves the state as it is while suspended', () => {
    const [first] = runCycles(rule({ for: 2 }), cpuSeries([HIGH]));
    const suspended = evaluate(
      rule({ for: 2, suspend: true }),
      first!.state,
      cycle([sample({ cpuMillicores: HIGH })]),
      T0 + 1,
    );
    expect(suspended.state).toBe(first!.state);
    expect(suspended.transitions).toEqual([]);
  });
});
