/**
 * Right-sizing strategies: from a workload container's history (its pods' distributions merged)
 * to a target request with lower and upper bounds. Pure arithmetic; every parameter is named
 * here and documented in docs/rightsizing.md. Units are the store's: millicores and bytes.
 *
 * - `vpa`: as VPA's recommender. CPU target = P90 of the time-weighted CPU histogram, memory
 *   target = P90 of the memory peaks (one per container per day), both x (1 + 15% margin); lower
 *   bound from P50, upper bound from P95, widened by how little history there is; the pod minimum
 *   (25m, 250 MB) split across the pod's containers; after an OOM kill, a peak of
 *   max(used + 100 MiB, used x 1.2) and a target never below it.
 * - `krr`: as Robusta KRR's `simple` strategy. CPU = P95 of the CPU histogram, memory = the
 *   highest reading x 1.15; floors 10m and 100 MB; needs 3 h and 100 readings for full confidence.
 */
import type { StrategyName } from '../../api/http/v1.js';
import {
  addWeight,
  bucketIndexOf,
  CPU_SCALE,
  MEMORY_SCALE,
  percentile,
  type Histogram,
} from '../store/histograms.js';

export type { StrategyName };
export const STRATEGIES: readonly StrategyName[] = ['vpa', 'krr'];

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MIB = 2 ** 20;

/** What a recommendation is computed from: one container name of one workload, over a window. */
export interface ContainerUsageHistory {
  /** Milliseconds at each CPU rate bucket (millicores). */
  cpu: Histogram;
  /** Milliseconds at each working-set bucket (bytes). */
  memory: Histogram;
  /** Memory peaks (bytes): each pod's highest reading per day. */
  memoryPeaks: number[];
  /** Highest memory reading of the window (bytes). */
  memoryMax?: number;
  /** Time at least one of the workload's pods was measured (ms). */
  coveredMs: number;
  /** Readings. */
  samples: number;
  /** Containers in the workload's pods (the pod minimum is split across them). */
  containersPerPod: number;
  /** The container's last termination was an OOM kill, at this memory (bytes): its limit, else its highest reading. */
  oomKilledAt?: number;
}

export interface Recommendation {
  target: number;
  lowerBound: number;
  upperBound: number;
}

export interface StrategyResult {
  cpu: Recommendation;
  memory: Recommendation;
  /** 0..1: how much the history supports it (see each strategy). */
  confidence: number;
  /** The OOM bump applied (bytes), when there was one. */
  oomBump?: number;
}

export const VPA_PARAMETERS = {
  targetPercentile: 0.9,
  lowerBoundPercentile: 0.5,
  upperBoundPercentile: 0.95,
  safetyMargin: 0.15,
  podMinCpuMillicores: 25,
  podMinMemoryBytes: 250e6,
  oomMinBumpBytes: 100 * MIB,
  oomBumpRatio: 1.2,
  /** History in days at which confidence reaches 1. */
  confidenceDays: 1,
  /** Upper bounds are capped at this multiple of the highest bucket (its end) with margin (young workloads). */
  upperBoundPeakCap: 2,
} as const;

export const KRR_PARAMETERS = {
  cpuPercentile: 0.95,
  memoryBuffer: 0.15,
  minCpuMillicores: 10,
  minMemoryBytes: 100e6,
  fullHistoryMs: 3 * HOUR_MS,
  fullHistorySamples: 100,
} as const;

/** The OOM bump: max(used + 100 MiB, used x 1.2). */
export function oomBump(usedBytes: number): number {
  return Math.max(usedBytes + VPA_PARAMETERS.oomMinBumpBytes, usedBytes * VPA_PARAMETERS.oomBumpRatio);
}

/** A histogram of the peaks, one unit of weight each (VPA's memory aggregation). */
function peakHistogram(peaks: readonly number[]): Histogram {
  const histogram: Histogram = new Map();
  for (const peak of peaks) addWeight(histogram, bucketIndexOf(MEMORY_SCALE, peak), 1);
  return histogram;
}

/**
 * VPA's bounds: with c the history in days (at most the readings over one per minute),
 * lower = P50 x (1 + margin) x (1 + 0.001/c)^-2 and upper = P95 x (1 + margin) x (1 + 1/c).
 */
function vpaBounds(
  target: number,
  lower: number,
  upper: number,
  days: number,
  peak: number,
  minimum: number,
): Recommendation {
  const margin = 1 + VPA_PARAMETERS.safetyMargin;
  const low = days > 0 ? lower * margin * Math.pow(1 + 0.001 / days, -2) : 0;
  let high = days > 0 ? upper * margin * (1 + 1 / days) : Infinity;
  // Not VPA: a young workload's upper bound is capped at twice its peak with margin, not 1000x.
  high = Math.min(high, Math.max(target, peak * margin * VPA_PARAMETERS.upperBoundPeakCap));
  return {
    target: Math.max(target, minimum),
    lowerBound: Math.max(Math.min(low, target), minimum),
    upperBound: Math.max(high, target, minimum),
  };
}

export function vpaStrategy(usage: ContainerUsageHistory): StrategyResult | undefined {
  const p = VPA_PARAMETERS;
  const margin = 1 + p.safetyMargin;
  const days = Math.min(usage.coveredMs / DAY_MS, usage.samples / 1440);
  const cpuTarget = percentile(usage.cpu, CPU_SCALE, p.targetPercentile);
  const peaks = [...usage.memoryPeaks];
  const bump = usage.oomKilledAt === undefined ? undefined : oomBump(usage.oomKilledAt);
  if (bump !== undefined) peaks.push(bump);
  const memory = peakHistogram(peaks);
  const memoryTarget = percentile(memory, MEMORY_SCALE, p.targetPercentile);
  if (cpuTarget === undefined || memoryTarget === undefined) return undefined;
  const containers = Math.max(1, usage.containersPerPod);
  const cpuPeak = percentile(usage.cpu, CPU_SCALE, 1) as number;
  const memoryPeak = percentile(memory, MEMORY_SCALE, 1) as number;
  const cpu = vpaBounds(
    cpuTarget * margin,
    percentile(usage.cpu, CPU_SCALE, p.lowerBoundPercentile) as number,
    percentile(usage.cpu, CPU_SCALE, p.upperBoundPercentile) as number,
    days,
    cpuPeak,
    p.podMinCpuMillicores / containers,
  );
  const mem = vpaBounds(
    Math.max(memoryTarget * margin, bump ?? 0),
    percentile(memory, MEMORY_SCALE, p.lowerBoundPercentile) as number,
    percentile(memory, MEMORY_SCALE, p.upperBoundPercentile) as number,
    days,
    memoryPeak,
    p.podMinMemoryBytes / containers,
  );
  return {
    cpu,
    memory: mem,
    confidence: Math.min(1, days / p.confidenceDays),
    ...(bump !== undefined && { oomBump: bump }),
  };
}

export function krrStrategy(usage: ContainerUsageHistory): StrategyResult | undefined {
  const p = KRR_PARAMETERS;
  const cpuP95 = percentile(usage.cpu, CPU_SCALE, p.cpuPercentile);
  if (cpuP95 === undefined || usage.memoryMax === undefined) return undefined;
  const cpu = Math.max(cpuP95, p.minCpuMillicores);
  const memory = Math.max(usage.memoryMax * (1 + p.memoryBuffer), p.minMemoryBytes);
  return {
    cpu: { target: cpu, lowerBound: cpu, upperBound: cpu },
    memory: { target: memory, lowerBound: memory, upperBound: memory },
    confidence: Math.min(1, usage.coveredMs / p.fullHistoryMs, usage.samples / p.fullHistorySamples),
  };
}

export function runStrategy(name: StrategyName, usage: ContainerUsageHistory): StrategyResult | undefined {
  return name === 'vpa' ? vpaStrategy(usage) : krrStrategy(usage);
}
