/**
 * Rollups: per series (container) and bucket, the readings' count, sum, min and max of CPU and
 * memory (for history), and the usage integrated over the time the readings' spans cover, split
 * at the bucket's boundaries (for chargeback). Pure functions: accumulate samples (or finer
 * rollups) in memory, turn an accumulator into a document, and build the write operations.
 */
import { Double, type Filter, type UpdateFilter } from 'mongodb';
import type { ContainerSample, LabelPair, ObjectKey, Retention } from '../model.js';
import { bucketStart, finerResolution, keepMs, RESOLUTION_MS, type Resolution } from './resolutions.js';
import { seriesKey } from './snapshots.js';
import { spanOf, splitSpan, type Span } from './spans.js';
import {
  BucketHistograms,
  histogramIncrements,
  pieceIndicesOf,
  type PairList,
  type StoredHistograms,
} from './histograms.js';
import { addIoPiece, emptyIo, ioIncFields, ioPieces, mergeIo, type IoRollup } from './io-counters.js';
import { labelSetId } from './label-sets.js';

/** One metric (CPU millicores or memory bytes) over a bucket, as stored. */
export interface MetricRollup {
  /** Readings in the bucket with a value (uptime-only readings have none). */
  n: number;
  sum: number;
  /** Absent while `n` is 0. */
  min?: number;
  max?: number;
  /** Usage over the span pieces in the bucket: millicore-seconds or byte-seconds. */
  integral: number;
  /** Sum over the pieces of max(request x piece, usage of the piece); the request alone when not measured. */
  billedIntegral: number;
  /** Milliseconds of the bucket covered by measured span pieces (absent in documents of schema 2). */
  ms?: number;
}

/**
 * A rollup bucket: what the readers use and no more (every field costs on each of the many bucket
 * writes). It holds one series under one label set (label-sets.ts): the pieces of the spans read
 * while the container had these labels. Buckets of schema 4 and earlier hold every span of the
 * series in the bucket, under the labels of its latest reading.
 */
export interface RollupDoc extends SeriesScope {
  /** `<resolution>|<bucket start ms>|<series>|<label set id>` (schema 4 and earlier: no label set id). */
  _id: string;
  /** The container's series (see seriesKey); absent in documents of schema 2 (derived from the id). */
  series?: string;
  /** Bucket start. */
  time: Date;
  policy: ObjectKey;
  container: string;
  labels: LabelPair[];
  /** UID of the namespace the usage belongs to (ContainerSample.namespaceUid); absent when not known. */
  namespaceUid?: string;
  /** Readings whose time is in the bucket, including uptime-only ones. */
  count: number;
  cpu: MetricRollup;
  memory: MetricRollup;
  /** Network and block I/O over the span pieces in the bucket (io-counters.ts); absent when no agent supplied any. */
  io?: IoRollup;
  /** Ids of the parts merged into the bucket: a part is applied at most once. */
  parts: string[];
  /** Leadership term of the last writer; a writer of an older term cannot change the document. */
  term?: number;
  /** When retention removes the bucket: its end plus the longest retention of its series' policies. */
  expireAt?: Date;
  /** When the level below (raw readings for 1m) is removed for this bucket's time; edges fall back to this bucket then. */
  finerExpireAt?: Date;
  /** The series' retention (the longest of its policies') when last written: coarser buckets recomputed from this one expire by it. */
  retention?: Retention;
  /** CPU and memory distributions over the bucket (histograms.ts); absent when nothing was measured. */
  hist?: StoredHistograms;
}

export function rollupId(resolution: Resolution, start: number, series: string, labelSet: string): string {
  return `${resolution}|${start}|${series}|${labelSet}`;
}

/**
 * The series of a stored bucket. Documents of schema 2 do not hold it (theirs was per policy):
 * their container's series is the one of a sample without a pod UID.
 */
export function seriesOfDoc(doc: RollupDoc): string {
  return doc.series ?? `${doc.namespace}|${doc.pod}|${doc.container}`;
}

/*
 * Running aggregates live in arrays of doubles rather than in object fields. The tracker keeps a
 * container's four open buckets in one Float64Array (no boxed number per field), which is what
 * keeps the memory per tracked container small.
 */

/** Doubles a bucket or metric aggregate is kept in. */
type Doubles = Float64Array | number[];

/** Offsets of a metric's aggregate; extremes are +-Infinity while unknown (never stored so). */
const N = 0;
const SUM = 1;
const MIN = 2;
const MAX = 3;
const INTEGRAL = 4;
const BILLED = 5;
const MS = 6;
const METRIC_FIELDS = 7;

/** Offsets of a bucket's aggregate: its start, latest reading time, count, CPU, memory. */
const START = 0;
const LATEST = 1;
const COUNT = 2;
const CPU = 3;
const MEMORY = CPU + METRIC_FIELDS;
/** Doubles one bucket takes in an array. */
export const BUCKET_FIELDS = MEMORY + METRIC_FIELDS;

function addTo(values: Doubles, index: number, amount: number): void {
  values[index] = (values[index] as number) + amount;
}

function initMetric(values: Doubles, at: number): void {
  // Field by field: `fill` over a range this short costs more than the stores (hot: every bucket opened).
  values[at + N] = 0;
  values[at + SUM] = 0;
  values[at + MIN] = Infinity;
  values[at + MAX] = -Infinity;
  values[at + INTEGRAL] = 0;
  values[at + BILLED] = 0;
  values[at + MS] = 0;
}

/** Starts an empty bucket at `at`. */
export function initBucketAt(values: Doubles, at: number, start: number): void {
  values[at + START] = start;
  values[at + LATEST] = -Infinity;
  values[at + COUNT] = 0;
  initMetric(values, at + CPU);
  initMetric(values, at + MEMORY);
}

/** Start of the bucket at `at` (NaN marks a free slot, for whoever keeps buckets in an array). */
export function bucketStartAt(values: Doubles, at: number): number {
  return values[at + START] as number;
}

function addReadingMetric(values: Doubles, at: number, value: number | null): void {
  if (value === null) return;
  addTo(values, at + N, 1);
  addTo(values, at + SUM, value);
  if (value < (values[at + MIN] as number)) values[at + MIN] = value;
  if (value > (values[at + MAX] as number)) values[at + MAX] = value;
}

/** Adds a reading (its time is in the bucket) to the bucket at `at`; true when it is the bucket's latest so far. */
export function addReadingAt(values: Doubles, at: number, sample: ContainerSample): boolean {
  addTo(values, at + COUNT, 1);
  addReadingMetric(values, at + CPU, sample.cpuMillicores);
  addReadingMetric(values, at + MEMORY, sample.memoryBytes);
  if (sample.time < (values[at + LATEST] as number)) return false;
  values[at + LATEST] = sample.time;
  return true;
}

function addPieceMetric(
  values: Doubles,
  at: number,
  usage: number | null,
  request: number | undefined,
  ms: number,
  spanMs: number,
  billed?: number,
): void {
  const requested = ((request ?? 0) * ms) / 1000;
  // A span that bills an explicit amount (merged readings) bills its share of it.
  const share = (value: number) => (ms === spanMs ? value : (value * ms) / spanMs);
  if (usage === null) {
    addTo(values, at + BILLED, billed === undefined ? requested : share(billed));
    return;
  }
  // Multiplied first: a piece of a whole number of milliseconds gets its exact share.
  const used = share(usage);
  addTo(values, at + INTEGRAL, used);
  addTo(values, at + BILLED, billed === undefined ? Math.max(requested, used) : share(billed));
  addTo(values, at + MS, ms);
}

/** Adds the piece of a span (`ms` of it, its share of the increments) to the bucket at `at`. */
export function addPieceAt(
  values: Doubles,
  at: number,
  sample: ContainerSample,
  span: Span,
  ms: number,
): void {
  const spanMs = span.to - span.from;
  addPieceMetric(values, at + CPU, span.cpu, sample.cpuRequestMillicores, ms, spanMs, span.cpuBilled);
  addPieceMetric(values, at + MEMORY, span.memory, sample.memoryRequestBytes, ms, spanMs, span.memoryBilled);
}

/**
 * Calls `into(start, piece)` for every bucket of `resolution` a sample adds to, in time order:
 * each piece of its span, and the bucket holding its time (the reading itself), which may get no
 * piece (a span ending on the boundary). Used by the tracker and to recompute buckets alike.
 */
export function forEachBucket(
  sample: ContainerSample,
  span: Span,
  resolution: Resolution,
  into: (start: number, piece: { ms: number } | undefined, reading: boolean) => void,
): void {
  const width = RESOLUTION_MS[resolution];
  const readingStart = bucketStart(sample.time, resolution);
  let readingDone = false;
  for (const piece of splitSpan(span.from, span.to, width)) {
    if (!readingDone && readingStart < piece.start) {
      into(readingStart, undefined, true);
      readingDone = true;
    }
    const reading = piece.start === readingStart;
    into(piece.start, piece, reading);
    if (reading) readingDone = true;
  }
  if (!readingDone) into(readingStart, undefined, true);
}

/** Running aggregate of one metric: a view on `METRIC_FIELDS` doubles (its own unless given). */
export class MetricAccumulator {
  constructor(
    private readonly values: Doubles = new Array<number>(METRIC_FIELDS).fill(0),
    private readonly at = 0,
    fresh = true,
  ) {
    if (fresh) initMetric(values, at);
  }

  get n(): number {
    return this.values[this.at + N] as number;
  }
  get sum(): number {
    return this.values[this.at + SUM] as number;
  }
  get min(): number {
    return this.values[this.at + MIN] as number;
  }
  get max(): number {
    return this.values[this.at + MAX] as number;
  }
  get integral(): number {
    return this.values[this.at + INTEGRAL] as number;
  }
  get billedIntegral(): number {
    return this.values[this.at + BILLED] as number;
  }
  get ms(): number {
    return this.values[this.at + MS] as number;
  }

  /** Adds a stored rollup, its integrals scaled by `share` (a bucket pro-rated at a window's edge). */
  merge(stored: MetricRollup, share = 1): void {
    mergeMetricAt(this.values, this.at, stored, share);
  }

  /** Adds `ms` of a raw reading's span of `spanMs` (that bills `billed` when given). */
  addPiece(
    usage: number | null,
    request: number | undefined,
    ms: number,
    spanMs: number,
    billed?: number,
  ): void {
    addPieceMetric(this.values, this.at, usage, request, ms, spanMs, billed);
  }

  addReading(value: number | null): void {
    addReadingMetric(this.values, this.at, value);
  }

  toRollup(): MetricRollup {
    return metricRollupAt(this.values, this.at);
  }
}

function mergeMetricAt(values: Doubles, at: number, stored: MetricRollup, share = 1): void {
  addTo(values, at + N, stored.n);
  addTo(values, at + SUM, stored.sum);
  addTo(values, at + INTEGRAL, stored.integral * share);
  addTo(values, at + BILLED, stored.billedIntegral * share);
  addTo(values, at + MS, (stored.ms ?? 0) * share);
  if (stored.min !== undefined && stored.min < (values[at + MIN] as number)) values[at + MIN] = stored.min;
  if (stored.max !== undefined && stored.max > (values[at + MAX] as number)) values[at + MAX] = stored.max;
}

function metricRollupAt(values: Doubles, at: number): MetricRollup {
  const n = values[at + N] as number;
  const rollup: MetricRollup = {
    n,
    sum: values[at + SUM] as number,
    integral: values[at + INTEGRAL] as number,
    billedIntegral: values[at + BILLED] as number,
    ms: values[at + MS] as number,
  };
  if (n > 0) {
    rollup.min = values[at + MIN] as number;
    rollup.max = values[at + MAX] as number;
  }
  return rollup;
}

/** What queries select buckets by. */
export interface SeriesScope {
  namespace: string;
  pod: string;
}

/** Identity of a series under one label set, shared by its buckets (strings are not copied per bucket). */
export interface SeriesIdentity extends SeriesScope {
  series: string;
  policy: ObjectKey;
  container: string;
  labels: LabelPair[];
  /** labelSetId(labels): the buckets of each label set are documents of their own. */
  labelSet: string;
  namespaceUid?: string;
  retention?: Retention;
}

/** When a bucket and the level below it expire for a series kept `retention`. */
export function expiryOf(
  resolution: Resolution,
  start: number,
  retention: Retention | undefined,
): { expireAt?: Date; finerExpireAt?: Date } {
  if (retention === undefined) return {};
  const end = start + RESOLUTION_MS[resolution];
  return {
    expireAt: new Date(end + keepMs(resolution, retention)),
    finerExpireAt: new Date(end + keepMs(finerResolution(resolution), retention)),
  };
}

/**
 * A bucket being accumulated in memory: `BUCKET_FIELDS` doubles of its own. Many are created
 * (every closed bucket is one), so the metric views are made only when asked for.
 */
export class BucketAccumulator {
  private readonly values: number[];
  readonly histograms = new BucketHistograms();
  /** I/O of the bucket, kept beside the doubles (only buckets of series with an agent have any). */
  io: IoRollup | undefined;

  constructor(
    readonly resolution: Resolution,
    start: number,
    public identity: SeriesIdentity,
  ) {
    this.values = new Array<number>(BUCKET_FIELDS);
    initBucketAt(this.values, 0, start);
  }

  /** A copy of the bucket kept at `at` in a larger array. */
  static copyOf(
    resolution: Resolution,
    identity: SeriesIdentity,
    values: Doubles,
    at: number,
    histogramPairs?: PairList,
  ): BucketAccumulator {
    const bucket = new BucketAccumulator(resolution, bucketStartAt(values, at), identity);
    for (let i = 0; i < BUCKET_FIELDS; i++) bucket.values[i] = values[at + i] as number;
    if (histogramPairs) bucket.histograms.adopt(histogramPairs);
    return bucket;
  }

  /** Adds `ms` of the sample's I/O span (the caller split it). */
  addIo(sample: ContainerSample, ms: number): void {
    if (sample.io === undefined) return;
    addIoPiece((this.io ??= emptyIo()), sample.io, ms);
  }

  get cpu(): MetricAccumulator {
    return new MetricAccumulator(this.values, CPU, false);
  }
  get memory(): MetricAccumulator {
    return new MetricAccumulator(this.values, MEMORY, false);
  }
  get start(): number {
    return this.values[START] as number;
  }
  get count(): number {
    return this.values[COUNT] as number;
  }
  /** Time of the latest reading or part added; the labels follow it. */
  get latest(): number {
    return this.values[LATEST] as number;
  }

  addSample(sample: ContainerSample, identity: SeriesIdentity, span = spanOf(sample)): void {
    forEachBucket(sample, span, this.resolution, (start, piece, reading) => {
      if (start !== this.start) return;
      if (piece) {
        addPieceAt(this.values, 0, sample, span, piece.ms);
        this.histograms.addPiece(pieceIndicesOf(span), piece.ms);
      }
      if (reading && addReadingAt(this.values, 0, sample)) this.identity = identity;
    });
    if (sample.io !== undefined)
      for (const piece of ioPieces(sample.io, RESOLUTION_MS[this.resolution]))
        if (piece.start === this.start) this.addIo(sample, piece.ms);
  }

  /** Adds a piece of a span and, when `reading`, the reading itself (the caller split the span). */
  addSplit(
    sample: ContainerSample,
    identity: SeriesIdentity,
    span: Span,
    piece: { ms: number } | undefined,
    reading: boolean,
  ): void {
    if (piece) {
      addPieceAt(this.values, 0, sample, span, piece.ms);
      this.histograms.addPiece(pieceIndicesOf(span), piece.ms);
    }
    if (reading && addReadingAt(this.values, 0, sample)) this.identity = identity;
  }

  addRollup(doc: RollupDoc): void {
    addTo(this.values, COUNT, doc.count);
    mergeMetricAt(this.values, CPU, doc.cpu);
    mergeMetricAt(this.values, MEMORY, doc.memory);
    this.histograms.mergeStored(doc.hist);
    if (doc.io) mergeIo((this.io ??= emptyIo()), doc.io);
    if (doc.time.getTime() >= this.latest) {
      this.values[LATEST] = doc.time.getTime();
      this.identity = { ...this.identity, labels: doc.labels };
      if (doc.retention) this.identity.retention = doc.retention;
    }
  }

  toDoc(parts: string[], term?: number): RollupDoc {
    const { series, policy, namespace, pod, container, labels, labelSet, namespaceUid, retention } =
      this.identity;
    const doc: RollupDoc = {
      _id: rollupId(this.resolution, this.start, series, labelSet),
      series,
      time: new Date(this.start),
      policy,
      namespace,
      pod,
      container,
      labels,
      count: this.count,
      cpu: metricRollupAt(this.values, CPU),
      memory: metricRollupAt(this.values, MEMORY),
      parts,
      ...expiryOf(this.resolution, this.start, retention),
    };
    if (namespaceUid !== undefined) doc.namespaceUid = namespaceUid;
    if (retention !== undefined) doc.retention = retention;
    if (term !== undefined) doc.term = term;
    const hist = this.histograms.toStored();
    if (hist !== undefined) doc.hist = hist;
    if (this.io !== undefined) doc.io = this.io;
    return doc;
  }
}

/** The identity of a sample's or a stored bucket's series and label set. */
export function identityOf(source: ContainerSample | RollupDoc, series?: string): SeriesIdentity {
  const { policy, namespace, pod, container, labels } = source;
  const key = series ?? ('intervalSeconds' in source ? seriesKey(source) : seriesOfDoc(source));
  const labelSet = labelSetId(labels);
  const identity: SeriesIdentity = { series: key, policy, namespace, pod, container, labels, labelSet };
  if (source.namespaceUid !== undefined) identity.namespaceUid = source.namespaceUid;
  if (source.retention !== undefined) identity.retention = source.retention;
  return identity;
}

/** Rollups of `resolution` computed from samples (their spans split at the boundaries), keyed by `_id`. */
export function rollupsOfSamples(
  samples: readonly ContainerSample[],
  resolution: Resolution,
  parts: string[],
  window?: { from: number; to: number },
  term?: number,
): Map<string, RollupDoc> {
  const buckets = new Map<string, BucketAccumulator>();
  for (const sample of samples) {
    const identity = identityOf(sample);
    const span = spanOf(sample);
    forEachBucket(sample, span, resolution, (start, piece, reading) => {
      if (window && (start < window.from || start >= window.to)) return;
      const id = rollupId(resolution, start, identity.series, identity.labelSet);
      let bucket = buckets.get(id);
      if (bucket === undefined)
        buckets.set(id, (bucket = new BucketAccumulator(resolution, start, identity)));
      bucket.addSplit(sample, identity, span, piece, reading);
    });
    if (sample.io === undefined) continue;
    for (const piece of ioPieces(sample.io, RESOLUTION_MS[resolution])) {
      if (window && (piece.start < window.from || piece.start >= window.to)) continue;
      const id = rollupId(resolution, piece.start, identity.series, identity.labelSet);
      let bucket = buckets.get(id);
      if (bucket === undefined)
        buckets.set(id, (bucket = new BucketAccumulator(resolution, piece.start, identity)));
      bucket.addIo(sample, piece.ms);
    }
  }
  return new Map([...buckets].map(([id, bucket]) => [id, bucket.toDoc(parts, term)]));
}

/** Rollups of `resolution` merged from finer rollups of the same series, keyed by `_id`. */
export function rollupsOfRollups(
  finer: readonly RollupDoc[],
  resolution: Resolution,
  parts: string[],
  term?: number,
): Map<string, RollupDoc> {
  const buckets = new Map<string, BucketAccumulator>();
  for (const doc of finer) {
    const start = bucketStart(doc.time.getTime(), resolution);
    const identity = identityOf(doc);
    const id = rollupId(resolution, start, identity.series, identity.labelSet);
    let bucket = buckets.get(id);
    if (bucket === undefined) buckets.set(id, (bucket = new BucketAccumulator(resolution, start, identity)));
    bucket.addRollup(doc);
  }
  return new Map([...buckets].map(([id, bucket]) => [id, bucket.toDoc(parts, term)]));
}

/**
 * Adds a part to a stored bucket: `$inc` of counts and sums, `$min`/`$max` of extremes, on the
 * bucket's deterministic `_id`, guarded by the part id so that a retry does not count it twice,
 * and by the writer's term so that a writer of an older term changes nothing (either guard
 * failing makes the filter match nothing and the upsert fail with a duplicate key).
 */
export function mergeUpdate(
  part: RollupDoc,
  term?: number,
): { filter: Filter<RollupDoc>; update: UpdateFilter<RollupDoc> } {
  const partId = part.parts[0] as string;
  const inc: Record<string, number | Double> = { count: part.count };
  const min: Record<string, number | Date> = {};
  const max: Record<string, number | Date> = {};
  for (const name of ['cpu', 'memory'] as const) {
    const metric = part[name];
    inc[`${name}.n`] = metric.n;
    // Doubles: a stored 32-bit integer plus a 32-bit increment would overflow (FerretDB wraps).
    inc[`${name}.sum`] = new Double(metric.sum);
    inc[`${name}.integral`] = new Double(metric.integral);
    inc[`${name}.billedIntegral`] = new Double(metric.billedIntegral);
    inc[`${name}.ms`] = new Double(metric.ms ?? 0);
    if (metric.min !== undefined) min[`${name}.min`] = metric.min;
    if (metric.max !== undefined) max[`${name}.max`] = metric.max;
  }
  Object.assign(inc, histogramIncrements(part.hist));
  if (part.io)
    for (const [field, value] of Object.entries(ioIncFields(part.io))) inc[field] = new Double(value);
  if (part.expireAt) max.expireAt = part.expireAt;
  if (part.finerExpireAt) max.finerExpireAt = part.finerExpireAt;
  const setOnInsert: Record<string, unknown> = {
    series: part.series,
    time: part.time,
    policy: part.policy,
    namespace: part.namespace,
    pod: part.pod,
    container: part.container,
  };
  if (part.namespaceUid !== undefined) setOnInsert.namespaceUid = part.namespaceUid;
  const update: UpdateFilter<RollupDoc> = {
    $inc: inc,
    $set: {
      labels: part.labels,
      ...(term !== undefined && { term }),
      ...(part.retention !== undefined && { retention: part.retention }),
    },
    $push: { parts: partId },
    $setOnInsert: setOnInsert,
  };
  if (Object.keys(min).length > 0) update.$min = min;
  if (Object.keys(max).length > 0) update.$max = max;
  const filter: Filter<RollupDoc> = { ...shardKeyOf(part), _id: part._id, parts: { $ne: partId } };
  if (term !== undefined) (filter as Record<string, unknown>).term = { $not: { $gt: term } };
  return { filter, update };
}

/**
 * The fields of the shard key recommended for the rollup collections (docs/storage.md), all of
 * them fixed by the bucket's `_id`. An upsert's filter carries them, so that on a sharded
 * collection it goes to the one shard that holds the bucket (where its `_id` is unique) instead
 * of being refused (MongoDB 6) or broadcast to every shard (7 and later).
 */
export function shardKeyOf(doc: Pick<RollupDoc, 'namespace' | 'series' | 'time'>): Filter<RollupDoc> {
  const key: Filter<RollupDoc> = { namespace: doc.namespace };
  if (doc.series !== undefined) key.series = doc.series;
  key.time = doc.time;
  return key;
}
