import { describe, expect, it } from '@jest/globals';
import type { MetricsSource, PodMetricsItem } from '../../../operator/sources/metrics-api/pod-metrics.js';
import { podLookup, readingsOfNode } from '../../../operator/sources/kubelet/kubelet-readings.js';
import {
  MetricsApiReadingSource,
  MetricsApiUnavailableError,
  readingsFromPodMetrics,
} from '../../../operator/sources/metrics-api/metrics-api-source.js';

const T = Date.UTC(2026, 11, 2, 1, 0, 15);
const pods = podLookup([
  { namespace: 'shop', name: 'web-1', uid: 'u1', node: 'n1' },
  { namespace: 'shop', name: 'web-2', uid: 'u2', node: 'n2' },
]);

describe('readingsOfNode', () => {
  it('keeps a Unix start time and drops one that is not (kwok writes the pod age)', () => {
    const { readings } = readingsOfNode(
      'n1',
      [
        {
          namespace: 'shop',
          pod: 'web-1',
          container: 'a',
          cpu: { coreSecondsTotal: 1, time: T },
          startTime: 1_764_600_000_250,
        },
        {
          namespace: 'shop',
          pod: 'web-1',
          container: 'b',
          cpu: { coreSecondsTotal: 1, time: T },
          startTime: 42_918.3,
        },
      ],
      pods,
    );
    expect(readings.map((r) => [r.container, r.startTime])).toEqual([
      ['a', 1_764_600_000_250],
      ['b', undefined],
    ]);
  });

  it('leaves out containers with neither CPU nor memory, unknown pods and pods the cache has elsewhere', () => {
    const result = readingsOfNode(
      'n1',
      [
        { namespace: 'shop', pod: 'web-1', container: 'only-start', startTime: 1_764_600_000_000 },
        { namespace: 'shop', pod: 'nope', container: 'a', memoryWorkingSet: { bytes: 1, time: T } },
        { namespace: 'shop', pod: 'web-2', container: 'a', memoryWorkingSet: { bytes: 1, time: T } },
        { namespace: 'shop', pod: 'web-1', container: 'a', memoryWorkingSet: { bytes: 7, time: T } },
      ],
      pods,
    );
    expect(result).toEqual({
      readings: [
        {
          namespace: 'shop',
          pod: 'web-1',
          podUid: 'u1',
          container: 'a',
          node: 'n1',
          memoryWorkingSetBytes: { value: 7, time: T },
        },
      ],
      unmatched: 2,
    });
  });
});

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
    const batch = await source.read({ pods, scope: { namespace: 'shop' } });
    expect(batch).toMatchObject({ source: 'metrics.k8s.io', unreadableNodes: [], unmatched: 1 });
    expect(batch.readings).toHaveLength(2);
    available = false;
    await expect(source.read({ pods, scope: { namespace: 'shop' } })).rejects.toThrow(
      MetricsApiUnavailableError,
    );
  });
});
