/**
 * Usage distributions of a rollup bucket: per container, a histogram of its CPU rate and one of
 * its memory working set, over exponential buckets each 5% wider than the one before (the scale
 * VPA's recommender uses). Stored sparsely, `{ "<bucket index>": weight }`, and merged by adding
 * weights, so a coarser bucket's histogram is exactly the sum of its finer ones' and a window's
 * percentiles come from the stored buckets at any retention level.
 *
 * The weight is time: each piece of a reading's span adds its milliseconds to the bucket holding
 * the span's average rate (core-seconds / seconds; byte-seconds / seconds). Milliseconds are whole
 * numbers, so sums are exact. A percentile is the end of the bucket where the cumulative weight
 * reaches it (as VPA: never below the true value by more than one bucket's width).
 *
 * Pure: no I/O. The rollups hold a `BucketHistograms` per bucket (rollups.ts), the tracker keeps
 * its open buckets' weights as flat pair lists (`PairList`), and merges go through `$inc` on
 * `hist.<metric>.<index>` (the same part and term guards as the other fields).
 */
import { Double } from 'mongodb';
import type { Span } from './spans.js';

/** An exponential scale: bucket 0 is [0, first), each next bucket `ratio` times wider. */
export interface HistogramScale {
  /** Width of bucket 0, in the metric's unit (millicores, bytes). */
  first: number;
  ratio: number;
  /** Number of buckets; values above the last bucket's start go into it. */
  buckets: number;
}

export const HISTOGRAM_RATIO = 1.05;

function scale(first: number, max: number): HistogramScale {
  const buckets = Math.ceil(Math.log(1 + (max * (HISTOGRAM_RATIO - 1)) / first) / Math.log(HISTOGRAM_RATIO));
  return { first, ratio: HISTOGRAM_RATIO, buckets };
}

/** CPU in millicores: 10m (VPA's 0.01 core) up to 1,000 cores. */
export const CPU_SCALE = scale(10, 1_000_000);
/** Memory in bytes: 10 MB up to 1 TB. */
export const MEMORY_SCALE = scale(1e7, 1e12);

/** Start of bucket `index`: first x (ratio^index - 1) / (ratio - 1). */
export function bucketStartOf(s: HistogramScale, index: number): number {
  return (s.first * (Math.pow(s.ratio, index) - 1)) / (s.ratio - 1);
}

/** End of bucket `index` (the start of the next). */
export function bucketEndOf(s: HistogramScale, index: number): number {
  return bucketStartOf(s, index + 1);
}

/** Bucket starts of each scale, computed once (bucketIndexOf is on the write path's hot loop). */
const STARTS = new WeakMap<HistogramScale, Float64Array>();

function startsOf(s: HistogramScale): Float64Array {
  let starts = STARTS.get(s);
  if (starts === undefined) {
    starts = new Float64Array(s.buckets + 1);
    for (let i = 0; i <= s.buckets; i++) starts[i] = bucketStartOf(s, i);
    STARTS.set(s, starts);
  }
  return starts;
}

/** The bucket holding `value` (clamped to the scale). */
export function bucketIndexOf(s: HistogramScale, value: number): number {
  if (!(value > 0)) return 0;
  const starts = startsOf(s);
  let index = Math.floor(Math.log1p((value * (s.ratio - 1)) / s.first) / Math.log(s.ratio));
  if (index >= s.buckets) return s.buckets - 1;
  // The logarithm may land one off at a boundary: settle it against the bucket's own edges.
  if (index > 0 && (starts[index] as number) > value) index--;
  else if ((starts[index + 1] as number) <= value) index++;
  return Math.min(Math.max(index, 0), s.buckets - 1);
}

/** Bucket index -> weight. */
export type Histogram = Map<number, number>;

export function addWeight(histogram: Histogram, index: number, weight: number): void {
  histogram.set(index, (histogram.get(index) ?? 0) + weight);
}

export function mergeHistogram(into: Histogram, from: Histogram, share = 1): void {
  for (const [index, weight] of from) addWeight(into, index, weight * share);
}

export function totalWeight(histogram: Histogram): number {
  let total = 0;
  for (const weight of histogram.values()) total += weight;
  return total;
}

/**
 * The `p` percentile (0..1) as the end of the bucket where the cumulative weight first reaches
 * p x total; undefined for an empty histogram.
 */
export function percentile(histogram: Histogram, s: HistogramScale, p: number): number | undefined {
  const total = totalWeight(histogram);
  if (!(total > 0)) return undefined;
  const threshold = p * total;
  const indices = [...histogram.keys()].filter((i) => (histogram.get(i) as number) > 0).sort((a, b) => a - b);
  let cumulative = 0;
  for (const index of indices) {
    cumulative += histogram.get(index) as number;
    if (cumulative >= threshold) return bucketEndOf(s, index);
  }
  return bucketEndOf(s, indices[indices.length - 1] as number);
}

/** As stored in a rollup document: sparse maps keyed by the decimal bucket index. */
export interface StoredHistograms {
  cpu?: Record<string, number>;
  memory?: Record<string, number>;
}

/** Which buckets a span's pieces go to: its average rates' indices, -1 when not measured or empty. */
export interface PieceIndices {
  cpu: number;
  memory: number;
}

/** Off only in the store benchmark, to print what the histograms cost (bench/store.bench.ts). */
export const histogramSwitch = { enabled: true };

export function pieceIndicesOf(span: Span): PieceIndices {
  if (!histogramSwitch.enabled) return { cpu: -1, memory: -1 };
  const seconds = (span.to - span.from) / 1000;
  if (!(seconds > 0)) return { cpu: -1, memory: -1 };
  return {
    cpu: span.cpu === null ? -1 : bucketIndexOf(CPU_SCALE, span.cpu / seconds),
    memory: span.memory === null ? -1 : bucketIndexOf(MEMORY_SCALE, span.memory / seconds),
  };
}

/**
 * The tracker's compact form of a series' open buckets' histograms, all levels in one flat
 * `[key, weight, key, weight...]` list (few distinct keys per bucket; one small array per
 * series): key = level x LEVEL_KEY + (MEMORY_KEY for memory) + bucket index.
 */
export type PairList = number[];
const MEMORY_KEY = 1 << 16;
const LEVEL_KEY = 1 << 17;

export function addPiecePairs(pairs: PairList, level: number, indices: PieceIndices, ms: number): void {
  const base = level * LEVEL_KEY;
  if (indices.cpu >= 0) addPair(pairs, base + indices.cpu, ms);
  if (indices.memory >= 0) addPair(pairs, base + MEMORY_KEY + indices.memory, ms);
}

function addPair(pairs: PairList, key: number, weight: number): void {
  for (let i = 0; i < pairs.length; i += 2) {
    if (pairs[i] === key) {
      pairs[i + 1] = (pairs[i + 1] as number) + weight;
      return;
    }
  }
  pairs.push(key, weight);
}

/** Removes one level's pairs from the list and returns them with level-free keys (for addPairs). */
export function takeLevelPairs(pairs: PairList, level: number): PairList {
  const taken: PairList = [];
  let kept = 0;
  for (let i = 0; i < pairs.length; i += 2) {
    const key = pairs[i] as number;
    if (Math.floor(key / LEVEL_KEY) === level) taken.push(key - level * LEVEL_KEY, pairs[i + 1] as number);
    else {
      pairs[kept++] = key;
      pairs[kept++] = pairs[i + 1] as number;
    }
  }
  pairs.length = kept;
  return taken;
}

/**
 * A bucket's two histograms, kept as one pair list (CPU keys are bucket indices, memory keys
 * MEMORY_KEY + index): many are made (every closed bucket has one), so no Map per bucket; readers
 * take Map views (`cpu`, `memory`).
 */
export class BucketHistograms {
  private readonly pairs: PairList = [];

  get cpu(): Histogram {
    return this.view(false);
  }

  get memory(): Histogram {
    return this.view(true);
  }

  private view(memory: boolean): Histogram {
    const histogram: Histogram = new Map();
    for (let i = 0; i < this.pairs.length; i += 2) {
      const key = this.pairs[i] as number;
      if (key >= MEMORY_KEY === memory)
        addWeight(histogram, memory ? key - MEMORY_KEY : key, this.pairs[i + 1] as number);
    }
    return histogram;
  }

  /** Adds `ms` of a span (its indices from pieceIndicesOf). */
  addPiece(indices: PieceIndices, ms: number): void {
    if (ms > 0) addPiecePairs(this.pairs, 0, indices, ms);
  }

  /** Adds level-free pairs (takeLevelPairs). */
  addPairs(pairs: PairList): void {
    for (let i = 0; i < pairs.length; i += 2) addPair(this.pairs, pairs[i] as number, pairs[i + 1] as number);
  }

  /** Adds stored histograms, weights scaled by `share` (a bucket pro-rated at a window's edge). */
  mergeStored(stored: StoredHistograms | undefined, share = 1): void {
    if (stored === undefined) return;
    for (const [metric, offset] of [
      [stored.cpu, 0],
      [stored.memory, MEMORY_KEY],
    ] as const) {
      if (metric === undefined) continue;
      for (const key of Object.keys(metric))
        addPair(this.pairs, offset + Number(key), (metric[key] as number) * share);
    }
  }

  merge(other: BucketHistograms): void {
    this.addPairs(other.pairs);
  }

  /** The stored form; undefined when both are empty (no field written). */
  toStored(): StoredHistograms | undefined {
    if (this.pairs.length === 0) return undefined;
    let cpu: Record<string, number> | undefined;
    let memory: Record<string, number> | undefined;
    for (let i = 0; i < this.pairs.length; i += 2) {
      const key = this.pairs[i] as number;
      const weight = this.pairs[i + 1] as number;
      if (key >= MEMORY_KEY) (memory ??= {})[key - MEMORY_KEY] = weight;
      else (cpu ??= {})[key] = weight;
    }
    return { ...(cpu && { cpu }), ...(memory && { memory }) };
  }
}

/** The `$inc` fields that add stored histograms to a bucket document's `hist`. */
export function histogramIncrements(stored: StoredHistograms | undefined): Record<string, Double> {
  const inc: Record<string, Double> = {};
  if (stored === undefined) return inc;
  for (const metric of ['cpu', 'memory'] as const) {
    const record = stored[metric];
    if (record === undefined) continue;
    // Doubles: a stored 32-bit integer plus a 32-bit increment would overflow (FerretDB wraps).
    for (const key of Object.keys(record)) inc[`hist.${metric}.${key}`] = new Double(record[key] as number);
  }
  return inc;
}
