/**
 * Time-weighting of windowed rates (the metrics.k8s.io fallback): a pure function over the
 * reading types of `readings.ts`. Cumulative counters are accounted by the series cursors
 * (operator/collector/series-cursors.ts), which take a counter's differences as they are.
 */
import type { CpuRateReading } from './readings.js';

/**
 * Time-weighting of windowed rates (metrics.k8s.io PodMetrics): a rate averaged over a window
 * that ends at `time` stands for the time since the previous distinct window ended, so that
 * readings taken less often than metrics-server's resolution still cover all the time, and a
 * window seen twice (polled faster than the resolution) is counted once.
 */
export interface RateIncrement {
  coreSeconds: number;
  /** ms since epoch. */
  from: number;
  /** ms since epoch: the window's end. */
  to: number;
  /**
   * The part of (from, to] that the window itself did not measure (the gap since the previous
   * window, credited at this window's rate), ms; 0 when the windows are contiguous.
   */
  extrapolatedMs: number;
}

export interface RateWeightingOptions {
  /**
   * The longest gap before a window that is credited at the window's rate, ms. A longer gap
   * (the pod was not there, the metrics API was down) is left uncovered: only the window
   * itself is credited. Default: unbounded.
   */
  maxGapMs?: number;
}

/**
 * What a rate reading adds, given the end of the previous distinct window of the same series
 * (undefined for the first reading: the window alone). Undefined when the window is not newer
 * than the previous one. Throws on a negative or non-finite rate or window.
 */
export function rateIncrement(
  previousEnd: number | undefined,
  reading: CpuRateReading,
  options: RateWeightingOptions = {},
): RateIncrement | undefined {
  const { cores, time, windowMs } = reading;
  if (!Number.isFinite(cores) || cores < 0)
    throw new RangeError(`rate ${cores} is not a finite non-negative number`);
  if (!Number.isFinite(windowMs) || windowMs <= 0)
    throw new RangeError(`window ${windowMs} ms is not positive`);
  if (!Number.isFinite(time)) throw new RangeError(`time ${time} is not finite`);
  const windowStart = time - windowMs;
  let from = windowStart;
  if (previousEnd !== undefined) {
    if (time <= previousEnd) return undefined;
    const gap = windowStart - previousEnd;
    // Overlapping windows (gap < 0): only the new part counts. A gap within the bound: credited.
    if (gap <= (options.maxGapMs ?? Infinity)) from = previousEnd;
  }
  return {
    coreSeconds: (cores * (time - from)) / 1000,
    from,
    to: time,
    extrapolatedMs: Math.max(0, windowStart - from),
  };
}
