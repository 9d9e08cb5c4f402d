import { describe, expect, it } from '@jest/globals';
import { evaluate } from '../../../operator/alerting/evaluator.js';
import { fromStatus, notificationsCondition, toStatus } from '../../../operator/alerting/status.js';
import { emptyAlertState } from '../../../operator/alerting/state.js';
import {
  INTERVAL,
  LIMITS,
  T0,
  cpuSeries,
  cycle,
  lastState,
  rule,
  runCycles,
  sample,
  transitionsAt,
} from './fixtures.js';

const percentRule = rule({ cpu: { kind: 'percent', percent: 80, of: 'limit' }, for: 3 });

describe('toStatus', () => {
  it('describes a firing container as a person reads it', () => {
    const steps = runCycles(percentRule, cpuSeries([910, 910, 910, 910, 910], { cpuLimitMillicores: 1000 }));
    const status = toStatus(lastState(steps), percentRule, T0 + 5 * INTERVAL, LIMITS);
    expect(status).toMatchObject({
      state: 'Firing',
      alertState: 'cpu_alert',
      cpuConsecutiveBreaches: 5,
      memConsecutiveBreaches: 0,
      firingTargets: 1,
      pendingTargets: 0,
      lastEvaluationTime: '2026-11-21T10:02:00Z',
      lastAlertedAt: '2026-11-21T10:01:00Z',
      targets: [
        {
          namespace: 'shop',
          pod: 'web-7d9f',
          container: 'app',
          metric: 'cpu',
          value: '910m',
          threshold: '800m',
          breaches: 5,
          healthy: 0,
          state: 'Firing',
          since: '2026-11-21T10:01:00Z',
          firingNotified: true,
        },
      ],
    });
    expect(status.conditions).toEqual([
      {
        type: 'Firing',
        status: 'True',
        reason: 'CPUThresholdExceeded',
        message: 'web-7d9f/app cpu 910m > 800m (80% of limit 1) for 5 consecutive samples',
      },
    ]);
  });

  it('says BothThresholdsExceeded and both_alert when cpu and memory fire', () => {
    const r = rule({ for: 1, memory: { kind: 'absolute', value: 2 ** 30 } });
    const state = lastState(runCycles(r, [[sample({ cpuMillicores: 900, memoryBytes: 1.5 * 2 ** 30 })]]));
    const status = toStatus(state, r, T0, LIMITS);
    expect(status).toMatchObject({ alertState: 'both_alert', firingTargets: 1 });
    expect(status.conditions[0]).toMatchObject({ reason: 'BothThresholdsExceeded' });
    // Equal breaches: the further above its threshold comes first.
    expect(status.targets.map((t) => `${t.metric}=${t.value}/${t.threshold}`)).toEqual([
      'memory=1.5Gi/1Gi',
      'cpu=900m/800m',
    ]);
  });

  it('lists targets worst first (Firing, Pending, NoBasis; then breaches, then value/threshold) within the bound', () => {
    const r = rule({ cpu: { kind: 'percent', percent: 50, of: 'limit' }, for: 3 });
    const series: Record<string, number[]> = {
      f1: [600, 600, 600],
      f2: [900, 900, 900],
      p2: [100, 600, 600],
      p1: [100, 100, 700],
      p1b: [100, 100, 550],
      normal: [100, 100, 100],
      nb: [900, 900, 900],
    };
    const cycles = [0, 1, 2].map((i) =>
      Object.entries(series).map(([pod, values]) =>
        sample({ pod, cpuMillicores: values[i], cpuLimitMillicores: pod === 'nb' ? undefined : 1000 }),
      ),
    );
    const state = lastState(runCycles(r, cycles));
    const list = (maxTargets: number) =>
      toStatus(state, r, T0, { maxTargets }).targets.map((t) => `${t.pod}:${t.state}:${t.breaches}`);
    expect(list(10)).toEqual([
      'f2:Firing:3',
      'f1:Firing:3',
      'p2:Pending:2',
      'p1:Pending:1',
      'p1b:Pending:1',
      'nb:NoBasis:0',
    ]);
    expect(list(3)).toEqual(['f2:Firing:3', 'f1:Firing:3', 'p2:Pending:2']);
    expect(toStatus(state, r, T0, LIMITS)).toMatchObject({
      state: 'Firing',
      firingTargets: 2,
      pendingTargets: 3,
      noBasisTargets: 1,
    });
  });

  it('explains what is pending and what cannot be evaluated when nothing fires', () => {
    const steps = runCycles(percentRule, [
      [
        sample({ pod: 'web-1', cpuMillicores: 900, cpuLimitMillicores: 1000 }),
        sample({ pod: 'web-2', cpuMillicores: 900 }),
      ],
    ]);
    const status = toStatus(lastState(steps), percentRule, T0, LIMITS);
    expect(status.state).toBe('Pending');
    expect(status.conditions[0]).toEqual({
      type: 'Firing',
      status: 'False',
      reason: 'NoTargetsFiring',
      message:
        'no target is firing (2 evaluated); 1 pending, worst: web-1/app cpu 900m > 800m (80% of limit 1) for 1 of 3 samples; ' +
        '1 target(s) cannot be evaluated, e.g. web-2/app cpu: no cpu limit to take the percent threshold of',
    });
  });

  it('is Unknown before the first evaluation', () => {
    expect(toStatus(emptyAlertState(), rule(), T0, LIMITS).conditions[0]).toMatchObject({
      status: 'Unknown',
      reason: 'AwaitingSamples',
      message: 'waiting for the first collection cycle of UsagePolicy shop/web',
    });
  });

  it('names another namespace and the mute in the message', () => {
    const r = rule({ for: 1, muteUntil: T0 + 3_600_000 });
    const state = lastState(runCycles(r, [[sample({ namespace: 'staging', cpuMillicores: 900 })]]));
    expect(toStatus(state, r, T0, LIMITS).conditions[0]?.message).toBe(
      'staging/web-7d9f/app cpu 900m > 800m for 1 consecutive samples; notifications muted until 2026-11-21T11:00:00Z',
    );
  });
});

describe('fromStatus', () => {
  it('resumes counting where the status left off, without announcing a firing again', () => {
    const r = rule({ for: 3, recoverAfter: 2 });
    const before = runCycles(r, cpuSeries([900, 900, 900, 900]));
    expect(transitionsAt(before)).toEqual(['fired@2']);
    const resumed = fromStatus(toStatus(lastState(before), r, T0, LIMITS));
    const after = runCycles(r, cpuSeries([900, 500, 500]), resumed, T0 + 4 * INTERVAL);
    expect(transitionsAt(after)).toEqual(['resolved@2']);
    expect(after[2]?.transitions[0]).toMatchObject({ notify: true, firingSince: T0 + 2 * INTERVAL });
  });

  it('continues a pending streak instead of starting from zero', () => {
    const r = rule({ for: 3 });
    const resumed = fromStatus(toStatus(lastState(runCycles(r, cpuSeries([900, 900]))), r, T0, LIMITS));
    const after = evaluate(r, resumed, cycle([sample({ cpuMillicores: 900 })]), T0 + 2 * INTERVAL);
    expect(after.transitions).toEqual([
      expect.objectContaining({ kind: 'fired', breaches: 3, notify: true }),
    ]);
  });

  it('announces after a restart a firing that was muted and is no longer', () => {
    const r = rule({ for: 1, muteUntil: T0 + INTERVAL });
    const resumed = fromStatus(toStatus(lastState(runCycles(r, cpuSeries([900]))), r, T0, LIMITS));
    const after = evaluate(r, resumed, cycle([sample({ cpuMillicores: 900 })]), T0 + INTERVAL);
    expect(after.transitions).toEqual([
      expect.objectContaining({ kind: 'fired', notify: true, delayed: true }),
    ]);
  });

  it('names the field it cannot read', () => {
    const base = {
      namespace: 'shop',
      pod: 'p',
      metric: 'cpu' as const,
      breaches: 1,
      healthy: 0,
      state: 'Pending' as const,
    };
    expect(() => fromStatus({ targets: [{ ...base, since: 'yesterday' }] })).toThrow(
      'status.targets[0].since: not an RFC 3339 time: "yesterday"',
    );
    expect(() => fromStatus({ targets: [{ ...base, since: '2026-11-21T10:00:00Z', breaches: -1 }] })).toThrow(
      'status.targets[0].breaches: not a count: -1',
    );
    expect(() =>
      fromStatus({ targets: [{ ...base, since: '2026-11-21T10:00:00Z', state: 'NoData' }] }),
    ).toThrow('status.targets[0].state: cannot resume from state "NoData"');
    expect(() =>
      fromStatus({ targets: [{ ...base, namespace: undefined, since: '2026-11-21T10:00:00Z' }] }),
    ).toThrow('status.targets[0].namespace: required');
  });
});

describe('notificationsCondition', () => {
  it('is True with the receiver and its last error while a notifier is failing', () => {
    const failure = {
      notifier: 'webhook',
      failing: true,
      failedNotifications: 2,
      lastError: 'fired notification not delivered after 5 attempt(s): HTTP 503',
      lastErrorClass: 'HTTP 503',
      lastFailureTime: T0,
    };
    expect(notificationsCondition([failure])).toEqual({
      type: 'NotificationsFailing',
      status: 'True',
      reason: 'DeliveryFailed',
      message:
        'webhook: 2 notification(s) not delivered, last at 2026-11-21T10:00:00Z: fired notification not delivered after 5 attempt(s): HTTP 503',
    });
    expect(notificationsCondition([{ ...failure, failing: false }])).toMatchObject({
      status: 'False',
      reason: 'Delivered',
    });
  });
});
