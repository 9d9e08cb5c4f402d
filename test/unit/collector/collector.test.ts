import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  labelSelectorQuery,
  PolicyCollector,
  selectedAfter,
  selectPods,
  type CollectionTarget,
  type CycleSink,
} from '../../../operator/collector/collector.js';
import type {
  MetricsResult,
  MetricsScope,
  MetricsSource,
} from '../../../operator/sources/metrics-api/metrics-source.js';
import type { PodInfo, PodLister } from '../../../operator/collector/pod-cache.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import type { CollectionCycle } from '../../../operator/model.js';
import { FakeTimers } from '../runtime/fake-timers.js';
import { captureLogger, type LogLine } from '../../harness/capture-logger.js';
import { pod, podMetrics } from './fixtures.js';

/** A metrics API answering from what the test sets, recording every call. */
class FakeMetricsSource implements MetricsSource {
  readonly calls: MetricsScope[] = [];
  usage = new Map<string, number>(); // pod name -> nanocores
  timestamp = 0;
  state: 'up' | 'missing' | 'forbidden' = 'up';

  constructor(private readonly pods: () => PodInfo[]) {}

  async listPodMetrics(scope: MetricsScope): Promise<MetricsResult> {
    this.calls.push(scope);
    if (this.state === 'missing')
      return { available: false, reason: 'metrics.k8s.io/v1beta1 is not served (404)' };
    if (this.state === 'forbidden') throw new Error('pods.metrics.k8s.io is forbidden');
    const items = this.pods()
      .filter(
        (p) => (scope.namespace === undefined || p.namespace === scope.namespace) && this.usage.has(p.name),
      )
      .map((p) =>
        podMetrics(p, this.timestamp, {
          c0: { cpuNanocores: this.usage.get(p.name) ?? 0, memoryBytes: 1024 },
        }),
      );
    return { available: true, items };
  }
}

class FakePodLister implements PodLister {
  constructor(public pods: PodInfo[]) {}
  list(namespace?: string): PodInfo[] {
    return this.pods.filter((p) => namespace === undefined || p.namespace === namespace);
  }
}

class RecordingSink implements CycleSink {
  readonly cycles: CollectionCycle[] = [];
  failWith?: Error;
  onCycle(cycle: CollectionCycle): void {
    if (this.failWith) throw this.failWith;
    this.cycles.push(cycle);
  }
}

const target: CollectionTarget = {
  policy: 'shop/web',
  intervalSeconds: 30,
  namespaces: ['shop'],
  selector: { matchLabels: { app: 'web' } },
};

describe('PolicyCollector', () => {
  let timers: FakeTimers;
  let lister: FakePodLister;
  let source: FakeMetricsSource;
  let sink: RecordingSink;
  let lines: LogLine[];
  let metrics: OperatorMetrics;
  let collector: PolicyCollector;

  /** One cycle 15 s after the previous one, with a fresh metrics window. */
  async function cycle(): Promise<NonNullable<Awaited<ReturnType<PolicyCollector['collect']>>>> {
    await timers.advance(15_000);
    source.timestamp = timers.now() - 1_000;
    const state = await collector.collect(target);
    if (!state) throw new Error('no state after a cycle');
    return state;
  }

  const degradation = (l: LogLine) =>
    l.level === 'warn' || (l.level === 'info' && l.message.includes('again'));

  beforeEach(() => {
    timers = new FakeTimers();
    lister = new FakePodLister([
      pod('web-1', [{ cpuLimitMillicores: 1000 }]),
      pod('web-2', [{ cpuLimitMillicores: 1000 }]),
      pod('db-1', [{}], { labels: { app: 'db' } }),
      pod('web-x', [{}], { namespace: 'other' }),
    ]);
    source = new FakeMetricsSource(() => lister.pods);
    source.usage = new Map([
      ['web-1', 500_000_000],
      ['web-2', 250_000_000],
      ['db-1', 1e9],
      ['web-x', 1e9],
    ]);
    sink = new RecordingSink();
    metrics = new OperatorMetrics();
    const captured = captureLogger();
    lines = captured.lines;
    collector = new PolicyCollector({
      source,
      pods: lister,
      sinks: [sink],
      clock: timers,
      logger: captured.logger,
      metrics,
      skippedCycles: (policy) => (policy === 'shop/web' ? 4 : 0),
    });
  });

  it('samples the selected pods at their usage, with % of limit, and follows usage changes', async () => {
    const state = await cycle();
    const [first] = sink.cycles;
    expect(first?.samples.map((s) => [s.pod, s.cpuMillicores, s.cpuPercentOfLimit])).toEqual([
      ['web-1', 500, 50],
      ['web-2', 250, 25],
    ]);
    expect(state).toEqual({
      metricsSource: 'metrics.k8s.io',
      lastCollectionTime: timers.now(),
      matchedPods: 2,
      matchedContainers: 2,
      podsWithoutMetrics: 0,
      duplicatePods: 0,
      skippedCycles: 4,
    });

    source.usage.set('web-1', 900_000_000);
    await cycle();
    expect(sink.cycles[1]?.samples.find((s) => s.pod === 'web-1')?.cpuPercentOfLimit).toBe(90);
    const { values } = await metrics.samplesCollected.get();
    expect(values).toEqual([{ labels: { policy: 'shop/web', source: 'metrics.k8s.io' }, value: 4 }]);
  });

  it('lists one namespace per call with the selector pushed down, or cluster-wide for many namespaces', async () => {
    await collector.collect({ ...target, namespaces: ['shop', 'other'] });
    expect(source.calls).toEqual([
      { namespace: 'shop', labelSelector: 'app=web' },
      { namespace: 'other', labelSelector: 'app=web' },
    ]);
    expect(sink.cycles[0]?.samples.map((s) => s.pod)).toEqual(['web-1', 'web-2', 'web-x']);

    source.calls.length = 0;
    await collector.collect({ ...target, namespaces: ['a', 'b', 'c', 'shop'] });
    const everything = await collector.collect({ ...target, namespaces: undefined, selector: {} });
    expect(source.calls).toEqual([{ labelSelector: 'app=web' }, { labelSelector: undefined }]);
    expect(everything?.matchedPods).toBe(4);
  });

  it('counts new pods without metrics instead of failing', async () => {
    source.usage.delete('web-2');
    const state = await cycle();
    expect(state.podsWithoutMetrics).toBe(1);
    expect(state.degraded).toBeUndefined();
    expect(lines.filter(degradation)).toEqual([]);
  });

  it('does not account for the same metrics window twice, but still shows the current values', async () => {
    await cycle();
    await collector.collect(target); // metrics-server answers the same window again
    expect(
      sink.cycles[1]?.samples.map((s) => [s.pod, s.cpuMillicores, s.from === s.time, s.cpuCoreSeconds]),
    ).toEqual([
      ['web-1', 500, true, 0],
      ['web-2', 250, true, 0],
    ]);
    expect(collector.state('shop/web')?.duplicatePods).toBe(2);
  });

  it('records uptime only while the metrics API is gone, logging once per change, and recovers', async () => {
    await cycle();
    source.state = 'missing';
    const degraded = await cycle();
    await cycle();
    await cycle();
    expect(degraded).toMatchObject({
      metricsSource: 'none',
      degraded: { reason: 'MetricsAPIUnavailable', message: 'metrics.k8s.io/v1beta1 is not served (404)' },
    });
    expect(sink.cycles[1]?.samples.map((s) => [s.pod, s.cpuMillicores, s.uptimeSeconds])).toEqual([
      ['web-1', null, 3630],
      ['web-2', null, 3630],
    ]);

    source.state = 'up';
    const recovered = await cycle();
    await cycle();
    expect(recovered.metricsSource).toBe('metrics.k8s.io');
    expect(recovered).not.toHaveProperty('degraded');
    expect(sink.cycles.at(-1)?.samples[0]?.cpuMillicores).toBe(500);
    expect(lines.filter(degradation)).toEqual([
      expect.objectContaining({
        level: 'warn',
        namespace: 'shop',
        name: 'web',
        reason: 'MetricsAPIUnavailable',
      }),
      expect.objectContaining({
        level: 'info',
        namespace: 'shop',
        name: 'web',
        previousReason: 'MetricsAPIUnavailable',
      }),
    ]);
  });

  it('reports a failing list in the state without throwing', async () => {
    source.state = 'forbidden';
    const state = await cycle();
    await cycle();
    expect(state.degraded).toEqual({
      reason: 'MetricsListFailed',
      message: "listing shop/web's pod metrics failed: pods.metrics.k8s.io is forbidden",
    });
    expect(sink.cycles).toHaveLength(2);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('keeps delivering to the other sinks when one fails, logging failure and recovery once', async () => {
    const broken = new RecordingSink();
    broken.failWith = new Error('store unavailable');
    const captured = captureLogger();
    collector = new PolicyCollector({
      source,
      pods: lister,
      sinks: [broken, sink],
      clock: timers,
      logger: captured.logger,
      metrics,
    });
    const state = await cycle();
    await cycle();
    expect(state.sinkError).toBe('store unavailable');
    expect(sink.cycles).toHaveLength(2);
    broken.failWith = undefined;
    expect((await cycle()).sinkError).toBeUndefined();
    // Beside the debug line of every cycle.
    const lines = captured.lines.filter((l) => l.message !== 'collection cycle');
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['error', 'cycle sink failed'],
      ['info', 'cycle sink recovered'],
    ]);
  });

  it('delivers nothing for a cycle aborted while listing', async () => {
    const controller = new AbortController();
    const slow: MetricsSource = {
      listPodMetrics: async () => {
        controller.abort();
        throw new Error('aborted');
      },
    };
    collector = new PolicyCollector({
      source: slow,
      pods: lister,
      sinks: [sink],
      clock: timers,
      logger: captureLogger().logger,
      metrics,
    });
    expect(await collector.collect(target, controller.signal)).toBeUndefined();
    expect(sink.cycles).toEqual([]);
  });

  it('forgets a deleted policy', async () => {
    await cycle();
    collector.forget('shop/web');
    expect(collector.state('shop/web')).toBeUndefined();
  });
});

describe('selectPods', () => {
  it('takes the pods of the target namespaces that match the selector and have not finished', () => {
    const lister = new FakePodLister([
      pod('web-1'),
      pod('web-done', [{}], { phase: 'Succeeded' }),
      pod('web-failed', [{}], { phase: 'Failed' }),
      pod('web-new', [{}], { phase: 'Pending' }),
      pod('db-1', [{}], { labels: { app: 'db' } }),
      pod('web-x', [{}], { namespace: 'other' }),
      pod('web-y', [{}], { namespace: 'third' }),
    ]);
    const names = (namespaces?: string[]) =>
      selectPods(lister, { ...target, namespaces }).map((p) => `${p.namespace}/${p.name}`);
    expect(names(['shop'])).toEqual(['shop/web-1', 'shop/web-new']);
    expect(names(['shop', 'other'])).toEqual(['shop/web-1', 'shop/web-new', 'other/web-x']);
    expect(names(undefined)).toEqual(['shop/web-1', 'shop/web-new', 'other/web-x', 'third/web-y']);
    expect(names([])).toEqual([]);
  });
});

describe('labelSelectorQuery', () => {
  it('writes a selector in the API query form', () => {
    expect(
      labelSelectorQuery({
        matchLabels: { app: 'web', 'app.kubernetes.io/part-of': 'shop' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a', 'b'] },
          { key: 'env', operator: 'NotIn', values: ['dev'] },
          { key: 'team', operator: 'Exists' },
          { key: 'canary', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('app=web,app.kubernetes.io/part-of=shop,tier in (a,b),env notin (dev),team,!canary');
    expect(labelSelectorQuery({})).toBeUndefined();
  });
});

describe('selectedAfter', () => {
  const web = (seenAt?: number): PodInfo => ({
    ...pod('web-1', [{ name: 'app' }]),
    ...(seenAt !== undefined && { seenAt }),
  });

  it('is the policy creation before its first listing, and its previous listing for a pod the cache held then', () => {
    expect(selectedAfter(web(500), 100, undefined)).toBe(100);
    expect(selectedAfter(web(500), 100, 800)).toBe(800);
    expect(selectedAfter(web(500), undefined, 800)).toBe(800);
  });

  it('is the policy creation for a pod the cache first held after the previous listing (not known to it)', () => {
    expect(selectedAfter(web(900), 100, 800)).toBe(100);
    expect(selectedAfter(web(900), undefined, 800)).toBe(-Infinity);
  });
});
