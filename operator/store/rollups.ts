/**
 * Rollups: per container and bucket, the count, sum, min and max of CPU and memory, and the usage
 * integrated over time for chargeback. Pure functions: accumulate samples (or finer rollups) in
 * memory, turn an accumulator into a document, and build the write operations.
 */
import { Double, type Filter, type UpdateFilter } from 'mongodb';
import type { ContainerSample, LabelPair, ObjectKey } from '../model.js';
import { bucketStart, type Resolution } from './resolutions.js';
import { seriesKey } from './snapshots.js';

/** One metric (CPU millicores or memory bytes) over a bucket, as stored. */
export interface MetricRollup {
  /** Samples with a value (uptime-only samples have none). */
  n: number;
  sum: number;
  /** Absent while `n` is 0. */
  min?: number;
  max?: number;
  /** Sum of value x interval seconds: millicore-seconds or byte-seconds. */
  integral: number;
  /** Sum of max(request, value) x interval seconds; the request alone when no value was measured. */
  billedIntegral: number;
}

/**
 * A rollup bucket: what the readers use and no more (every field costs on each of the many bucket
 * writes). Its labels are those of the latest sample written to it. The series is not stored: it
 * is `seriesKey` of the document.
 */
export interface RollupDoc extends SeriesScope {
  /** `<resolution>|<bucket start ms>|<series>` */
  _id: string;
  /** Bucket start. */
  time: Date;
  policy: ObjectKey;
  container: string;
  labels: LabelPair[];
  /** Samples in the bucket, including uptime-only ones. */
  count: number;
  cpu: MetricRollup;
  memory: MetricRollup;
  /** Ids of the parts merged into the bucket: a part is applied at most once. */
  parts: string[];
}

export function rollupId(resolution: Resolution, start: number, series: string): string {
  return `${resolution}|${start}|${series}`;
}

/*
 * Running aggregates live in arrays of doubles rather than in object fields. The tracker keeps a
 * container's four open buckets in one Float64Array (no boxed number per field), which is what
 * keeps the memory per tracked container small. The classes below use plain arrays of doubles:
 * they are many and short-lived (every closed bucket is one), and a small Float64Array costs a
 * buffer outside the heap, several times slower to make. `addSampleAt` is the one place a sample
 * is accumulated, for the tracker and for them.
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
const METRIC_FIELDS = 6;

/** Offsets of a bucket's aggregate: its start, latest sample time, count, CPU, memory. */
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
  values.fill(0, at, at + METRIC_FIELDS);
  values[at + MIN] = Infinity;
  values[at + MAX] = -Infinity;
}

function addMetric(
  values: Doubles,
  at: number,
  value: number | null,
  request: number | undefined,
  seconds: number,
): void {
  if (value !== null) {
    addTo(values, at + N, 1);
    addTo(values, at + SUM, value);
    addTo(values, at + INTEGRAL, value * seconds);
    if (value < (values[at + MIN] as number)) values[at + MIN] = value;
    if (value > (values[at + MAX] as number)) values[at + MAX] = value;
  }
  addTo(values, at + BILLED, Math.max(request ?? 0, value ?? 0) * seconds);
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

/** Adds a sample to the bucket at `at`; true when it is the bucket's latest so far (its identity then applies). */
export function addSampleAt(values: Doubles, at: number, sample: ContainerSample): boolean {
  const seconds = sample.intervalSeconds;
  addTo(values, at + COUNT, 1);
  addMetric(values, at + CPU, sample.cpuMillicores, sample.cpuRequestMillicores, seconds);
  addMetric(values, at + MEMORY, sample.memoryBytes, sample.memoryRequestBytes, seconds);
  if (sample.time < (values[at + LATEST] as number)) return false;
  values[at + LATEST] = sample.time;
  return true;
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

  merge(stored: MetricRollup): void {
    mergeMetricAt(this.values, this.at, stored);
  }

  toRollup(): MetricRollup {
    return metricRollupAt(this.values, this.at);
  }
}

function mergeMetricAt(values: Doubles, at: number, stored: MetricRollup): void {
  addTo(values, at + N, stored.n);
  addTo(values, at + SUM, stored.sum);
  addTo(values, at + INTEGRAL, stored.integral);
  addTo(values, at + BILLED, stored.billedIntegral);
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

/** Identity of a series, shared by all its buckets (strings are not copied per bucket). */
export interface SeriesIdentity extends SeriesScope {
  series: string;
  policy: ObjectKey;
  container: string;
  labels: LabelPair[];
}

/**
 * A bucket being accumulated in memory: `BUCKET_FIELDS` doubles of its own. Many are created
 * (every closed bucket is one), so the metric views are made only when asked for.
 */
export class BucketAccumulator {
  private readonly values: number[];

  constructor(
    readonly resolution: Resolution,
    start: number,
    public identity: SeriesIdentity,
  ) {
    this.values = new Array<number>(BUCKET_FIELDS);
    initBucketAt(this.values, 0, start);
  }

  /** A copy of the bucket that `addSampleAt` keeps at `at` in a larger array. */
  static copyOf(
    resolution: Resolution,
    identity: SeriesIdentity,
    values: Doubles,
    at: number,
  ): BucketAccumulator {
    const bucket = new BucketAccumulator(resolution, bucketStartAt(values, at), identity);
    for (let i = 0; i < BUCKET_FIELDS; i++) bucket.values[i] = values[at + i] as number;
    return bucket;
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
  /** Time of the latest sample or part added; the labels follow it. */
  get latest(): number {
    return this.values[LATEST] as number;
  }

  addSample(sample: ContainerSample, identity: SeriesIdentity): void {
    if (addSampleAt(this.values, 0, sample)) this.identity = identity;
  }

  addRollup(doc: RollupDoc): void {
    addTo(this.values, COUNT, doc.count);
    mergeMetricAt(this.values, CPU, doc.cpu);
    mergeMetricAt(this.values, MEMORY, doc.memory);
    if (doc.time.getTime() >= this.latest) {
      this.values[LATEST] = doc.time.getTime();
      this.identity = { ...this.identity, labels: doc.labels };
    }
  }

  toDoc(parts: string[]): RollupDoc {
    const { series, policy, namespace, pod, container, labels } = this.identity;
    return {
      _id: rollupId(this.resolution, this.start, series),
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
    };
  }
}

/** The identity of a sample's or a stored bucket's series. */
export function identityOf(source: ContainerSample | RollupDoc, series = seriesKey(source)): SeriesIdentity {
  const { policy, namespace, pod, container, labels } = source;
  return { series, policy, namespace, pod, container, labels };
}

/** Rollups of `resolution` computed from samples, keyed by `_id` (used to recompute buckets). */
export function rollupsOfSamples(
  samples: readonly ContainerSample[],
  resolution: Resolution,
  parts: string[],
): Map<string, RollupDoc> {
  const buckets = new Map<string, BucketAccumulator>();
  for (const sample of samples) {
    const identity = identityOf(sample);
    const start = bucketStart(sample.time, resolution);
    const id = rollupId(resolution, start, identity.series);
    let bucket = buckets.get(id);
    if (bucket === undefined) buckets.set(id, (bucket = new BucketAccumulator(resolution, start, identity)));
    bucket.addSample(sample, identity);
  }
  return new Map([...buckets].map(([id, bucket]) => [id, bucket.toDoc(parts)]));
}

/** Rollups of `resolution` merged from finer rollups of the same series, keyed by `_id`. */
export function rollupsOfRollups(
  finer: readonly RollupDoc[],
  resolution: Resolution,
  parts: string[],
): Map<string, RollupDoc> {
  const buckets = new Map<string, BucketAccumulator>();
  for (const doc of finer) {
    const start = bucketStart(doc.time.getTime(), resolution);
    const identity = identityOf(doc);
    const id = rollupId(resolution, start, identity.series);
    let bucket = buckets.get(id);
    if (bucket === undefined) buckets.set(id, (bucket = new BucketAccumulator(resolution, start, identity)));
    bucket.addRollup(doc);
  }
  return new Map([...buckets].map(([id, bucket]) => [id, bucket.toDoc(parts)]));
}

/**
 * Adds a part to a stored bucket: `$inc` of counts and sums, `$min`/`$max` of extremes, on the
 * bucket's deterministic `_id`, guarded by the part id so that a retry does not count it twice
 * (the guarded filter then matches nothing and the upsert fails with a duplicate key).
 */
export function mergeUpdate(part: RollupDoc): { filter: Filter<RollupDoc>; update: UpdateFilter<RollupDoc> } {
  const partId = part.parts[0] as string;
  const inc: Record<string, number | Double> = { count: part.count };
  const min: Record<string, number> = {};
  const max: Record<string, number> = {};
  for (const name of ['cpu', 'memory'] as const) {
    const metric = part[name];
    inc[`${name}.n`] = metric.n;
    // Doubles: a stored 32-bit integer plus a 32-bit increment would overflow (FerretDB wraps).
    inc[`${name}.sum`] = new Double(metric.sum);
    inc[`${name}.integral`] = new Double(metric.integral);
    inc[`${name}.billedIntegral`] = new Double(metric.billedIntegral);
    if (metric.min !== undefined) min[`${name}.min`] = metric.min;
    if (metric.max !== undefined) max[`${name}.max`] = metric.max;
  }
  const update: UpdateFilter<RollupDoc> = {
    $inc: inc,
    $set: { labels: part.labels },
    $push: { parts: partId },
    $setOnInsert: {
      time: part.time,
      policy: part.policy,
      namespace: part.namespace,
      pod: part.pod,
      container: part.container,
    },
  };
  if (Object.keys(min).length > 0) update.$min = min;
  if (Object.keys(max).length > 0) update.$max = max;
  return { filter: { _id: part._id, parts: { $ne: partId } }, update };
}
