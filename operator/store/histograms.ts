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
 * its open buckets' weights in one list per series (`LevelHistograms`), and merges go through `$inc` on
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

/** A flat `[key, weight, key, weight...]` list: CPU keys are bucket indices, memory keys MEMORY_KEY + index. */
export type PairList = number[];
const MEMORY_KEY = 1 << 16;

/** Offsets of a span's entries in a LevelHistograms, -1 where the metric was not measured. */
export interface HistogramEntries {
  cpu: number;
  memory: number;
}

/**
 * The tracker's compact form of a series' open buckets' histograms, all levels in one flat list of
 * entries `[key, weight of level 0, ..., weight of level LEVELS - 1]` (key as in PairList): a
 * span's pieces go to the same key at every level, so one look-up per metric and sample serves all
 * levels, and a key shared by the levels is stored once. One small array per series.
 */
export class LevelHistograms {
  private readonly entries: number[] = [];
  /** Set when an entry was appended or a level taken: `compact` has work. */
  private changed = false;

  constructor(private readonly levels: number) {}

  /** Offset of the entry of `key`, appended (weights 0) when absent. */
  private entryOf(key: number): number {
    const { entries, levels } = this;
    const stride = levels + 1;
    for (let i = 0; i < entries.length; i += stride) if (entries[i] === key) return i;
    const at = entries.length;
    this.changed = true;
    entries.push(key);
    for (let l = 0; l < levels; l++) entries.push(0);
    return at;
  }

  /** Entry offsets of a span's indices (pieceIndicesOf), -1 where not measured; valid until `compact`. */
  entriesOf(indices: PieceIndices): HistogramEntries {
    return {
      cpu: indices.cpu >= 0 ? this.entryOf(indices.cpu) : -1,
      memory: indices.memory >= 0 ? this.entryOf(MEMORY_KEY + indices.memory) : -1,
    };
  }

  /** Adds `ms` to level `level` of the entries (entriesOf). */
  add(entries: HistogramEntries, level: number, ms: number): void {
    const list = this.entries;
    if (entries.cpu >= 0) list[entries.cpu + 1 + level] = (list[entries.cpu + 1 + level] as number) + ms;
    if (entries.memory >= 0)
      list[entries.memory + 1 + level] = (list[entries.memory + 1 + level] as number) + ms;
  }

  /** Takes one level's weights out (as a PairList, for BucketHistograms.adopt); entries stay until `compact`. */
  take(level: number): PairList {
    const taken: PairList = [];
    const list = this.entries;
    this.changed = true;
    const stride = this.levels + 1;
    for (let i = 0; i < list.length; i += stride) {
      const weight = list[i + 1 + level] as number;
      if (weight === 0) continue;
      taken.push(list[i] as number, weight);
      list[i + 1 + level] = 0;
    }
    return taken;
  }

  /** Removes the entries no level has weight in (invalidates the offsets entriesOf gave). */
  compact(): void {
    if (!this.changed) return;
    this.changed = false;
    const list = this.entries;
    const stride = this.levels + 1;
    let kept = 0;
    for (let i = 0; i < list.length; i += stride) {
      let used = false;
      for (let l = 1; l <= this.levels; l++) if (list[i + l] !== 0) used = true;
      if (!used) continue;
      if (kept !== i) for (let f = 0; f < stride; f++) list[kept + f] = list[i + f] as number;
      kept += stride;
    }
    if (kept !== list.length) list.length = kept;
  }
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

/**
 * A bucket's two histograms, kept as one pair list (CPU keys are bucket indices, memory keys
 * MEMORY_KEY + index): many are made (every closed bucket has one), so no Map per bucket; readers
 * take Map views (`cpu`, `memory`).
 */
export class BucketHistograms {
  private pairs: PairList = [];

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
    if (!(ms > 0)) return;
    if (indices.cpu >= 0) addPair(this.pairs, indices.cpu, ms);
    if (indices.memory >= 0) addPair(this.pairs, MEMORY_KEY + indices.memory, ms);
  }

  /** Takes over a list of distinct keys (LevelHistograms.take) while empty; adds it otherwise. */
  adopt(pairs: PairList): void {
    if (this.pairs.length === 0) this.pairs = pairs;
    else this.addPairs(pairs);
  }

  /** Adds pairs. */
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
    const stored: StoredHistograms = {};
    if (cpu) stored.cpu = cpu;
    if (memory) stored.memory = memory;
    return stored;
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
