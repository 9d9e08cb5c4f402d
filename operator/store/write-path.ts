/**
 * The write path: raw snapshots first, then rollups, so that history is exact even when a batch
 * is written twice.
 *
 * 1. Raw snapshots are inserted unordered on a deterministic `_id`; the insert reports which
 *    samples were already stored.
 * 2. Samples inserted just now were never rolled up: their buckets get `$inc`/`$min`/`$max`
 *    upserts, aggregated in memory first (one upsert per bucket, one bulk write per resolution).
 * 3. A sample that was already stored comes from a batch that was attempted before (an outage, a
 *    timeout after the server wrote, a crash between raw and rollups) or is a duplicate of the
 *    metrics API. Whether its increments were applied is unknown, so every bucket it touches is
 *    recomputed from the level below (1m from raw, 5m from 1m, 1h from 5m, 1d from 1h) and
 *    replaced, finest first. Replacing is idempotent, and raw is complete for the batch by then.
 *
 * Any failure is thrown; the caller keeps the samples and retries the whole batch, which then
 * takes path 3 for whatever the failed attempt wrote. Writes are serialized by the caller.
 */
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import type { ContainerSample } from '../model.js';
import type { StoreCollections } from './connection.js';
import { bucketStart, finerResolution, RESOLUTION_MS, ROLLUP_RESOLUTIONS, type Resolution } from './resolutions.js';
import {
  incrementOperation,
  replaceOperation,
  rollupId,
  rollupsOfRollups,
  rollupsOfSamples,
  rollupsOfSamplesAt,
  type RollupDoc,
} from './rollups.js';
import { fromSnapshotDoc, insertSnapshots, seriesKey, toSnapshotDoc, type SnapshotDoc } from './snapshots.js';

export interface WritePathResult {
  /** Samples inserted by this call. */
  inserted: number;
  /** Samples that were stored already (their buckets were recomputed). */
  alreadyStored: number;
}

export async function writeSamples(
  collections: StoreCollections,
  samples: readonly ContainerSample[],
): Promise<WritePathResult> {
  const docs: SnapshotDoc[] = [];
  const unique: ContainerSample[] = [];
  const seen = new Set<string>();
  for (const sample of samples) {
    const doc = toSnapshotDoc(sample);
    if (seen.has(doc._id)) continue;
    seen.add(doc._id);
    docs.push(doc);
    unique.push(sample);
  }
  const stored = await insertSnapshots(collections.snapshots, docs, collections.snapshotsTimeSeries);
  if (stored.size === 0) {
    await incrementRollups(collections, unique);
    return { inserted: unique.length, alreadyStored: 0 };
  }
  const fresh: ContainerSample[] = [];
  const repeated: ContainerSample[] = [];
  for (const [i, sample] of unique.entries()) {
    if (stored.has((docs[i] as SnapshotDoc)._id)) repeated.push(sample);
    else fresh.push(sample);
  }
  await repairRollups(collections, fresh, repeated);
  return { inserted: fresh.length, alreadyStored: repeated.length };
}

async function incrementRollups(collections: StoreCollections, samples: readonly ContainerSample[]): Promise<void> {
  const byResolution = rollupsOfSamplesAt(samples, ROLLUP_RESOLUTIONS);
  await Promise.all(
    ROLLUP_RESOLUTIONS.map((resolution) =>
      bulkWrite(collections.rollups[resolution], [...(byResolution.get(resolution)?.values() ?? [])].map(incrementOperation)),
    ),
  );
}

async function repairRollups(
  collections: StoreCollections,
  fresh: readonly ContainerSample[],
  repeated: readonly ContainerSample[],
): Promise<void> {
  for (const resolution of ROLLUP_RESOLUTIONS) {
    const dirty = new Map<string, { series: string; start: number }>();
    for (const sample of repeated) {
      const series = seriesKey(sample);
      const start = bucketStart(sample.time, resolution);
      dirty.set(rollupId(resolution, start, series), { series, start });
    }
    const operations: AnyBulkWriteOperation<RollupDoc>[] = [];
    for (const doc of rollupsOfSamples(fresh, resolution).values()) {
      if (!dirty.has(doc._id)) operations.push(incrementOperation(doc));
    }
    const recomputed = await recomputeBuckets(collections, resolution, [...dirty.values()]);
    for (const id of dirty.keys()) {
      const doc = recomputed.get(id);
      operations.push(doc ? replaceOperation(doc) : { deleteOne: { filter: { _id: id } } });
    }
    await bulkWrite(collections.rollups[resolution], operations);
  }
}

/** Recomputes buckets from the level below; buckets with nothing below are absent from the result. */
async function recomputeBuckets(
  collections: StoreCollections,
  resolution: Resolution,
  buckets: readonly { series: string; start: number }[],
): Promise<Map<string, RollupDoc>> {
  if (buckets.length === 0) return new Map();
  const series = [...new Set(buckets.map((b) => b.series))];
  let from = Infinity;
  let to = -Infinity;
  for (const bucket of buckets) {
    from = Math.min(from, bucket.start);
    to = Math.max(to, bucket.start + RESOLUTION_MS[resolution]);
  }
  const filter = { series: { $in: series }, time: { $gte: new Date(from), $lt: new Date(to) } };
  const finer = finerResolution(resolution);
  if (finer === 'raw') {
    const docs = await collections.snapshots.find(filter).toArray();
    return rollupsOfSamples(docs.map(fromSnapshotDoc), resolution);
  }
  return rollupsOfRollups(await collections.rollups[finer].find(filter).toArray(), resolution);
}

async function bulkWrite(collection: Collection<RollupDoc>, operations: AnyBulkWriteOperation<RollupDoc>[]): Promise<void> {
  if (operations.length > 0) await collection.bulkWrite(operations, { ordered: false });
}
