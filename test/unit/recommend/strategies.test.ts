import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  bucketIndexOf,
  CPU_SCALE,
  MEMORY_SCALE,
  type Histogram,
} from '../../../operator/store/histograms.js';
import {
  krrStrategy,
  oomBump,
  vpaStrategy,
  type ContainerUsageHistory,
} from '../../../operator/recommend/strategies.js';
import { endOfBucketHolding } from '../../support/bucket-ends.js';

const DAY = 86_400_000;
const MIB = 2 ** 20;

/** The weighted percentile of raw values: the smallest value with p of the weight at or below it. */
function weightedPercentile(values: [number, number][], p: number): number {
  const sorted = [...values].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, w]) => n + w, 0);
  let cumulative = 0;
  for (const [value, weight] of sorted) {
    cumulative += weight;
    if (cumulative >= p * total) return value;
  }
  return sorted[sorted.length - 1]![0];
}

function histogramOf(scale: typeof CPU_SCALE, values: [number, number][]): Histogram {
  const h: Histogram = new Map();
  for (const [value, weight] of values) {
    const i = bucketIndexOf(scale, value);
    h.set(i, (h.get(i) ?? 0) + weight);
  }
  return h;
}

function usage(
  cpu: [number, number][],
  peaks: number[],
  days: number,
  extra: Partial<ContainerUsageHistory> = {},
) {
  return {
    cpu: histogramOf(CPU_SCALE, cpu),
    memory: histogramOf(
      MEMORY_SCALE,
      peaks.map((p) => [p, 1]),
    ),
    memoryPeaks: peaks,
    memoryMax: Math.max(...peaks),
    coveredMs: days * DAY,
    samples: Math.round(days * 2880),
    containersPerPod: 1,
    ...extra,
  } satisfies ContainerUsageHistory;
}

/** Values whose percentiles fall well inside buckets (no value within 0.1% of an edge). */
const cpuValues = fc.array(
  fc.tuple(
    fc.integer({ min: 30, max: 4000 }).map((m) => m + 0.5),
    fc.integer({ min: 1, max: 60_000 }),
  ),
  { minLength: 1, maxLength: 50 },
);

describe('vpa strategy', () => {
  it('targets P90 CPU (time-weighted) with a 15% margin, as the end of its 5% bucket', () => {
    fc.assert(
      fc.property(cpuValues, (cpu) => {
        const result = vpaStrategy(usage(cpu, [300 * MIB], 8))!;
        const p90 = weightedPercentile(cpu, 0.9);
        expect(result.cpu.target).toBeCloseTo(endOfBucketHolding(10, p90) * 1.15, 6);
        // Never below the true percentile with margin, at most one bucket (5% + 10m) above it.
        expect(result.cpu.target).toBeGreaterThan(p90 * 1.15);
        expect(result.cpu.target).toBeLessThanOrEqual((p90 * 1.05 + 10) * 1.15);
        // 8 days of history: the bounds are P50 and P95 with margin, barely widened.
        const lower = endOfBucketHolding(10, weightedPercentile(cpu, 0.5)) * 1.15 * (1 + 0.001 / 8) ** -2;
        const upper = endOfBucketHolding(10, weightedPercentile(cpu, 0.95)) * 1.15 * (1 + 1 / 8);
        expect(result.cpu.lowerBound).toBeCloseTo(Math.max(Math.min(lower, result.cpu.target), 25), 6);
        expect(result.cpu.upperBound).toBeCloseTo(Math.max(upper, result.cpu.target), 6);
        expect(result.confidence).toBe(1);
      }),
    );
  });

  it('targets P90 of the daily memory peaks with margin; bounds narrow with the days of history', () => {
    const peaks = [200, 210, 220, 230, 240, 250, 260, 400].map((m) => m * MIB);
    const cpu: [number, number][] = [[100.5, 1000]];
    const eight = vpaStrategy(usage(cpu, peaks, 8))!;
    // P90 of 8 equally weighted peaks: 0.9 x 8 = 7.2 -> the 8th (the highest).
    expect(eight.memory.target).toBeCloseTo(endOfBucketHolding(1e7, 400 * MIB) * 1.15, 0);
    expect(eight.memory.lowerBound).toBeCloseTo(
      endOfBucketHolding(1e7, 230 * MIB) * 1.15 * (1 + 0.001 / 8) ** -2,
      0,
    );
    const two = vpaStrategy(usage(cpu, peaks, 2))!;
    expect(two.confidence).toBe(1);
    expect(two.memory.upperBound).toBeCloseTo(endOfBucketHolding(1e7, 400 * MIB) * 1.15 * 1.5, 0);
    expect(eight.memory.upperBound).toBeLessThan(two.memory.upperBound);
    const halfDay = vpaStrategy(usage(cpu, peaks, 0.5))!;
    expect(halfDay.confidence).toBe(0.5);
  });

  it('caps a young workload upper bound at twice its peak with margin (VPA would give 25x after an hour)', () => {
    const result = vpaStrategy(usage([[100.5, 3_600_000]], [300 * MIB], 1 / 24))!;
    expect(result.cpu.upperBound).toBeCloseTo(endOfBucketHolding(10, 100.5) * 1.15 * 2, 6);
    expect(result.memory.upperBound).toBeCloseTo(endOfBucketHolding(1e7, 300 * MIB) * 1.15 * 2, 0);
    expect(result.confidence).toBeCloseTo(1 / 24, 9);
  });

  it('after an OOM kill: a peak of max(used + 100 MiB, used x 1.2), and a target never below it', () => {
    expect(oomBump(1024 * MIB)).toBe(1.2 * 1024 * MIB);
    expect(oomBump(200 * MIB)).toBe(300 * MIB);
    const result = vpaStrategy(
      usage([[100.5, 1000]], [180 * MIB, 190 * MIB], 8, { oomKilledAt: 256 * MIB }),
    )!;
    expect(result.oomBump).toBe(356 * MIB);
    expect(result.memory.target).toBeGreaterThanOrEqual(356 * MIB);
    expect(result.memory.target).toBeCloseTo(endOfBucketHolding(1e7, 356 * MIB) * 1.15, 0);
  });

  it('splits the pod minimum (25m, 250 MB) across the containers of the pod', () => {
    const result = vpaStrategy(usage([[1, 1000]], [1 * MIB], 8, { containersPerPod: 2 }))!;
    expect(result.cpu.target).toBe(12.5);
    expect(result.cpu.lowerBound).toBe(12.5);
    expect(result.memory.target).toBe(125e6);
  });

  it('gives nothing without measurements', () => {
    expect(vpaStrategy({ ...usage([[1, 1]], [MIB], 1), cpu: new Map() })).toBeUndefined();
  });
});

describe('krr strategy', () => {
  it('gives P95 CPU (bucket end) and the highest memory reading + 15%, with floors 10m and 100 MB', () => {
    fc.assert(
      fc.property(cpuValues, fc.integer({ min: 1, max: 4096 }), (cpu, peakMiB) => {
        const result = krrStrategy(usage(cpu, [peakMiB * MIB], 1))!;
        expect(result.cpu.target).toBeCloseTo(
          Math.max(10, endOfBucketHolding(10, weightedPercentile(cpu, 0.95))),
          6,
        );
        expect(result.memory.target).toBe(Math.max(100e6, peakMiB * MIB * 1.15));
        expect(result.memory.lowerBound).toBe(result.memory.target);
      }),
    );
  });

  it('is fully confident from 3 hours and 100 readings', () => {
    expect(krrStrategy({ ...usage([[100.5, 1]], [MIB], 3 / 24), samples: 100 })!.confidence).toBe(1);
    expect(krrStrategy({ ...usage([[100.5, 1]], [MIB], 1.5 / 24), samples: 100 })!.confidence).toBeCloseTo(
      0.5,
      9,
    );
    expect(krrStrategy({ ...usage([[100.5, 1]], [MIB], 1), samples: 25 })!.confidence).toBe(0.25);
  });
});
