/**
 * Counter semantics for cumulative CPU readings (`container_cpu_usage_seconds_total`), and
 * time-weighting for windowed rates (the metrics.k8s.io fallback). Pure functions over the
 * reading types of `readings.ts`; the accounting (operator/store) credits what they return to
 * the time they say it covers.
 *
 * Counters: the core-seconds a container used between two readings of the same series are
 * exactly `next - previous`, whatever the spacing of the readings, as long as the counter
 * belongs to the same container instance. A reset — the container restarted — shows as a new
 * start time (`container_start_time_seconds`) or, when start times are unknown, as a counter
 * that went down. After a reset the new counter started from zero at the restart, so what it
 * says is all the new instance used: it is credited to the interval since the previous
 * reading (the old instance's usage between the previous reading and its end is unknowable
 * and is not invented). Readings at or before the previous one's time are not new and add
 * nothing (two policies reading the same endpoint see the same sample twice).
 */
import type { CpuCounterReading, CpuRateReading } from './readings.js';

/** A counter reading with the start time of the container instance it belongs to. */
export interface CounterPoint {
  /** Core-seconds since the container started. */
  coreSecondsTotal: number;
  /** When the counter was read, ms since epoch. */
  time: number;
  /** When this instance of the container started, ms since epoch; undefined when unknown. */
  startTime?: number;
}

/** Why an increment is what it is. */
export type IncrementKind =
  /** The same instance: the exact difference. */
  | 'delta'
  /** The container restarted (a new start time): the new counter, all of it since the restart. */
  | 'restart'
  /** The counter went down with no start time to tell (a reset): the new counter. */
  | 'counter-reset';

/** Core-seconds used in (from, to]. */
export interface CounterIncrement {
  kind: IncrementKind;
  coreSeconds: number;
  /** ms since epoch: the previous reading's time. */
  from: number;
  /** ms since epoch: the new reading's time. */
  to: number;
}

/**
 * The core-seconds used between `previous` and `next`, readings of one series (one pod UID
 * and container name). Undefined when `next` is not newer than `previous` (a repeated or
 * out-of-order sample): nothing to add. Throws on a negative or non-finite counter.
 */
export function counterIncrement(previous: CounterPoint, next: CounterPoint): CounterIncrement | undefined {
  checkPoint(previous, 'previous');
  checkPoint(next, 'next');
  if (next.time <= previous.time) return undefined;
  const span = { from: previous.time, to: next.time };
  if (isRestart(previous, next)) return { kind: 'restart', coreSeconds: next.coreSecondsTotal, ...span };
  if (next.coreSecondsTotal < previous.coreSecondsTotal)
    return { kind: 'counter-reset', coreSeconds: next.coreSecondsTotal, ...span };
  return { kind: 'delta', coreSeconds: next.coreSecondsTotal - previous.coreSecondsTotal, ...span };
}

/**
 * Whether `next` belongs to a new instance of the container: both start times are known and
 * differ. (A start time that appears or disappears is not a restart by itself.)
 */
export function isRestart(previous: CounterPoint, next: CounterPoint): boolean {
  return (
    previous.startTime !== undefined && next.startTime !== undefined && previous.startTime !== next.startTime
  );
}

/**
 * The core-seconds a container used from its start up to its first reading, when that reading
 * is the first of its instance and the instance started after `notBefore` (ms since epoch,
 * e.g. the time the series was last read or the operator started watching). Undefined when the
 * start time is unknown or too early to be sure the whole counter falls in the window; then the
 * first reading is only a baseline.
 */
export function incrementSinceStart(point: CounterPoint, notBefore: number): CounterIncrement | undefined {
  checkPoint(point, 'point');
  if (point.startTime === undefined || point.startTime < notBefore || point.startTime >= point.time)
    return undefined;
  return { kind: 'restart', coreSeconds: point.coreSecondsTotal, from: point.startTime, to: point.time };
}

/** A counter reading plus its start time, as `counterIncrement` takes it. */
export function counterPoint(cpu: CpuCounterReading, startTime?: number): CounterPoint {
  return startTime === undefined
    ? { coreSecondsTotal: cpu.coreSecondsTotal, time: cpu.time }
    : { coreSecondsTotal: cpu.coreSecondsTotal, time: cpu.time, startTime };
}

function checkPoint(point: CounterPoint, name: string): void {
  if (!Number.isFinite(point.coreSecondsTotal) || point.coreSecondsTotal < 0)
    throw new RangeError(`${name}: counter ${point.coreSecondsTotal} is not a finite non-negative number`);
  if (!Number.isFinite(point.time)) throw new RangeError(`${name}: time ${point.time} is not finite`);
}

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
