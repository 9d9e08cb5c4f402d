import { describe, expect, it } from '@jest/globals';
import type { PodInfo } from '../../../operator/collector/pod-cache.js';
import { DEFAULT_PRICES, Recommender } from '../../../operator/recommend/recommender.js';
import { WorkloadResolver, ownerLookupOf } from '../../../operator/recommend/workloads.js';
import {
  BucketHistograms,
  bucketIndexOf,
  CPU_SCALE,
  MEMORY_SCALE,
} from '../../../operator/store/histograms.js';
import type { DistributionQuery, SeriesDistribution } from '../../../operator/store/types.js';

const DAY = 86_400_000;
const T = 100 * DAY;
const MIB = 2 ** 20;

/** A series measured whole days at one CPU rate and one memory peak per day. */
function series(
  pod: string,
  container: string,
  millicores: number,
  peakBytes: number,
  days = 2,
): SeriesDistribution {
  const histograms = new BucketHistograms();
  histograms.addPiece(
    { cpu: bucketIndexOf(CPU_SCALE, millicores), memory: bucketIndexOf(MEMORY_SCALE, peakBytes) },
    days * DAY,
  );
  return {
    series: `${pod}-uid/${container}`,
    namespace: 'shop',
    pod,
    container,
    samples: days * 2880,
    measuredMs: days * DAY,
    histograms,
    intervals: Array.from({ length: days }, (_, d) => ({
      start: T - (days - d) * DAY,
      end: T - (days - d - 1) * DAY,
      measuredMs: DAY,
      memoryPeak: peakBytes,
      cpuPeak: millicores,
    })),
  };
}

function pod(name: string, owner: PodInfo['owner'], containers: PodInfo['containers']): PodInfo {
  return {
    namespace: 'shop',
    name,
    uid: `${name}-uid`,
    node: 'n',
    labels: {},
    phase: 'Running',
    startTime: T - DAY,
    containers,
    ...(owner && { owner }),
  };
}

describe('WorkloadResolver', () => {
  const resolver = new WorkloadResolver({
    owners: new Map([
      ['ReplicaSet/web-7d9f8c6b5', { kind: 'Deployment', name: 'web' }],
      ['ReplicaSet/orphan-rs', undefined],
      ['Job/report-29000000', { kind: 'CronJob', name: 'report' }],
      ['Job/migrate', undefined],
    ]),
  });
  resolver.learn({ kind: 'StatefulSet', name: 'db' });
  resolver.learn({ kind: 'DaemonSet', name: 'agent' });

  it('follows a ReplicaSet to its Deployment and a Job to its CronJob, else the controller itself', () => {
    expect(resolver.ofOwner('web-7d9f8c6b5-x2x4z', { kind: 'ReplicaSet', name: 'web-7d9f8c6b5' })).toEqual({
      kind: 'Deployment',
      name: 'web',
    });
    expect(resolver.ofOwner('report-29000000-abcde', { kind: 'Job', name: 'report-29000000' })).toEqual({
      kind: 'CronJob',
      name: 'report',
    });
    expect(resolver.ofOwner('orphan-rs-bcdfg', { kind: 'ReplicaSet', name: 'orphan-rs' })).toEqual({
      kind: 'ReplicaSet',
      name: 'orphan-rs',
    });
    expect(resolver.ofOwner('db-0', { kind: 'StatefulSet', name: 'db' })).toEqual({
      kind: 'StatefulSet',
      name: 'db',
    });
    expect(resolver.ofOwner('lonely', undefined)).toEqual({ kind: 'Pod', name: 'lonely' });
  });

  it('matches pods that are gone by name: generated suffixes and ordinals only', () => {
    expect(resolver.ofName('web-7d9f8c6b5-q9x2m')).toEqual({ kind: 'Deployment', name: 'web' });
    expect(resolver.ofName('db-12')).toEqual({ kind: 'StatefulSet', name: 'db' });
    expect(resolver.ofName('agent-zx8kp')).toEqual({ kind: 'DaemonSet', name: 'agent' });
    expect(resolver.ofName('migrate-bbbbb')).toEqual({ kind: 'Job', name: 'migrate' });
    // Not a generated suffix (vowels, wrong length), not an ordinal: the pod itself.
    expect(resolver.ofName('web-7d9f8c6b5-aeiou')).toEqual({ kind: 'Pod', name: 'web-7d9f8c6b5-aeiou' });
    expect(resolver.ofName('db-x')).toEqual({ kind: 'Pod', name: 'db-x' });
  });
});

describe('Recommender', () => {
  const rs = { kind: 'ReplicaSet', name: 'web-7d9f8c6b5' };
  const pods = [
    pod('web-7d9f8c6b5-x2x4z', rs, [
      { name: 'proxy', type: 'sidecar', cpuRequestMillicores: 100, memoryRequestBytes: 64 * MIB },
      {
        name: 'app',
        cpuRequestMillicores: 500,
        cpuLimitMillicores: 1000,
        memoryRequestBytes: 512 * MIB,
        memoryLimitBytes: 512 * MIB,
      },
    ]),
  ];
  const distributions: SeriesDistribution[] = [
    series('web-7d9f8c6b5-x2x4z', 'app', 200.5, 300 * MIB),
    series('web-7d9f8c6b5-x2x4z', 'proxy', 20.5, 40 * MIB),
    // A replica replaced earlier: its history counts for the Deployment.
    series('web-7d9f8c6b5-q9x2m', 'app', 200.5, 300 * MIB),
    series('batch-1', 'main', 1000.5, 1024 * MIB, 1),
  ];
  let asked: DistributionQuery | undefined;
  const recommender = new Recommender({
    queries: {
      distributions: async (q) => {
        asked = q;
        return distributions;
      },
    },
    pods: { list: () => pods },
    owners: ownerLookupOf({
      list: async () => [
        { kind: 'ReplicaSet', name: 'web-7d9f8c6b5', owner: { kind: 'Deployment', name: 'web' } },
      ],
    }),
    prices: DEFAULT_PRICES,
  });

  it('groups pods by workload and keeps containers apart, with requests, differences and costs', async () => {
    const items = await recommender.recommend({
      namespace: 'shop',
      from: T - 8 * DAY,
      to: T,
      strategy: 'vpa',
    });
    expect(asked).toEqual({ namespace: 'shop', from: T - 8 * DAY, to: T });
    expect(items.map((i) => [i.workload.kind, i.workload.name, i.container, i.containerType])).toEqual([
      ['Deployment', 'web', 'app', 'container'],
      ['Deployment', 'web', 'proxy', 'sidecar'],
      ['Pod', 'batch-1', 'main', 'container'],
    ]);
    const app = items[0]!;
    // Two pods of two days each over the same two days: 2 days covered, 4 container-days.
    expect(app.history).toEqual({
      seconds: 2 * 86_400,
      samples: 4 * 2880,
      containerSeconds: 4 * 86_400,
      pods: 2,
    });
    expect(app.confidence).toBe(1);
    expect(app.cpu.request).toBe(0.5);
    expect(app.cpu.limit).toBe(1);
    expect(app.memory.request).toBe(512 * MIB);
    // 200.5m is in bucket [195.9, 215.7): target 215.7 x 1.15 = 248.0.., rounded up to 249m.
    expect(app.cpu.target).toBe(0.249);
    expect(app.cpu.difference).toBeCloseTo(0.249 - 0.5, 12);
    expect(app.memory.difference).toBe(app.memory.target - 512 * MIB);
    const current = 0.5 * 0.031611 + 0.5 * 0.004237;
    const recommended = 0.249 * 0.031611 + (app.memory.target / 2 ** 30) * 0.004237;
    expect(app.cost.currentPerHour).toBeCloseTo(current, 12);
    expect(app.cost.recommendedPerHour).toBeCloseTo(recommended, 12);
    expect(app.cost.differencePerHour).toBeCloseTo(recommended - current, 12);
    expect(app.cost.replicas).toBe(1);
    const batch = items[2]!;
    expect(batch.cpu.request).toBeNull();
    expect(batch.cpu.difference).toBeNull();
    expect(batch.confidence).toBe(1);
    expect(batch.cost.replicas).toBe(0);
  });

  it('filters by workload, and bumps memory after an OOM kill at the limit', async () => {
    const oomPods = [
      {
        ...pods[0]!,
        containers: pods[0]!.containers.map((c) =>
          c.name === 'app' ? { ...c, lastTermination: { reason: 'OOMKilled' } } : c,
        ),
      },
    ];
    const oom = new Recommender({
      queries: { distributions: async () => distributions },
      pods: { list: () => oomPods },
      owners: ownerLookupOf({
        list: async () => [
          { kind: 'ReplicaSet', name: 'web-7d9f8c6b5', owner: { kind: 'Deployment', name: 'web' } },
        ],
      }),
      prices: DEFAULT_PRICES,
    });
    const items = await oom.recommend({
      namespace: 'shop',
      from: T - 8 * DAY,
      to: T,
      strategy: 'vpa',
      workload: { kind: 'Deployment', name: 'web' },
    });
    const app = items.find((i) => i.container === 'app')!;
    expect(items.map((i) => i.container)).toEqual(['app', 'proxy']);
    expect(app.oom).toMatchObject({
      usedBytes: 512 * MIB,
      bumpBytes: 512 * MIB * 1.2,
      pods: [{ name: 'web-7d9f8c6b5-x2x4z', uid: 'web-7d9f8c6b5-x2x4z-uid' }],
    });
    // What the history alone recommends: the daily peaks of 300 MiB, their bucket end + 15%.
    const plain = await recommender.recommend({
      namespace: 'shop',
      from: T - 8 * DAY,
      to: T,
      strategy: 'vpa',
    });
    expect(app.oom?.targetWithoutKill).toBe(plain[0]!.memory.target);
    expect(app.memory.target).toBeGreaterThanOrEqual(512 * MIB * 1.2);
  });
});
