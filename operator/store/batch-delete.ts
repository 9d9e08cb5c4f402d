/**
 * Bounded deletion: what retention, expiry and the namespace purge share. Ids are found a batch at
 * a time and deleted by id (FerretDB v1 has no limit on deleteMany), at most `maxBatches` per call.
 */
import type { Collection } from 'mongodb';

export interface BatchLimits {
  /** Documents deleted per command. */
  batchSize: number;
  /** Batches per collection and call; the rest waits for the next call. */
  maxBatches: number;
}

export interface BatchDeletion {
  deleted: number;
  /** The call stopped at `maxBatches`: matching documents may remain. */
  more: boolean;
}

export async function deleteInBatches(
  collection: Collection<{ _id: unknown }>,
  filter: Record<string, unknown>,
  limits: BatchLimits,
): Promise<BatchDeletion> {
  let deleted = 0;
  let batch = 0;
  for (; batch < limits.maxBatches; batch++) {
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
  return { deleted, more: batch === limits.maxBatches };
}
