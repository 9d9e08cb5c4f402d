/**
 * Raw snapshots: one document per container and sample, with a deterministic `_id` so that a
 * batch written twice (a retry after an outage) is stored once.
 */
import { MongoBulkWriteError, type Collection, type Filter } from 'mongodb';
import { keepMs } from './resolutions.js';
import { spanOf } from './spans.js';
import type { IoReading } from './io-counters.js';
import {
  containerSeriesKey,
  type ContainerSample,
  type LabelPair,
  type ObjectKey,
  type Retention,
} from '../model.js';

/** The document of one sample in the `snapshots` collection; field names follow ContainerSample. */
export interface SnapshotDoc {
  /** `<series>|<time ms>`: a reading is stored once, whichever policy read it. */
  _id: string;
  /**
   * The container's one series (seriesKey). Documents of schema 2 hold
   * `<policy>|<namespace>|<pod>|<container>` here and no `from`: see legacySeries.
   */
  series: string;
  time: Date;
  policy: ObjectKey;
  namespace: string;
  pod: string;
  container: string;
  /** `init` or `sidecar`; absent for a regular container. */
  containerType?: 'init' | 'sidecar';
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
  podUid?: string;
  /** UID of the namespace the usage belongs to; absent when not known (and in schema 4 and earlier). */
  namespaceUid?: string;
  /** Start of the span the reading accounts for (after the store clipped it against what it had). */
  from?: Date;
  cpuCoreSeconds?: number | null;
  memoryByteSeconds?: number | null;
  /** What the span bills, on a span that merges readings (see ContainerSample). */
  cpuCoreSecondsBilled?: number;
  memoryByteSecondsBilled?: number;
  cpuCoreSecondsTotal?: number;
  /** The node agent's I/O over its own span (io-counters.ts). */
  io?: IoReading;
  containerStartTime?: number;
  retention?: Retention;
  /** Term of the writer: the leadership term, or the node's term for a holder of the node (node-fence.ts). */
  term?: number;
  /** Set on spans longer than LONG_SPAN_MS, so that a reader finds the few that reach far back. */
  long?: 1;
  /** When retention removes the reading. */
  expireAt?: Date;
}

/** Spans longer than this are marked `long`; readers look for others only this far after a window. */
export const LONG_SPAN_MS = 3_600_000;

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

/**
 * The one series of a container, whatever the policies selecting it: pod UID and container name;
 * `<namespace>|<pod>|<container>` for a sample without a pod UID (an older collector). Names
 * contain no `|`: Kubernetes names are DNS labels or subdomains.
 */
export function seriesKey(
  sample: Pick<ContainerSample, 'podUid' | 'namespace' | 'pod' | 'container'>,
): string {
  return sample.podUid !== undefined
    ? containerSeriesKey(sample.podUid, sample.container)
    : `${sample.namespace}|${sample.pod}|${sample.container}`;
}

/** The series of a stored reading: documents of schema 2 named it per policy. */
export function seriesOfSnapshot(doc: SnapshotDoc): string {
  return doc.from === undefined ? `${doc.namespace}|${doc.pod}|${doc.container}` : doc.series;
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
  if (sample.from !== undefined && !(Number.isFinite(sample.from) && sample.from <= sample.time))
    return `from: ${sample.from} is not a timestamp at or before time ${sample.time}`;
  for (const field of ['cpuCoreSeconds', 'memoryByteSeconds'] as const) {
    const value = sample[field];
    if (value !== undefined && value !== null && !(Number.isFinite(value) && value >= 0))
      return `${field}: ${value} is not a non-negative number`;
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

export function toSnapshotDoc(sample: ContainerSample, term?: number): SnapshotDoc {
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
  // OPTIONAL_NUMBERS, written out: a store by a variable key is slow, and this runs per reading.
  if (sample.cpuRequestMillicores !== undefined) doc.cpuRequestMillicores = sample.cpuRequestMillicores;
  if (sample.cpuLimitMillicores !== undefined) doc.cpuLimitMillicores = sample.cpuLimitMillicores;
  if (sample.memoryRequestBytes !== undefined) doc.memoryRequestBytes = sample.memoryRequestBytes;
  if (sample.memoryLimitBytes !== undefined) doc.memoryLimitBytes = sample.memoryLimitBytes;
  if (sample.cpuPercentOfRequest !== undefined) doc.cpuPercentOfRequest = sample.cpuPercentOfRequest;
  if (sample.cpuPercentOfLimit !== undefined) doc.cpuPercentOfLimit = sample.cpuPercentOfLimit;
  if (sample.memoryPercentOfRequest !== undefined) doc.memoryPercentOfRequest = sample.memoryPercentOfRequest;
  if (sample.memoryPercentOfLimit !== undefined) doc.memoryPercentOfLimit = sample.memoryPercentOfLimit;
  const span = spanOf(sample);
  doc.from = new Date(span.from);
  if (span.to - span.from > LONG_SPAN_MS) doc.long = 1;
  if (sample.podUid !== undefined) doc.podUid = sample.podUid;
  if (sample.namespaceUid !== undefined) doc.namespaceUid = sample.namespaceUid;
  if (sample.containerType !== undefined) doc.containerType = sample.containerType;
  doc.cpuCoreSeconds = span.cpu === null ? null : span.cpu / 1000;
  doc.memoryByteSeconds = span.memory;
  if (span.cpuBilled !== undefined) doc.cpuCoreSecondsBilled = span.cpuBilled / 1000;
  if (span.memoryBilled !== undefined) doc.memoryByteSecondsBilled = span.memoryBilled;
  if (sample.cpuCoreSecondsTotal !== undefined) doc.cpuCoreSecondsTotal = sample.cpuCoreSecondsTotal;
  if (sample.containerStartTime !== undefined) doc.containerStartTime = sample.containerStartTime;
  if (sample.io !== undefined) doc.io = sample.io;
  if (sample.retention !== undefined) {
    doc.retention = sample.retention;
    doc.expireAt = new Date(sample.time + keepMs('raw', sample.retention));
  }
  if (term !== undefined) doc.term = term;
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
  if (doc.from !== undefined) {
    sample.from = doc.from.getTime();
    // Stored spans are explicit: a reading without increments had no measurement.
    sample.cpuCoreSeconds = doc.cpuCoreSeconds ?? null;
    sample.memoryByteSeconds = doc.memoryByteSeconds ?? null;
    if (typeof doc.cpuCoreSecondsBilled === 'number') sample.cpuCoreSecondsBilled = doc.cpuCoreSecondsBilled;
    if (typeof doc.memoryByteSecondsBilled === 'number')
      sample.memoryByteSecondsBilled = doc.memoryByteSecondsBilled;
  }
  if (doc.podUid !== undefined && doc.podUid !== null) sample.podUid = doc.podUid;
  if (doc.namespaceUid !== undefined && doc.namespaceUid !== null) sample.namespaceUid = doc.namespaceUid;
  if (doc.containerType === 'init' || doc.containerType === 'sidecar')
    sample.containerType = doc.containerType;
  if (doc.cpuCoreSecondsTotal !== undefined && doc.cpuCoreSecondsTotal !== null)
    sample.cpuCoreSecondsTotal = doc.cpuCoreSecondsTotal;
  if (doc.containerStartTime !== undefined && doc.containerStartTime !== null)
    sample.containerStartTime = doc.containerStartTime;
  if (doc.retention !== undefined && doc.retention !== null) sample.retention = doc.retention;
  if (doc.io !== undefined && doc.io !== null) sample.io = doc.io;
  return sample;
}

const DUPLICATE_KEY = 11000;

/**
 * The time of the newest stored raw reading of any series (of `scope`, e.g. one node's), ms;
 * undefined when none is stored. Everything the store accounts for ends there (a reading accounts
 * for the span before its time).
 */
export async function newestReadingTime(
  snapshots: Collection<SnapshotDoc>,
  notAfter = Infinity,
  scope: Filter<SnapshotDoc> = {},
): Promise<number | undefined> {
  const filter = Number.isFinite(notAfter) ? { ...scope, time: { $lte: new Date(notAfter) } } : scope;
  const newest = await snapshots
    .find(filter, { projection: { time: 1 } })
    .sort({ time: -1 })
    .limit(1)
    .next();
  return newest === null ? undefined : newest.time.getTime();
}

/**
 * Inserts the documents, unordered, and returns the `_id`s that were already stored (a retried
 * batch, or a sample the metrics API returned twice). Duplicates are not errors; any other
 * failure is thrown and nothing can be assumed about which documents were written; so is a write
 * concern error.
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
    // Written, perhaps on the primary alone, but not acknowledged as the write concern asks (a
    // majority timed out): a failure, so that the write path rolls these readings up when its
    // retry finds them stored, rather than taking them for readings stored before.
    if (err.result.getWriteConcernError() !== undefined) throw err;
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
