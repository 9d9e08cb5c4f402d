/**
 * The span of a reading: the time a sample accounts for and the usage it adds over it, and how
 * a span is split at bucket boundaries. Pure arithmetic, the one place the accounting rules
 * (docs/accounting.md) are written down in code.
 *
 * A sample accounts for [from, time]. Its increments are exact when the collector gives them
 * (`cpuCoreSeconds` from the counter, `memoryByteSeconds` integrated); a sample of an older
 * collector gives only its rate and `intervalSeconds`, and stands for [time - interval, time] at
 * that rate. Within a span usage is taken as constant: a piece of a span gets the share of the
 * increments its length is of the span's.
 */
import type { ContainerSample } from '../model.js';

/** What a sample adds, in the store's units: millicore-seconds and byte-seconds. */
export interface Span {
  from: number;
  to: number;
  /** Millicore-seconds used over the span; null when not measured. */
  cpu: number | null;
  /** Byte-seconds over the span; null when not measured. */
  memory: number | null;
  /**
   * What the span bills (millicore-seconds, byte-seconds), when the sample gives it: a span that
   * merges readings of different rates bills the sum of what they bill. Absent: max(request x
   * span, usage). Either way a piece of the span bills its share of the span's length.
   */
  cpuBilled?: number;
  memoryBilled?: number;
}

/** The span of a sample as given (before the store clips it against what it has). */
export function spanOf(sample: ContainerSample): Span {
  const to = sample.time;
  const from = sample.from ?? to - sample.intervalSeconds * 1000;
  const seconds = (to - from) / 1000;
  const cpu =
    sample.cpuCoreSeconds !== undefined
      ? sample.cpuCoreSeconds === null
        ? null
        : sample.cpuCoreSeconds * 1000
      : sample.cpuMillicores === null
        ? null
        : sample.cpuMillicores * seconds;
  const memory =
    sample.memoryByteSeconds !== undefined
      ? sample.memoryByteSeconds
      : sample.memoryBytes === null
        ? null
        : sample.memoryBytes * seconds;
  const span: Span = { from, to, cpu, memory };
  if (sample.cpuCoreSecondsBilled !== undefined) span.cpuBilled = sample.cpuCoreSecondsBilled * 1000;
  if (sample.memoryByteSecondsBilled !== undefined) span.memoryBilled = sample.memoryByteSecondsBilled;
  return span;
}

/** What the span bills of a metric: the explicit amount, else max(request x span, usage). */
export function billedOf(
  usage: number | null,
  request: number | undefined,
  spanMs: number,
  billed?: number,
): number {
  if (billed !== undefined) return billed;
  const requested = ((request ?? 0) * spanMs) / 1000;
  return usage === null ? requested : Math.max(requested, usage);
}

/**
 * The sample restricted to the part of its span after `after` (what the store has for the series
 * already ends there): the increments shrink pro rata. The sample itself when nothing is cut.
 */
export function clipSample(sample: ContainerSample, after: number): ContainerSample {
  const span = spanOf(sample);
  if (span.from >= after) return withSpan(sample, span);
  const from = Math.min(after, span.to);
  const kept = span.to - from;
  const length = span.to - span.from;
  const part = (value: number | null) => (value === null ? null : length > 0 ? (value * kept) / length : 0);
  const clipped: Span = { from, to: span.to, cpu: part(span.cpu), memory: part(span.memory) };
  if (span.cpuBilled !== undefined) clipped.cpuBilled = part(span.cpuBilled) as number;
  if (span.memoryBilled !== undefined) clipped.memoryBilled = part(span.memoryBilled) as number;
  return withSpan(sample, clipped);
}

/** The sample with its span written out explicitly (what the store keeps in a raw reading). */
export function withSpan(sample: ContainerSample, span: Span): ContainerSample {
  const result: ContainerSample = {
    ...sample,
    from: span.from,
    cpuCoreSeconds: span.cpu === null ? null : span.cpu / 1000,
    memoryByteSeconds: span.memory,
  };
  if (span.cpuBilled !== undefined) result.cpuCoreSecondsBilled = span.cpuBilled / 1000;
  if (span.memoryBilled !== undefined) result.memoryByteSecondsBilled = span.memoryBilled;
  return result;
}

/** One piece of a span inside one bucket. */
export interface SpanPiece {
  /** Bucket start. */
  start: number;
  /** Milliseconds of the span in the bucket: the piece gets this share of the span's increments. */
  ms: number;
}

/** The pieces of [from, to) in aligned buckets of `width` ms (none for an empty span), in time order. */
export function splitSpan(from: number, to: number, width: number): SpanPiece[] {
  if (!(to > from)) return [];
  const pieces: SpanPiece[] = [];
  for (let start = Math.floor(from / width) * width; start < to; start += width) {
    pieces.push({ start, ms: Math.min(to, start + width) - Math.max(from, start) });
  }
  return pieces;
}

/** Milliseconds of [from, to) in [a, b). */
export function overlapMs(from: number, to: number, a: number, b: number): number {
  return Math.max(0, Math.min(to, b) - Math.max(from, a));
}
