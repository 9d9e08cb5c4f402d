import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { MetricsResult } from '../../../operator/sources/metrics-api/metrics-source.js';
import type { PodInfo } from '../../../operator/collector/pod-cache.js';
import { buildCycle, type CycleInput } from '../../../operator/collector/sampler.js';
import { SeriesCursors } from '../../../operator/collector/series-cursors.js';
import { readingsOfNode } from '../../../operator/sources/kubelet/kubelet-readings.js';
import { podLookup } from '../../../operator/sources/pod-lookup.js';
import { parseResourceMetrics } from '../../../operator/sources/kubelet/resource-metrics.js';
import { readingsFromPodMetrics } from '../../../operator/sources/metrics-api/metrics-api-source.js';
import { pod, podMetrics, T0 } from './fixtures.js';

const MiB = 1024 * 1024;

/** Cursors created before the fixtures' pods started (T0 - 1h). */
const cursorsOf = () => new SeriesCursors({ clock: { now: () => T0 - 7_200_000 } });

function input(pods: PodInfo[], metrics: MetricsResult, cursors = cursorsOf()): CycleInput {
  return {
    policy: 'shop/web',
    intervalSeconds: 30,
    now: T0,
    pods,
    batch: metrics.available
      ? {
          source: 'metrics.k8s.io',
          readings: readingsFromPodMetrics(metrics.items, podLookup(pods)).readings,
          unreadableNodes: [],
        }
      : undefined,
    cursors,
  };
}

const limited = {
  cpuRequestMillicores: 250,
  cpuLimitMillicores: 1000,
  memoryRequestBytes: 64 * MiB,
  memoryLimitBytes: 200 * MiB,
};

describe('buildCycle', () => {
  it('turns PodMetrics into samples with usage, percents of request and limit, and uptime', () => {
    const web = pod('web-1', [{ name: 'app', ...limited }]);
    const at = T0 - 5_000;
    const { cycle, counts } = buildCycle(
      input([web], {
        available: true,
        items: [podMetrics(web, at, { app: { cpuNanocores: 500_000_000, memoryBytes: 100 * MiB } })],
      }),
    );

    expect(cycle).toMatchObject({
      policy: 'shop/web',
      time: T0,
      metricsSource: 'metrics.k8s.io',
      podsWithoutMetrics: 0,
    });
    expect(counts).toEqual({ matchedPods: 1, matchedContainers: 1, duplicatePods: 0 });
    expect(cycle.samples).toEqual([
      {
        time: at,
        policy: 'shop/web',
        namespace: 'shop',
        pod: 'web-1',
        container: 'app',
        node: 'node-1',
        labels: [{ k: 'app', v: 'web' }],
        cpuMillicores: 500,
        memoryBytes: 100 * MiB,
        ...limited,
        cpuPercentOfRequest: 200,
        cpuPercentOfLimit: 50,
        memoryPercentOfRequest: 156.25,
        memoryPercentOfLimit: 50,
        uptimeSeconds: 3595,
        // The first window of the series: its 15 s at its rate.
        podUid: 'uid-web-1',
        from: at - 15_000,
        cpuCoreSeconds: 7.5,
        memoryByteSeconds: 100 * MiB * 15,
        containerStartTime: T0 - 3_600_000,
        intervalSeconds: 30,
      },
    ]);
  });

  it('keeps CPU exact to the nanocore', () => {
    const web = pod('web-1', [{ name: 'app' }]);
    const { cycle } = buildCycle(
      input([web], {
        available: true,
        items: [podMetrics(web, T0, { app: { cpuNanocores: 9_559_630, memoryBytes: 22_777_856 } })],
      }),
    );
    expect(cycle.samples[0]?.cpuMillicores).toBe(9.55963);
    expect(cycle.samples[0]?.memoryBytes).toBe(22_777_856);
  });

  it('leaves out percents where the container has no request or limit, or a zero one', () => {
    const web = pod('web-1', [{ name: 'app', cpuRequestMillicores: 0, memoryLimitBytes: 100 * MiB }]);
    const { cycle } = buildCycle(
      input([web], {
        available: true,
        items: [podMetrics(web, T0, { app: { cpuNanocores: 1e9, memoryBytes: 25 * MiB } })],
      }),
    );
    const [sample] = cycle.samples;
    expect(sample?.memoryPercentOfLimit).toBe(25);
    for (const field of ['cpuPercentOfRequest', 'cpuPercentOfLimit', 'memoryPercentOfRequest'] as const) {
      expect(sample).not.toHaveProperty(field);
    }
  });

  it('accounts nothing for a PodMetrics window already sampled (a zero span), and counts it', () => {
    const web = pod('web-1');
    const other = pod('web-2');
    const metrics: MetricsResult = {
      available: true,
      items: [
        podMetrics(web, T0 - 15_000, { c0: { cpuNanocores: 1e8, memoryBytes: 1 } }),
        podMetrics(other, T0 - 15_000, { c0: { cpuNanocores: 2e8, memoryBytes: 2 } }),
      ],
    };
    const cursors = cursorsOf();
    const first = buildCycle(input([web, other], metrics, cursors));
    expect(first.cycle.samples).toHaveLength(2);

    const newer: MetricsResult = {
      available: true,
      items: [metrics.items[0]!, podMetrics(other, T0, { c0: { cpuNanocores: 3e8, memoryBytes: 3 } })],
    };
    const second = buildCycle(input([web, other], newer, cursors));
    expect(second.counts.duplicatePods).toBe(1);
    expect(
      second.cycle.samples.map((s) => [s.pod, s.cpuMillicores, s.from, s.time, s.cpuCoreSeconds]),
    ).toEqual([
      ['web-1', 100, T0 - 15_000, T0 - 15_000, 0],
      ['web-2', 300, T0 - 15_000, T0, 4.5],
    ]);
  });

  it('counts pods without PodMetrics yet and records their uptime only', () => {
    const old = pod('web-1');
    const fresh = pod('web-2', [{ startedAt: T0 - 4_000 }]);
    const pending = pod('web-3', [{ startedAt: undefined }], { phase: 'Pending', node: '' });
    const { cycle, counts } = buildCycle(
      input([old, fresh, pending], {
        available: true,
        items: [podMetrics(old, T0, { c0: { cpuNanocores: 1e6, memoryBytes: 1 } })],
      }),
    );
    expect(cycle.podsWithoutMetrics).toBe(2);
    expect(counts.matchedPods).toBe(3);
    expect(
      cycle.samples.map((s) => [s.pod, s.cpuMillicores, s.memoryBytes, s.uptimeSeconds, s.time]),
    ).toEqual([
      ['web-1', 1, 1, 3600, T0],
      ['web-2', null, null, 4, T0],
    ]);
  });

  it('records uptime only, for every started container, while the metrics API is unavailable', () => {
    const web = pod('web-1', [{ name: 'app', ...limited }, { name: 'sidecar' }]);
    const { cycle } = buildCycle(input([web], { available: false, reason: 'not served' }));
    expect(cycle.metricsSource).toBe('none');
    expect(cycle.podsWithoutMetrics).toBe(0);
    expect(cycle.samples).toHaveLength(2);
    for (const sample of cycle.samples) {
      expect(sample).toMatchObject({ cpuMillicores: null, memoryBytes: null, uptimeSeconds: 3600, time: T0 });
      expect(sample).not.toHaveProperty('cpuPercentOfLimit');
    }
    expect(cycle.samples[0]?.cpuLimitMillicores).toBe(1000);
  });

  it('gives a container missing from its pod metrics an uptime-only sample (a zero span) at the cycle time', () => {
    const web = pod('web-1', [{ name: 'app' }, { name: 'restarting' }]);
    const { cycle } = buildCycle(
      input([web], {
        available: true,
        items: [podMetrics(web, T0 - 1_000, { app: { cpuNanocores: 2e6, memoryBytes: 5 } })],
      }),
    );
    expect(
      cycle.samples.map((s) => [s.container, s.cpuMillicores, s.time, s.from, s.cpuCoreSeconds]),
    ).toEqual([
      ['app', 2, T0 - 1_000, T0 - 16_000, 0.03],
      ['restarting', null, T0, T0, null],
    ]);
  });

  it("records the UID of the pod's namespace on its samples, read and uptime-only alike, when the namespace cache knows it", () => {
    const web = pod('web-1', [{ name: 'app' }]);
    const uids = new Map([['shop', 'ns-uid-2']]);
    const at = T0 - 5_000;
    const read = buildCycle({
      ...input([web], {
        available: true,
        items: [podMetrics(web, at, { app: { cpuNanocores: 1_000_000, memoryBytes: MiB } })],
      }),
      namespaceUid: (name) => uids.get(name),
    });
    const uptimeOnly = buildCycle({
      ...input([web], { available: false, reason: 'not served' }),
      namespaceUid: (name) => uids.get(name),
    });
    expect([...read.cycle.samples, ...uptimeOnly.cycle.samples].map((s) => s.namespaceUid)).toEqual([
      'ns-uid-2',
      'ns-uid-2',
    ]);
    uids.clear();
    expect(
      buildCycle({
        ...input([web], { available: false, reason: 'not served' }),
        namespaceUid: (name) => uids.get(name),
      }).cycle.samples[0],
    ).not.toHaveProperty('namespaceUid');
  });

  it('ignores metrics of pods outside the selection', () => {
    const web = pod('web-1');
    const { cycle, counts } = buildCycle(
      input([web], {
        available: true,
        items: [
          podMetrics(web, T0, { c0: { cpuNanocores: 1e6, memoryBytes: 1 } }),
          podMetrics({ namespace: 'shop', name: 'not-selected' }, T0, {
            c0: { cpuNanocores: 1e6, memoryBytes: 1 },
          }),
          podMetrics({ namespace: 'other', name: 'web-1' }, T0, {
            c0: { cpuNanocores: 1e6, memoryBytes: 1 },
          }),
        ],
      }),
    );
    expect(counts.matchedPods).toBe(1);
    expect(cycle.samples.map((s) => `${s.namespace}/${s.pod}`)).toEqual(['shop/web-1']);
  });

  it('keeps the series across a gap and accounts a window seen again as nothing', () => {
    const web = pod('web-1');
    const item = podMetrics(web, T0 - 10_000, { c0: { cpuNanocores: 1e6, memoryBytes: 1 } });
    const cursors = cursorsOf();
    buildCycle(input([web], { available: true, items: [item] }, cursors));
    const gap = buildCycle(input([web], { available: true, items: [] }, cursors));
    expect(gap.cycle.samples.map((s) => [s.cpuCoreSeconds, s.from === s.time])).toEqual([[null, true]]);
    const again = buildCycle(input([web], { available: true, items: [item] }, cursors));
    expect(again.counts.duplicatePods).toBe(1);
    expect(again.cycle.samples.map((s) => [s.cpuCoreSeconds, s.from === s.time])).toEqual([[0, true]]);
  });

  it('treats a pod re-created under the same name as a new series', () => {
    const web = pod('web-1');
    const item = podMetrics(web, T0, { c0: { cpuNanocores: 1e6, memoryBytes: 1 } });
    const cursors = cursorsOf();
    buildCycle(input([web], { available: true, items: [item] }, cursors));
    const recreated = { ...web, uid: 'uid-web-1-new' };
    const second = buildCycle(input([recreated], { available: true, items: [item] }, cursors));
    expect(second.cycle.samples.map((s) => [s.podUid, s.time - s.from!])).toEqual([
      ['uid-web-1-new', 15_000],
    ]);
  });

  it('bills an init container from the kubelet like any container while it runs, with its type', () => {
    // A Job's pod in its init phase: `migrate` runs (0.5 cores since T0 - 60 s), `app` waits.
    const job = pod(
      'job-1',
      [
        { name: 'migrate', type: 'init', startedAt: T0 - 60_000, cpuRequestMillicores: 2000 },
        { name: 'app', startedAt: undefined },
      ],
      { startTime: T0 - 60_000 },
    );
    /** What a kubelet's /metrics/resource says at `time`: every running container of the pod. */
    const scrape = (time: number, coreSeconds: number) =>
      [
        '# TYPE container_cpu_usage_seconds_total counter',
        `container_cpu_usage_seconds_total{container="migrate",namespace="shop",pod="job-1"} ${coreSeconds} ${time}`,
        '# TYPE container_memory_working_set_bytes gauge',
        `container_memory_working_set_bytes{container="migrate",namespace="shop",pod="job-1"} ${64 * MiB} ${time}`,
        '# TYPE container_start_time_seconds gauge',
        `container_start_time_seconds{container="migrate",namespace="shop",pod="job-1"} ${(T0 - 60_000) / 1000} ${time}`,
      ].join('\n');
    const cursors = cursorsOf();
    const cycleAt = (time: number, coreSeconds: number) =>
      buildCycle({
        ...input([job], { available: false, reason: 'kubelet source' }, cursors),
        now: time,
        batch: {
          source: 'kubelet',
          readings: readingsOfNode(
            'node-1',
            parseResourceMetrics(scrape(time, coreSeconds), time).containers,
            podLookup([job]),
          ).readings,
          unreadableNodes: [],
        },
      });
    const first = cycleAt(T0, 30);
    const second = cycleAt(T0 + 30_000, 45);
    for (const { cycle, counts } of [first, second]) {
      expect(counts.matchedContainers).toBe(2);
      expect(cycle.samples).toHaveLength(1);
    }
    // From its start (it started after collection began), then the counter's difference.
    expect(first.cycle.samples[0]).toMatchObject({
      container: 'migrate',
      containerType: 'init',
      from: T0 - 60_000,
      time: T0,
      cpuCoreSeconds: 30,
      memoryByteSeconds: 64 * MiB * 60,
      cpuRequestMillicores: 2000,
    });
    // Its rate comes from two readings: none on the first, 500m (25% of its request) on the second.
    expect(first.cycle.samples[0]?.cpuMillicores).toBeNull();
    expect(second.cycle.samples[0]).toMatchObject({
      containerType: 'init',
      from: T0,
      time: T0 + 30_000,
      cpuCoreSeconds: 15,
      cpuMillicores: 500,
      cpuPercentOfRequest: 25,
    });
  });

  it('never accounts for a span twice, whatever the order of answers (property)', () => {
    const web = pod('web-1', [{ name: 'app' }]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 30 }), (windows) => {
        const cursors = cursorsOf();
        let covered = -Infinity;
        for (const w of windows) {
          const at = T0 + w * 15_000;
          const out = buildCycle(
            input(
              [web],
              { available: true, items: [podMetrics(web, at, { app: { cpuNanocores: w, memoryBytes: w } })] },
              cursors,
            ),
          );
          for (const s of out.cycle.samples) {
            if (s.from === s.time) {
              expect(s.cpuCoreSeconds).toBe(0);
              continue;
            }
            // Spans follow each other: none starts before the previous one ended.
            expect(s.from!).toBeGreaterThanOrEqual(covered);
            covered = s.time;
          }
        }
        expect(covered).toBe(T0 + Math.max(...windows) * 15_000);
      }),
    );
  });
});
