import { describe, expect, it } from '@jest/globals';
import type { MetricsScope, MetricsSource } from '../../../../operator/sources/metrics-api/metrics-source.js';
import {
  MetricsApiReadingSource,
  MetricsApiUnavailableError,
  readingsFromPodMetrics,
} from '../../../../operator/sources/metrics-api/metrics-api-source.js';
import type { PodMetricsItem } from '../../../../operator/sources/metrics-api/pod-metrics.js';
import { podLookup } from '../../../../operator/sources/pod-lookup.js';

const T = Date.UTC(2026, 11, 2, 1, 0, 15);
const pods = podLookup([
  { namespace: 'shop', name: 'web-1', uid: 'u1', node: 'n1' },
  { namespace: 'shop', name: 'web-2', uid: 'u2', node: 'n2' },
]);

const items: PodMetricsItem[] = [
  {
    namespace: 'shop',
    name: 'web-2',
    timestamp: T,
    windowSeconds: 15.011,
    containers: [
      { name: 'app', cpuNanocores: 750_000_000, memoryBytes: 384 * 2 ** 20 },
      { name: 'proxy', cpuNanocores: 9_559_630, memoryBytes: 22_244 * 1024 },
    ],
  },
  {
    namespace: 'other',
    name: 'x',
    timestamp: T,
    windowSeconds: 15,
    containers: [{ name: 'c', cpuNanocores: 1, memoryBytes: 1 }],
  },
];

describe('readingsFromPodMetrics', () => {
  it('turns PodMetrics into rate readings over their window and working-set gauges', () => {
    expect(readingsFromPodMetrics(items, pods)).toEqual({
      readings: [
        {
          namespace: 'shop',
          pod: 'web-2',
          podUid: 'u2',
          container: 'app',
          node: 'n2',
          cpu: { kind: 'rate', cores: 0.75, time: T, windowMs: 15_011 },
          memoryWorkingSetBytes: { value: 384 * 2 ** 20, time: T },
        },
        {
          namespace: 'shop',
          pod: 'web-2',
          podUid: 'u2',
          container: 'proxy',
          node: 'n2',
          cpu: { kind: 'rate', cores: 0.00955963, time: T, windowMs: 15_011 },
          memoryWorkingSetBytes: { value: 22_244 * 1024, time: T },
        },
      ],
      unmatched: 1,
    });
  });
});

describe('MetricsApiReadingSource', () => {
  it('reads through the metrics source, and says when the API is not served', async () => {
    let available = true;
    const metrics: MetricsSource = {
      listPodMetrics: async (scope) => {
        expect(scope).toEqual({ namespace: 'shop' });
        return available
          ? { available: true, items }
          : { available: false, reason: 'metrics.k8s.io/v1beta1 is not served (404)' };
      },
    };
    const source = new MetricsApiReadingSource(metrics);
    const batch = await source.read({ pods, namespaces: ['shop'] });
    expect(batch).toMatchObject({ source: 'metrics.k8s.io', unreadableNodes: [], unmatched: 1 });
    expect(batch.readings).toHaveLength(2);
    available = false;
    await expect(source.read({ pods, namespaces: ['shop'] })).rejects.toThrow(MetricsApiUnavailableError);
  });

  it('lists a few namespaces one call each and more in one cluster-wide call; one unserved list makes the read fail', async () => {
    const calls: MetricsScope[] = [];
    const unserved = new Set<string>();
    const metrics: MetricsSource = {
      listPodMetrics: async (scope) => {
        calls.push(scope);
        if (unserved.has(scope.namespace ?? ''))
          return { available: false, reason: `not served for ${scope.namespace}` };
        const listed = items.filter((i) => scope.namespace === undefined || i.namespace === scope.namespace);
        return { available: true, items: listed };
      },
    };
    const source = new MetricsApiReadingSource(metrics, { maxNamespacedLists: 2 });
    const both = await source.read({ pods, namespaces: ['shop', 'other'], labelSelector: 'app=web' });
    expect(calls).toEqual([
      { namespace: 'shop', labelSelector: 'app=web' },
      { namespace: 'other', labelSelector: 'app=web' },
    ]);
    expect(both.readings.map((r) => `${r.pod}/${r.container}`)).toEqual(['web-2/app', 'web-2/proxy']);
    expect(both.unmatched).toBe(1);

    calls.length = 0;
    await source.read({ pods, namespaces: ['shop', 'other', 'third'] });
    expect(calls).toEqual([{ labelSelector: undefined }]);

    calls.length = 0;
    expect(await source.read({ pods, namespaces: [] })).toMatchObject({ readings: [], unmatched: 0 });
    expect(calls).toEqual([]);

    unserved.add('other');
    await expect(source.read({ pods, namespaces: ['shop', 'other'] })).rejects.toThrow(
      new MetricsApiUnavailableError('not served for other'),
    );
  });
});
