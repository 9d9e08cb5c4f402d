/**
 * Retention per policy: deletes what is older than the policy keeps, in bounded batches (find up
 * to `batchSize` ids, delete them by id), so one run never holds the server for long. Runs on
 * every server; on a real MongoDB the TTL indexes only back it up.
 */
import type { Collection } from 'mongodb';
import type { ObjectKey, Retention } from '../model.js';
import type { StoreCollections } from './connection.js';
import { keepMs, RESOLUTION_MS, ROLLUP_RESOLUTIONS } from './resolutions.js';

export interface RetentionLimits {
  /** Documents deleted per command. */
  batchSize: number;
  /** Batches per collection and run; the rest waits for the next run. */
  maxBatches: number;
}

/**
 * Deletes the policy's raw samples older than its raw retention, and its buckets that ended
 * before their level's retention began (a bucket is kept while any part of it is kept).
 */
export async function deleteExpired(
  collections: StoreCollections,
  policy: ObjectKey,
  retention: Retention,
  now: number,
  limits: RetentionLimits,
): Promise<number> {
  let deleted = await deleteBefore(collections.snapshots, policy, now - keepMs('raw', retention), limits);
  for (const resolution of ROLLUP_RESOLUTIONS) {
    const lastStart = now - keepMs(resolution, retention) - RESOLUTION_MS[resolution];
    deleted += await deleteBefore(collections.rollups[resolution], policy, lastStart + 1, limits);
  }
  return deleted;
}

async function deleteBefore<T extends { _id: string; policy: string; time: Date }>(
  collection: Collection<T>,
  policy: ObjectKey,
  before: number,
  limits: RetentionLimits,
): Promise<number> {
  const filter = { policy, time: { $lt: new Date(before) } };
  let deleted = 0;
  for (let batch = 0; batch < limits.maxBatches; batch++) {
    const ids = (
      await collection
        .find(filter as never, { projection: { _id: 1 } })
        .limit(limits.batchSize)
        .toArray()
    ).map((d) => d._id);
    if (ids.length === 0) break;
    deleted += (await collection.deleteMany({ _id: { $in: ids } } as never)).deletedCount;
    if (ids.length < limits.batchSize) break;
  }
  return deleted;
}
