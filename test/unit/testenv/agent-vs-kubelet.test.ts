/**
 * scripts/testenv/agent-vs-kubelet.ts: the bounds the real-node e2e compares the agent's figures
 * with the kubelet's in. A CFS-throttled counter is simulated exactly (it runs the first part of
 * each period until its quota is used, then waits), read at arbitrary instants by both sides:
 * the true value is always within the bounds, and a counter that is not the same one is not.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerStats, NodeReport, PodStats } from '../../../agent/types.js';
import {
  agentSeries,
  compareCpu,
  compareWorkingSet,
  counterAt,
  cpuCap,
  describeCpu,
  describeIo,
  distinct,
  kubeletSeries,
  parseContainerRef,
  readAnswers,
  workingSetTolerance,
  type CpuBandwidth,
  type Reading,
} from '../../../scripts/testenv/agent-vs-kubelet.js';

const T0 = Date.UTC(2026, 11, 2, 18, 0, 0);
const BURNER: CpuBandwidth = { cpus: 2, quotaUs: 25_000, periodUs: 100_000 };

/** Core-seconds at time t (ms) of a busy loop throttled to 25 ms per 100 ms period since T0. */
function throttled(t: number): number {
  const ms = t - T0;
  const whole = Math.floor(ms / 100);
  return (whole * 25 + Math.min(25, ms - whole * 100)) / 1000;
}

const readAt = (counter: (t: number) => number) => (t: number) => ({ time: t, value: counter(t) });

describe('cpuCap', () => {
  it('is the CPUs times the time without a quota', () => {
    expect(cpuCap({ cpus: 2 }, 500)).toBe(1);
    expect(cpuCap({ cpus: 2 }, -5)).toBe(0);
  });

  it('is one quota per period the stretch can overlap, at most the CPUs times the time', () => {
    // 500 ms overlap at most 6 periods of 100 ms.
    expect(cpuCap(BURNER, 500)).toBeCloseTo(0.15, 12);
    expect(cpuCap(BURNER, 10)).toBeCloseTo(0.02, 12);
    expect(cpuCap(BURNER, 60)).toBeCloseTo(0.05, 12);
  });
});

describe('counterAt', () => {
  it('interpolates between the readings around t and bounds the counter there', () => {
    const agent = [T0 + 1000, T0 + 2000].map(readAt(throttled));
    const at = counterAt(agent, T0 + 1500, BURNER, 0)!;
    expect(at.before.time).toBe(T0 + 1000);
    expect(at.after.time).toBe(T0 + 2000);
    expect(at.estimate).toBeCloseTo(0.375, 12);
    // 0.25 core-s from 1 s to 2 s; 500 ms on either side can hold at most 6 quotas (0.15).
    expect(at.low).toBeCloseTo(0.5 - 0.15, 12);
    expect(at.high).toBeCloseTo(0.25 + 0.15, 12);
    expect(throttled(T0 + 1500)).toBeGreaterThanOrEqual(at.low);
    expect(throttled(T0 + 1500)).toBeLessThanOrEqual(at.high);
  });

  it('has nothing to say outside the readings', () => {
    const agent = [T0 + 1000, T0 + 2000].map(readAt(throttled));
    expect(counterAt(agent, T0 + 999, BURNER)).toBeUndefined();
    expect(counterAt(agent, T0 + 2001, BURNER)).toBeUndefined();
    expect(counterAt(agent, T0 + 2000, BURNER)?.estimate).toBe(throttled(T0 + 2000));
  });

  it('always holds the true counter of a throttled container, whatever the instants', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 700, max: 1300 }), { minLength: 2, maxLength: 20 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (gaps, where) => {
          const times = gaps.reduce<number[]>((ts, g) => [...ts, (ts.at(-1) ?? T0) + g], []);
          const agent = times.map(readAt(throttled));
          const t = Math.round(times[0]! + where * (times.at(-1)! - times[0]!));
          const at = counterAt(agent, t, BURNER, 0)!;
          return at.low <= throttled(t) + 1e-12 && throttled(t) <= at.high + 1e-12;
        },
      ),
    );
  });
});

describe('compareCpu', () => {
  const agentTimes = Array.from({ length: 46 }, (_, i) => T0 + 10_000 + i * 1000 + ((i * 137) % 300));
  const kubeletTimes = [T0 + 9_000, T0 + 12_345, T0 + 24_680, T0 + 37_012, T0 + 60_000];

  it('matches the same counter read at other instants, over the longest interval the agent surrounds', () => {
    const c = compareCpu(
      kubeletTimes.map(readAt(throttled)),
      agentTimes.map(readAt(throttled)),
      BURNER,
      10_000,
    )!;
    expect(c.ok).toBe(true);
    expect(c.instants.map((i) => i.kubelet.time)).toEqual([T0 + 12_345, T0 + 24_680, T0 + 37_012]);
    expect(c.from.kubelet.time).toBe(T0 + 12_345);
    expect(c.to.kubelet.time).toBe(T0 + 37_012);
    expect(c.kubeletDelta).toBeCloseTo(throttled(T0 + 37_012) - throttled(T0 + 12_345), 12);
    expect(Math.abs(c.agentDelta - c.kubeletDelta)).toBeLessThanOrEqual(0.05);
    expect(c.deltaLow).toBeLessThanOrEqual(c.kubeletDelta);
    expect(c.deltaHigh).toBeGreaterThanOrEqual(c.kubeletDelta);
  });

  it('fails a counter that is not the same: 4% more CPU, or an offset of 0.1 core-s', () => {
    const agent = agentTimes.map(readAt(throttled));
    const faster = kubeletTimes.map(readAt((t) => throttled(t) * 1.04));
    expect(compareCpu(faster, agent, BURNER, 10_000)!.ok).toBe(false);
    const offset = kubeletTimes.map(readAt((t) => throttled(t) + 0.1));
    expect(compareCpu(offset, agent, BURNER, 10_000)!.ok).toBe(false);
  });

  it('prints the interval, a summary of the instants, and each instant outside its bounds', () => {
    const agent = agentTimes.map(readAt(throttled));
    const same = describeCpu(
      'burner',
      compareCpu(kubeletTimes.map(readAt(throttled)), agent, BURNER, 10_000)!,
    );
    expect(same).toHaveLength(2);
    expect(same[0]).toMatch(
      /^burner: CPU {4}kubelet 6\.\d{4} core-s, agent 6\.\d{4} core-s over the kubelet's 24\.667 s/,
    );
    expect(same[1]).toContain("at each of the kubelet's 3 instants: 3 within the bounds");
    const offset = kubeletTimes.map(readAt((t) => throttled(t) + 0.1));
    const lines = describeCpu('burner', compareCpu(offset, agent, BURNER, 10_000)!);
    expect(lines[1]).toContain('3 instants: 0 within the bounds');
    expect(lines.slice(2)).toHaveLength(3);
    expect(lines[2]).toMatch(/^burner: {3}OUTSIDE at 18:00:12\.345: kubelet /);
  });

  it('needs two kubelet instants the agent surrounds, minSpan apart (repeats count once)', () => {
    const agent = agentTimes.map(readAt(throttled));
    const repeated = [T0 + 12_345, T0 + 12_345, T0 + 15_000].map(readAt(throttled));
    expect(compareCpu(repeated, agent, BURNER, 10_000)).toBeUndefined();
    expect(compareCpu(kubeletTimes.slice(3).map(readAt(throttled)), agent, BURNER, 10_000)).toBeUndefined();
  });
});

describe('compareWorkingSet', () => {
  it('allows 2 x 64 pages per CPU: 1 MiB on 2 CPUs of 4 KiB pages', () => {
    expect(workingSetTolerance(2, 4096)).toBe(2 ** 20);
  });

  it('pairs each kubelet reading the agent surrounds with the nearest agent reading', () => {
    const agent: Reading[] = [
      { time: T0, value: 100 },
      { time: T0 + 1000, value: 200 },
      { time: T0 + 2000, value: 300 },
    ];
    const kubelet: Reading[] = [
      { time: T0 - 1, value: 0 },
      { time: T0 + 400, value: 110 },
      { time: T0 + 1600, value: 290 },
    ];
    const w = compareWorkingSet(kubelet, agent, 15)!;
    expect(w.pairs.map((p) => [p.kubelet.time - T0, p.agent.time - T0, p.difference])).toEqual([
      [400, 0, 10],
      [1600, 2000, -10],
    ]);
    expect(w.ok).toBe(true);
    expect(compareWorkingSet(kubelet, agent, 9)!.ok).toBe(false);
    expect(compareWorkingSet([{ time: T0 + 5000, value: 1 }], agent, 9)).toBeUndefined();
  });
});

describe('the saved answers', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const container = (name: string, time: number, usage: number, ws: number): ContainerStats => ({
    id: 'a'.repeat(64),
    name,
    time,
    cpu: { usageCoreSeconds: usage, periods: 10, throttledPeriods: 7 },
    memory: { usageBytes: ws + 4096, workingSetBytes: ws, rssBytes: 8192, cacheBytes: 4096, oomKills: 0 },
    blockIo: { readBytes: 1, writeBytes: 2, readOps: 3, writeOps: 4, devices: [] },
    processes: { count: 1, top: [] },
  });
  const pod = (time: number, usage: number): PodStats => ({
    namespace: 'e2e',
    name: 'burner-1',
    uid: 'u',
    qos: 'burstable',
    cgroupDriver: 'cgroupfs',
    time,
    containers: [container('burner', time - 2, usage, 5000)],
  });
  const report = (time: number, usage: number): NodeReport =>
    ({
      node: 'n',
      time,
      cgroupVersion: 1,
      pods: [pod(time, usage)],
      podsWithoutCgroup: [],
      readErrors: [],
    }) as unknown as NodeReport;
  const prom = (value: number, stamp: number) =>
    `container_cpu_usage_seconds_total{container="burner",namespace="e2e",pod="burner-1"} ${value} ${stamp}\n` +
    `container_memory_working_set_bytes{container="burner",namespace="e2e",pod="burner-1"} 5.12e+03 ${stamp}\n` +
    `container_cpu_usage_seconds_total{container="other",namespace="e2e",pod="burner-1"} 9 ${stamp}\n`;

  it("reads each side's figures for the container with each side's own stamps", () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-vs-kubelet-'));
    writeFileSync(join(dir, `kubelet-${T0 + 50}.prom`), prom(1.5, T0 - 3000));
    writeFileSync(join(dir, `kubelet-${T0 + 1050}.prom`), prom(1.5, T0 - 3000));
    writeFileSync(join(dir, `agent-${T0 + 60}.json`), JSON.stringify(report(T0 + 70, 1.25)));
    writeFileSync(join(dir, 'port-forward.log'), 'not an answer');
    const answers = readAnswers(dir);
    expect(answers.kubelet.map((k) => k.time)).toEqual([T0 + 50, T0 + 1050]);
    const ref = parseContainerRef('e2e/burner-1/burner');
    const k = kubeletSeries(answers, ref);
    expect(distinct(k.cpu)).toEqual([{ time: T0 - 3000, value: 1.5 }]);
    expect(k.workingSet[0]).toEqual({ time: T0 - 3000, value: 5120 });
    expect(agentSeries(answers, ref)).toEqual({
      cpu: [{ time: T0 + 68, value: 1.25 }],
      workingSet: [{ time: T0 + 68, value: 5000 }],
    });
    expect(() => parseContainerRef('e2e/burner-1')).toThrow('NAMESPACE/POD/CONTAINER');
  });

  it('names the I/O fields a pod lacks', () => {
    const full = describeIo({
      ...pod(T0, 1),
      network: {
        rxBytes: 10,
        rxPackets: 1,
        rxErrors: 0,
        rxDrops: 0,
        txBytes: 20,
        txPackets: 2,
        txErrors: 0,
        txDrops: 0,
        interfaces: [],
      },
    });
    expect(full.absent).toEqual([]);
    expect(full.lines[0]).toContain('rx 10 B 1 packets');
    const bare = pod(T0, 1);
    delete bare.containers[0]!.blockIo;
    expect(describeIo(bare).absent).toEqual(['network', 'burner.blockIo']);
  });
});
