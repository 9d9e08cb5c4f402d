/**
 * Retention, in bounded batches (find up to `batchSize` ids, delete them by id), so one run never
 * holds the server for long. Runs on every server; on a real MongoDB the TTL indexes only back it
 * up.
 *
 * A reading or bucket written with its series' retention (the longest of the policies selecting
 * the container) carries `expireAt` and goes when that time has passed, whatever happened to the
 * policies since (deleted, changed, no longer selecting the container). Data written without it
 * (by an older collector, or an older layout) goes by the retention of the policy that wrote it.
 */
import type { Collection } from 'mongodb';
import type { ObjectKey, Retention } from '../model.js';
import { deleteInBatches, type BatchLimits } from './batch-delete.js';
import type { StoreCollections } from './connection.js';
import { keepMs, RESOLUTION_MS, ROLLUP_RESOLUTIONS } from './resolutions.js';

/** Per collection and run; the rest waits for the next run. */
export type RetentionLimits = BatchLimits;

type Expiring = { _id: string; policy: string; time: Date; expireAt?: Date };

/**
 * Deletes the policy's raw readings older than its raw retention, and its buckets that ended
 * before their level's retention began (a bucket is kept while any part of it is kept): those
 * written without a retention of their own.
 */
export async function deleteExpired(
  collections: StoreCollections,
  policy: ObjectKey,
  retention: Retention,
  now: number,
  limits: RetentionLimits,
): Promise<number> {
  const byPolicy = (before: number) => ({
    policy,
    time: { $lt: new Date(before) },
    expireAt: { $exists: false },
  });
  let deleted = await deleteMatching(collections.snapshots, byPolicy(now - keepMs('raw', retention)), limits);
  for (const resolution of ROLLUP_RESOLUTIONS) {
    const lastStart = now - keepMs(resolution, retention) - RESOLUTION_MS[resolution];
    deleted += await deleteMatching(collections.rollups[resolution], byPolicy(lastStart + 1), limits);
  }
  return deleted;
}

/** Deletes the readings and buckets whose own `expireAt` has passed. */
export async function deleteExpiredSeries(
  collections: StoreCollections,
  now: number,
  limits: RetentionLimits,
): Promise<number> {
  const due = { expireAt: { $lte: new Date(now) } };
  let deleted = await deleteMatching(collections.snapshots, due, limits);
  for (const resolution of ROLLUP_RESOLUTIONS)
    deleted += await deleteMatching(collections.rollups[resolution], due, limits);
  return deleted;
}

async function deleteMatching<T extends Expiring>(
  collection: Collection<T>,
  filter: Record<string, unknown>,
  limits: RetentionLimits,
): Promise<number> {
  return (await deleteInBatches(collection as unknown as Collection<{ _id: unknown }>, filter, limits))
    .deleted;
}
