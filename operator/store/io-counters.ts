/**
 * I/O counters of a series: network and block I/O, read by the node agent as
 * cumulative kernel counters with the agent's own timestamps. A sample may carry an `IoReading`:
 * the counters' differences between two agent readings and the span [from, to] between their
 * timestamps (independent of the sample's CPU span). The store keeps it in the raw reading and
 * adds it to every rollup level, split at bucket boundaries like CPU core-seconds: a piece of `ms`
 * of a span of `L` gets `ms / L` of each difference. Pure arithmetic; see docs/accounting.md.
 */
import type { IoRollup } from '../../api/http/v1.js';

/** The counters, in the order they are stored and answered. */
export const IO_COUNTERS = [
  'networkRxBytes',
  'networkRxPackets',
  'networkRxErrors',
  'networkRxDrops',
  'networkTxBytes',
  'networkTxPackets',
  'networkTxErrors',
  'networkTxDrops',
  'blockReadBytes',
  'blockWriteBytes',
  'blockReadOps',
  'blockWriteOps',
] as const;
export type IoCounter = (typeof IO_COUNTERS)[number];
/** Some of the counters (network ones only on the series the pod's network is attributed to). */
export type IoValues = Partial<Record<IoCounter, number>>;

/** What a sample adds of I/O: the counters' increments over [from, to] (agent timestamps, ms). */
export interface IoReading {
  from: number;
  to: number;
  /** Increments over the span (counter differences, a reset counted from zero). */
  inc: IoValues;
  /** The cumulative counters at `to`: the base of the next increment. */
  totals: IoValues;
}

/** The cumulative counters of a series at an agent reading's time (ms): what the next increment is taken from. */
export interface IoBase {
  time: number;
  totals: IoValues;
}

/** I/O of a bucket or window: the increments of the span pieces in it, and the ms they cover (as the API answers it). */
export type { IoRollup };

/**
 * The increments from `previous` to `current` totals. A counter lower than before was reset (a
 * new network namespace or cgroup): its increment counts from zero. Counters absent from either
 * side are absent from the result.
 */
export function ioIncrements(previous: IoValues, current: IoValues): IoValues {
  const inc: IoValues = {};
  for (const name of IO_COUNTERS) {
    const now = current[name];
    const before = previous[name];
    if (now === undefined || before === undefined) continue;
    inc[name] = now >= before ? now - before : now;
  }
  return inc;
}

/** Adds `ms` of the span of `io` to `into` (its share of the increments). */
export function addIoPiece(into: IoRollup, io: IoReading, ms: number): void {
  const spanMs = io.to - io.from;
  if (!(spanMs > 0) || !(ms > 0)) return;
  for (const name of IO_COUNTERS) {
    const value = io.inc[name];
    if (value === undefined) continue;
    // Multiplied first: a whole span gets its exact increment.
    into[name] = (into[name] ?? 0) + (ms === spanMs ? value : (value * ms) / spanMs);
  }
  into.ms += ms;
}

/** Adds a stored rollup, scaled by `share` (a bucket pro-rated at a window's edge). */
export function mergeIo(into: IoRollup, other: IoRollup, share = 1): void {
  for (const name of IO_COUNTERS) {
    const value = other[name];
    if (value !== undefined) into[name] = (into[name] ?? 0) + value * share;
  }
  into.ms += other.ms * share;
}

/** The `$inc` fields merging a part's I/O into a stored bucket. */
export function ioIncFields(io: IoRollup): Record<string, number> {
  const inc: Record<string, number> = { 'io.ms': io.ms };
  for (const name of IO_COUNTERS) if (io[name] !== undefined) inc[`io.${name}`] = io[name];
  return inc;
}

export function emptyIo(): IoRollup {
  return { ms: 0 };
}

/** The I/O span pieces in aligned buckets of `width` (as splitSpan). */
export function ioPieces(io: IoReading, width: number): { start: number; ms: number }[] {
  const pieces: { start: number; ms: number }[] = [];
  if (!(io.to > io.from)) return pieces;
  for (let start = Math.floor(io.from / width) * width; start < io.to; start += width)
    pieces.push({ start, ms: Math.min(io.to, start + width) - Math.max(io.from, start) });
  return pieces;
}

/** Milliseconds of the I/O span in [a, b). */
export function ioOverlapMs(io: IoReading, a: number, b: number): number {
  return Math.max(0, Math.min(io.to, b) - Math.max(io.from, a));
}

/** Why I/O fields can be absent from an answer (the API lists it with the field). */
export const IO_ABSENT_REASON =
  'no node agent supplied I/O counters for these containers in this time (no agent on the node, or no reading yet)';

/**
 * The reading over `first` then `second` when the second's span starts where the first's ends:
 * increments add, the totals are the second's. Undefined when the spans do not meet or a
 * counter is in one and not the other.
 */
export function mergeIoReadings(first: IoReading, second: IoReading): IoReading | undefined {
  if (second.from !== first.to) return undefined;
  const inc: IoValues = {};
  for (const name of IO_COUNTERS) {
    const a = first.inc[name];
    const b = second.inc[name];
    if (a === undefined && b === undefined) continue;
    if (a === undefined || b === undefined) return undefined;
    inc[name] = a + b;
  }
  return { from: first.from, to: second.to, inc, totals: second.totals };
}
