/**
 * Raw snapshots: one document per container and sample, with a deterministic `_id` so that a
 * batch written twice (a retry after an outage) is stored once.
 */
import { MongoBulkWriteError, type Collection } from 'mongodb';
import type { ContainerSample, LabelPair, ObjectKey } from '../model.js';

/** The document of one sample in the `snapshots` collection; field names follow ContainerSample. */
export interface SnapshotDoc {
  /** `<series>|<time ms>` */
  _id: string;
  /** `<policy>|<namespace>|<pod>|<container>`: one collector's stream of one container. */
  series: string;
  time: Date;
  policy: ObjectKey;
  namespace: string;
  pod: string;
  container: string;
  node: string;
  labels: LabelPair[];
  cpuMillicores: number | null;
  memoryBytes: number | null;
  uptimeSeconds: number;
  intervalSeconds: number;
  cpuRequestMillicores?: number;
  cpuLimitMillicores?: number;
  memoryRequestBytes?: number;
  memoryLimitBytes?: number;
  cpuPercentOfRequest?: number;
  cpuPercentOfLimit?: number;
  memoryPercentOfRequest?: number;
  memoryPercentOfLimit?: number;
}

const OPTIONAL_NUMBERS = [
  'cpuRequestMillicores',
  'cpuLimitMillicores',
  'memoryRequestBytes',
  'memoryLimitBytes',
  'cpuPercentOfRequest',
  'cpuPercentOfLimit',
  'memoryPercentOfRequest',
  'memoryPercentOfLimit',
] as const;

/** Names contain no `|`: Kubernetes names are DNS labels or subdomains. */
export function seriesKey(
  sample: Pick<ContainerSample, 'policy' | 'namespace' | 'pod' | 'container'>,
): string {
  return `${sample.policy}|${sample.namespace}|${sample.pod}|${sample.container}`;
}

/**
 * Why a sample cannot be stored (the field and the problem), or null when it can. MongoDB
 * cannot hold NaN or Infinity on every server, and a bad time would land in a wrong bucket.
 */
export function invalidSampleField(sample: ContainerSample): string | null {
  if (!Number.isFinite(sample.time) || sample.time < 0)
    return `time: ${sample.time} is not a valid timestamp`;
  if (!(Number.isFinite(sample.intervalSeconds) && sample.intervalSeconds > 0)) {
    return `intervalSeconds: ${sample.intervalSeconds} is not a positive number`;
  }
  if (!Number.isFinite(sample.uptimeSeconds)) return `uptimeSeconds: ${sample.uptimeSeconds} is not finite`;
  for (const field of ['cpuMillicores', 'memoryBytes'] as const) {
    const value = sample[field];
    if (value !== null && !(Number.isFinite(value) && value >= 0))
      return `${field}: ${value} is not a non-negative number`;
  }
  for (const field of OPTIONAL_NUMBERS) {
    const value = sample[field];
    if (value !== undefined && !Number.isFinite(value)) return `${field}: ${value} is not finite`;
  }
  return null;
}

export function toSnapshotDoc(sample: ContainerSample): SnapshotDoc {
  const series = seriesKey(sample);
  const doc: SnapshotDoc = {
    _id: `${series}|${sample.time}`,
    series,
    time: new Date(sample.time),
    policy: sample.policy,
    namespace: sample.namespace,
    pod: sample.pod,
    container: sample.container,
    node: sample.node,
    labels: sample.labels,
    cpuMillicores: sample.cpuMillicores,
    memoryBytes: sample.memoryBytes,
    uptimeSeconds: sample.uptimeSeconds,
    intervalSeconds: sample.intervalSeconds,
  };
  for (const field of OPTIONAL_NUMBERS) {
    const value = sample[field];
    if (value !== undefined) doc[field] = value;
  }
  return doc;
}

export function fromSnapshotDoc(doc: SnapshotDoc): ContainerSample {
  const sample: ContainerSample = {
    time: doc.time.getTime(),
    policy: doc.policy,
    namespace: doc.namespace,
    pod: doc.pod,
    container: doc.container,
    node: doc.node,
    labels: doc.labels,
    cpuMillicores: doc.cpuMillicores,
    memoryBytes: doc.memoryBytes,
    uptimeSeconds: doc.uptimeSeconds,
    intervalSeconds: doc.intervalSeconds,
  };
  for (const field of OPTIONAL_NUMBERS) {
    const value = doc[field];
    if (value !== undefined && value !== null) sample[field] = value;
  }
  return sample;
}

const DUPLICATE_KEY = 11000;

/**
 * Inserts the documents, unordered, and returns the `_id`s that were already stored (a retried
 * batch, or a sample the metrics API returned twice). Duplicates are not errors; any other
 * failure is thrown and nothing can be assumed about which documents were written.
 *
 * A time-series collection enforces no unique `_id`, so there the stored `_id`s are looked up
 * first and only the others are inserted (the store serializes its writes).
 */
export async function insertSnapshots(
  collection: Collection<SnapshotDoc>,
  docs: readonly SnapshotDoc[],
  timeSeries: boolean,
): Promise<Set<string>> {
  if (docs.length === 0) return new Set();
  if (timeSeries) return insertMissing(collection, docs);
  try {
    await collection.insertMany(docs as SnapshotDoc[], { ordered: false });
    return new Set();
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    const duplicates = duplicateIndexes(err, docs.length);
    if (duplicates !== null) return new Set(duplicates.map((i) => (docs[i] as SnapshotDoc)._id));
    // The server answered but did not account for every document: look up what is stored.
    return insertMissing(collection, docs);
  }
}

async function insertMissing(
  collection: Collection<SnapshotDoc>,
  docs: readonly SnapshotDoc[],
): Promise<Set<string>> {
  const existing = await storedIds(collection, docs);
  const missing = docs.filter((d) => !existing.has(d._id));
  if (missing.length > 0) await collection.insertMany(missing, { ordered: false });
  return existing;
}

/** Indexes of the documents refused as duplicates, or null when the error says more or less than that. */
function duplicateIndexes(err: MongoBulkWriteError, attempted: number): number[] | null {
  const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  if (writeErrors.length === 0 || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) return null;
  // Every document must be accounted for: inserted or refused as a duplicate.
  if (err.result.insertedCount + writeErrors.length !== attempted) return null;
  return writeErrors.map((e) => e.index);
}

async function storedIds(
  collection: Collection<SnapshotDoc>,
  docs: readonly SnapshotDoc[],
): Promise<Set<string>> {
  let min = Infinity;
  let max = -Infinity;
  for (const doc of docs) {
    min = Math.min(min, doc.time.getTime());
    max = Math.max(max, doc.time.getTime());
  }
  const found = await collection
    .find(
      { _id: { $in: docs.map((d) => d._id) }, time: { $gte: new Date(min), $lte: new Date(max) } },
      { projection: { _id: 1 } },
    )
    .toArray();
  return new Set(found.map((d) => d._id));
}
