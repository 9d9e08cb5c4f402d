/**
 * Rollups: per container and bucket, the count, sum, min and max of CPU and memory, and the
 * usage integrated over time for chargeback. Built in memory by pure functions (from samples,
 * or from the rollups of the next finer resolution) and written as upserts.
 *
 * Two ways to write a bucket:
 * - `incrementOperation`: `$inc` of counts and sums, `$min`, `$max`, upserted on a deterministic
 *   `_id`. Used for samples whose raw insert has just happened, so they were never rolled up.
 * - `replaceOperation`: the whole bucket recomputed from the level below. Idempotent; used for
 *   buckets touched by a sample that was already stored (a retried batch), since nobody can know
 *   whether the earlier attempt's increments were applied.
 */
import type { AnyBulkWriteOperation } from 'mongodb';
import type { ContainerSample, LabelPair, ObjectKey } from '../model.js';
import { bucketStart, type Resolution } from './resolutions.js';
import { seriesKey } from './snapshots.js';

/** One metric (CPU millicores or memory bytes) over a bucket. */
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

export interface RollupDoc {
  /** `<resolution>|<bucket start ms>|<series>` */
  _id: string;
  series: string;
  /** Bucket start. */
  time: Date;
  policy: ObjectKey;
  namespace: string;
  pod: string;
  container: string;
  /** Node and labels of the latest write to the bucket. */
  node: string;
  labels: LabelPair[];
  /** Samples in the bucket, including uptime-only ones. */
  count: number;
  /** Sum of the samples' interval seconds. */
  seconds: number;
  cpu: MetricRollup;
  memory: MetricRollup;
}

export function rollupId(resolution: Resolution, start: number, series: string): string {
  return `${resolution}|${start}|${series}`;
}

function emptyMetric(): MetricRollup {
  return { n: 0, sum: 0, integral: 0, billedIntegral: 0 };
}

function addValue(
  metric: MetricRollup,
  value: number | null,
  request: number | undefined,
  limit: number | undefined,
  seconds: number,
): void {
  if (value !== null) {
    metric.n += 1;
    metric.sum += value;
    metric.integral += value * seconds;
    if (metric.min === undefined || value < metric.min) metric.min = value;
    if (metric.max === undefined || value > metric.max) metric.max = value;
  }
  const billed = Math.max(request ?? 0, value ?? 0);
  metric.billedIntegral += billed * seconds;
  if (request !== undefined && (metric.requestMax === undefined || request > metric.requestMax)) {
    metric.requestMax = request;
  }
  if (limit !== undefined && (metric.limitMax === undefined || limit > metric.limitMax)) metric.limitMax = limit;
}

function mergeMetric(into: MetricRollup, from: MetricRollup): void {
  into.n += from.n;
  into.sum += from.sum;
  into.integral += from.integral;
  into.billedIntegral += from.billedIntegral;
  for (const key of ['min', 'requestMax', 'limitMax', 'max'] as const) {
    const value = from[key];
    if (value === undefined) continue;
    const current = into[key];
    if (current === undefined || (key === 'min' ? value < current : value > current)) into[key] = value;
  }
}

/** Rollup documents of `resolution` for the samples, keyed by `_id` (samples of a bucket merged). */
export function rollupsOfSamples(samples: readonly ContainerSample[], resolution: Resolution): Map<string, RollupDoc> {
  return rollupsOfSamplesAt(samples, [resolution]).get(resolution) ?? new Map();
}

/**
 * Rollup documents of several resolutions in one pass over the samples. Node and labels come from
 * the latest sample of each bucket.
 */
export function rollupsOfSamplesAt(
  samples: readonly ContainerSample[],
  resolutions: readonly Resolution[],
): Map<Resolution, Map<string, RollupDoc>> {
  const result = new Map<Resolution, Map<string, RollupDoc>>(resolutions.map((r) => [r, new Map()]));
  const latest = new Map<RollupDoc, number>();
  for (const sample of samples) {
    const series = seriesKey(sample);
    for (const resolution of resolutions) {
      const docs = result.get(resolution) as Map<string, RollupDoc>;
      const start = bucketStart(sample.time, resolution);
      const id = rollupId(resolution, start, series);
      let doc = docs.get(id);
      if (doc === undefined) {
        doc = {
          _id: id,
          series,
          time: new Date(start),
          policy: sample.policy,
          namespace: sample.namespace,
          pod: sample.pod,
          container: sample.container,
          node: sample.node,
          labels: sample.labels,
          count: 0,
          seconds: 0,
          cpu: emptyMetric(),
          memory: emptyMetric(),
        };
        docs.set(id, doc);
        latest.set(doc, sample.time);
      } else if (sample.time > (latest.get(doc) as number)) {
        doc.node = sample.node;
        doc.labels = sample.labels;
        latest.set(doc, sample.time);
      }
      const seconds = sample.intervalSeconds;
      doc.count += 1;
      doc.seconds += seconds;
      addValue(doc.cpu, sample.cpuMillicores, sample.cpuRequestMillicores, sample.cpuLimitMillicores, seconds);
      addValue(doc.memory, sample.memoryBytes, sample.memoryRequestBytes, sample.memoryLimitBytes, seconds);
    }
  }
  return result;
}

/**
 * Rollup documents of `resolution` merged from finer rollup documents (of any finer resolution)
 * of the same series. Node and labels come from the latest finer bucket.
 */
export function rollupsOfRollups(finer: readonly RollupDoc[], resolution: Resolution): Map<string, RollupDoc> {
  const docs = new Map<string, RollupDoc>();
  const latest = new Map<RollupDoc, number>();
  for (const part of finer) {
    const start = bucketStart(part.time.getTime(), resolution);
    const id = rollupId(resolution, start, part.series);
    let doc = docs.get(id);
    if (doc === undefined) {
      doc = {
        ...part,
        _id: id,
        time: new Date(start),
        cpu: { ...emptyMetric() },
        memory: { ...emptyMetric() },
        count: 0,
        seconds: 0,
      };
      docs.set(id, doc);
      latest.set(doc, part.time.getTime());
    } else if (part.time.getTime() > (latest.get(doc) as number)) {
      doc.node = part.node;
      doc.labels = part.labels;
      latest.set(doc, part.time.getTime());
    }
    doc.count += part.count;
    doc.seconds += part.seconds;
    mergeMetric(doc.cpu, part.cpu);
    mergeMetric(doc.memory, part.memory);
  }
  return docs;
}

/** `$inc` of counts and sums, `$min`/`$max` of extremes, upserted: adds the bucket's samples. */
export function incrementOperation(doc: RollupDoc): AnyBulkWriteOperation<RollupDoc> {
  const inc: Record<string, number> = { count: doc.count, seconds: doc.seconds };
  const min: Record<string, number> = {};
  const max: Record<string, number> = {};
  for (const name of ['cpu', 'memory'] as const) {
    const metric = doc[name];
    inc[`${name}.n`] = metric.n;
    inc[`${name}.sum`] = metric.sum;
    inc[`${name}.integral`] = metric.integral;
    inc[`${name}.billedIntegral`] = metric.billedIntegral;
    if (metric.min !== undefined) min[`${name}.min`] = metric.min;
    if (metric.max !== undefined) max[`${name}.max`] = metric.max;
    if (metric.requestMax !== undefined) max[`${name}.requestMax`] = metric.requestMax;
    if (metric.limitMax !== undefined) max[`${name}.limitMax`] = metric.limitMax;
  }
  const update: Record<string, unknown> = {
    $inc: inc,
    $set: { node: doc.node, labels: doc.labels },
    $setOnInsert: {
      series: doc.series,
      time: doc.time,
      policy: doc.policy,
      namespace: doc.namespace,
      pod: doc.pod,
      container: doc.container,
    },
  };
  if (Object.keys(min).length > 0) update.$min = min;
  if (Object.keys(max).length > 0) update.$max = max;
  return { updateOne: { filter: { _id: doc._id }, update, upsert: true } };
}

/** The whole bucket, as recomputed: idempotent. */
export function replaceOperation(doc: RollupDoc): AnyBulkWriteOperation<RollupDoc> {
  return { replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true } };
}
