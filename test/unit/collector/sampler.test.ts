import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { MetricsResult } from '../../../operator/collector/metrics-source.js';
import type { PodInfo } from '../../../operator/collector/pod-cache.js';
import { buildCycle, type CycleInput } from '../../../operator/collector/sampler.js';
import { pod, podMetrics, T0 } from './fixtures.js';

const MiB = 1024 * 1024;

function input(pods: PodInfo[], metrics: MetricsResult, lastSeen = new Map<string, number>()): CycleInput {
  return { policy: 'shop/web', intervalSeconds: 30, now: T0, pods, metrics, lastSeen };
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

  it('produces no new samples for a PodMetrics window already sampled, and counts it', () => {
    const web = pod('web-1');
    const other = pod('web-2');
    const metrics: MetricsResult = {
      available: true,
      items: [
        podMetrics(web, T0 - 15_000, { c0: { cpuNanocores: 1e8, memoryBytes: 1 } }),
        podMetrics(other, T0 - 15_000, { c0: { cpuNanocores: 2e8, memoryBytes: 2 } }),
      ],
    };
    const first = buildCycle(input([web, other], metrics));
    expect(first.cycle.samples).toHaveLength(2);

    const newer: MetricsResult = {
      available: true,
      items: [metrics.items[0]!, podMetrics(other, T0, { c0: { cpuNanocores: 3e8, memoryBytes: 3 } })],
    };
    const second = buildCycle(input([web, other], newer, first.lastSeen));
    expect(second.counts.duplicatePods).toBe(1);
    expect(second.cycle.samples.map((s) => [s.pod, s.cpuMillicores])).toEqual([['web-2', 300]]);
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

  it('gives a container missing from its pod metrics an uptime-only sample at the metrics time', () => {
    const web = pod('web-1', [{ name: 'app' }, { name: 'restarting' }]);
    const { cycle } = buildCycle(
      input([web], {
        available: true,
        items: [podMetrics(web, T0 - 1_000, { app: { cpuNanocores: 2e6, memoryBytes: 5 } })],
      }),
    );
    expect(cycle.samples.map((s) => [s.container, s.cpuMillicores, s.time])).toEqual([
      ['app', 2, T0 - 1_000],
      ['restarting', null, T0 - 1_000],
    ]);
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

  it('keeps the last seen window across a gap and forgets pods that are gone', () => {
    const web = pod('web-1');
    const gone = pod('web-2');
    const item = podMetrics(web, T0 - 10_000, { c0: { cpuNanocores: 1e6, memoryBytes: 1 } });
    const first = buildCycle(
      input([web, gone], {
        available: true,
        items: [item, podMetrics(gone, T0 - 10_000, { c0: { cpuNanocores: 1e6, memoryBytes: 1 } })],
      }),
    );
    const gap = buildCycle(input([web], { available: true, items: [] }, first.lastSeen));
    expect([...gap.lastSeen.keys()]).toEqual(['uid-web-1']);
    const again = buildCycle(input([web], { available: true, items: [item] }, gap.lastSeen));
    expect(again.counts.duplicatePods).toBe(1);
    expect(again.cycle.samples).toEqual([]);
  });

  it('treats a pod re-created under the same name as a new pod', () => {
    const web = pod('web-1');
    const item = podMetrics(web, T0, { c0: { cpuNanocores: 1e6, memoryBytes: 1 } });
    const first = buildCycle(input([web], { available: true, items: [item] }));
    const recreated = { ...web, uid: 'uid-web-1-new' };
    const second = buildCycle(input([recreated], { available: true, items: [item] }, first.lastSeen));
    expect(second.cycle.samples).toHaveLength(1);
  });

  it('never samples a window twice, whatever the order of answers (property)', () => {
    const web = pod('web-1', [{ name: 'app' }]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 30 }), (windows) => {
        let lastSeen = new Map<string, number>();
        const sampledTimes: number[] = [];
        for (const w of windows) {
          const at = T0 + w * 15_000;
          const out = buildCycle(
            input(
              [web],
              { available: true, items: [podMetrics(web, at, { app: { cpuNanocores: w, memoryBytes: w } })] },
              lastSeen,
            ),
          );
          lastSeen = out.lastSeen;
          sampledTimes.push(...out.cycle.samples.map((s) => s.time));
        }
        // Strictly increasing: no window twice and never an older one after a newer one.
        expect(sampledTimes).toEqual([...new Set(sampledTimes)].sort((a, b) => a - b));
        expect(sampledTimes.at(-1)).toBe(T0 + Math.max(...windows) * 15_000);
      }),
    );
  });
});
