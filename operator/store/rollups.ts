/**
 * Rollups: per container and bucket, the count, sum, min and max of CPU and memory, and the usage
 * integrated over time for chargeback. Pure functions: accumulate samples (or finer rollups) in
 * memory, turn an accumulator into a document, and build the write operations.
 */
import type { Filter, UpdateFilter } from 'mongodb';
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
  /** Largest request and limit seen, where known. */
  requestMax?: number;
  limitMax?: number;
}

/** A rollup bucket; its node and labels are those of the latest sample written to it. */
export interface RollupDoc extends SeriesIdentity {
  /** `<resolution>|<bucket start ms>|<series>` */
  _id: string;
  /** Bucket start. */
  time: Date;
  /** Samples in the bucket, including uptime-only ones. */
  count: number;
  /** Sum of the samples' interval seconds. */
  seconds: number;
  cpu: MetricRollup;
  memory: MetricRollup;
  /** Ids of the parts merged into the bucket: a part is applied at most once. */
  parts: string[];
}

export function rollupId(resolution: Resolution, start: number, series: string): string {
  return `${resolution}|${start}|${series}`;
}

/** Running aggregate of one metric; extremes are +-Infinity while unknown (never stored so). */
export class MetricAccumulator {
  n = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  integral = 0;
  billedIntegral = 0;
  requestMax = -Infinity;
  limitMax = -Infinity;

  add(value: number | null, request: number | undefined, limit: number | undefined, seconds: number): void {
    if (value !== null) {
      this.n += 1;
      this.sum += value;
      this.integral += value * seconds;
      if (value < this.min) this.min = value;
      if (value > this.max) this.max = value;
    }
    this.billedIntegral += Math.max(request ?? 0, value ?? 0) * seconds;
    if (request !== undefined && request > this.requestMax) this.requestMax = request;
    if (limit !== undefined && limit > this.limitMax) this.limitMax = limit;
  }

  merge(stored: MetricRollup): void {
    this.n += stored.n;
    this.sum += stored.sum;
    this.integral += stored.integral;
    this.billedIntegral += stored.billedIntegral;
    if (stored.min !== undefined && stored.min < this.min) this.min = stored.min;
    if (stored.max !== undefined && stored.max > this.max) this.max = stored.max;
    if (stored.requestMax !== undefined && stored.requestMax > this.requestMax)
      this.requestMax = stored.requestMax;
    if (stored.limitMax !== undefined && stored.limitMax > this.limitMax) this.limitMax = stored.limitMax;
  }

  toRollup(): MetricRollup {
    const rollup: MetricRollup = {
      n: this.n,
      sum: this.sum,
      integral: this.integral,
      billedIntegral: this.billedIntegral,
    };
    if (this.n > 0) {
      rollup.min = this.min;
      rollup.max = this.max;
    }
    if (this.requestMax > -Infinity) rollup.requestMax = this.requestMax;
    if (this.limitMax > -Infinity) rollup.limitMax = this.limitMax;
    return rollup;
  }
}

/** Identity of a series, shared by all its buckets (strings are not copied per bucket). */
export interface SeriesIdentity {
  series: string;
  policy: ObjectKey;
  namespace: string;
  pod: string;
  container: string;
  node: string;
  labels: LabelPair[];
}

/** A bucket being accumulated in memory. */
export class BucketAccumulator {
  count = 0;
  seconds = 0;
  /** Time of the latest sample or part added; node and labels follow it. */
  latest = -Infinity;
  readonly cpu = new MetricAccumulator();
  readonly memory = new MetricAccumulator();

  constructor(
    readonly resolution: Resolution,
    readonly start: number,
    public identity: SeriesIdentity,
  ) {}

  addSample(sample: ContainerSample, identity: SeriesIdentity): void {
    const seconds = sample.intervalSeconds;
    this.count += 1;
    this.seconds += seconds;
    this.cpu.add(sample.cpuMillicores, sample.cpuRequestMillicores, sample.cpuLimitMillicores, seconds);
    this.memory.add(sample.memoryBytes, sample.memoryRequestBytes, sample.memoryLimitBytes, seconds);
    if (sample.time >= this.latest) {
      this.latest = sample.time;
      this.identity = identity;
    }
  }

  addRollup(doc: RollupDoc): void {
    this.count += doc.count;
    this.seconds += doc.seconds;
    this.cpu.merge(doc.cpu);
    this.memory.merge(doc.memory);
    if (doc.time.getTime() >= this.latest) {
      this.latest = doc.time.getTime();
      this.identity = { ...this.identity, node: doc.node, labels: doc.labels };
    }
  }

  toDoc(parts: string[]): RollupDoc {
    const { series, policy, namespace, pod, container, node, labels } = this.identity;
    return {
      _id: rollupId(this.resolution, this.start, series),
      series,
      time: new Date(this.start),
      policy,
      namespace,
      pod,
      container,
      node,
      labels,
      count: this.count,
      seconds: this.seconds,
      cpu: this.cpu.toRollup(),
      memory: this.memory.toRollup(),
      parts,
    };
  }
}

export function identityOf(sample: ContainerSample, series = seriesKey(sample)): SeriesIdentity {
  const { policy, namespace, pod, container, node, labels } = sample;
  return { series, policy, namespace, pod, container, node, labels };
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
    const id = rollupId(resolution, start, doc.series);
    let bucket = buckets.get(id);
    if (bucket === undefined) buckets.set(id, (bucket = new BucketAccumulator(resolution, start, doc)));
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
  const inc: Record<string, number> = { count: part.count, seconds: part.seconds };
  const min: Record<string, number> = {};
  const max: Record<string, number> = {};
  for (const name of ['cpu', 'memory'] as const) {
    const metric = part[name];
    inc[`${name}.n`] = metric.n;
    inc[`${name}.sum`] = metric.sum;
    inc[`${name}.integral`] = metric.integral;
    inc[`${name}.billedIntegral`] = metric.billedIntegral;
    if (metric.min !== undefined) min[`${name}.min`] = metric.min;
    if (metric.max !== undefined) max[`${name}.max`] = metric.max;
    if (metric.requestMax !== undefined) max[`${name}.requestMax`] = metric.requestMax;
    if (metric.limitMax !== undefined) max[`${name}.limitMax`] = metric.limitMax;
  }
  const update: UpdateFilter<RollupDoc> = {
    $inc: inc,
    $set: { node: part.node, labels: part.labels },
    $push: { parts: partId },
    $setOnInsert: {
      series: part.series,
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
