/**
 * The write path, built so that history is exact even when batches are retried, samples arrive
 * late or twice, or the operator restarts.
 *
 * 1. Raw snapshots are inserted unordered on a deterministic `_id`; the insert reports the
 *    samples that were stored already. Those are not rolled up again, except the ones of an
 *    earlier attempt that failed half-way (remembered as "uncertain": they may be in raw, but were
 *    never added to a bucket, since buckets only take samples whose insert succeeded).
 * 2. Each new sample goes into the open bucket of every resolution in memory (RollupTracker).
 *    A bucket is written once, when it closes: inserted whole, as one document on its
 *    deterministic `_id`. That costs about as much as the raw insert of the few samples it holds,
 *    where an upsert per sample and resolution would cost several times more.
 * 3. When the bucket's document exists already (a part written before a restart, a late sample,
 *    a retried insert), the part is merged with `$inc`/`$min`/`$max`, guarded by the part's id
 *    listed in the document, so a part is never counted twice.
 * 4. Buckets still open when the process died are lost from memory but not from raw: before its
 *    first write, the write path recomputes every bucket that can have been open (ending within
 *    the grace period before the latest raw sample) from the level below, finest first, and
 *    rewrites it.
 *
 * Writes must not overlap (the store serializes them). Every failure is thrown; what was not
 * written stays pending and is retried with the next write.
 */
import { randomUUID } from 'node:crypto';
import { MongoBulkWriteError, MongoServerError, type Collection } from 'mongodb';
import type { Clock, ContainerSample } from '../model.js';
import type { StoreCollections } from './connection.js';
import {
  bucketStart,
  finerResolution,
  RESOLUTION_MS,
  ROLLUP_RESOLUTIONS,
  type Resolution,
} from './resolutions.js';
import {
  mergeUpdate,
  rollupsOfRollups,
  rollupsOfSamples,
  type BucketAccumulator,
  type RollupDoc,
  type SeriesScope,
} from './rollups.js';
import { fromSnapshotDoc, insertSnapshots, toSnapshotDoc, type SnapshotDoc } from './snapshots.js';
import { RollupTracker } from './tracker.js';

export interface WritePathOptions {
  /** How long after its end a bucket waits for late samples before it is closed by the clock. */
  graceMs: number;
  /** How many sample ids of failed inserts are remembered (at least the outage buffer's capacity). */
  uncertainCapacity: number;
}

export interface WritePathResult {
  /** Samples inserted by this call. */
  inserted: number;
  /** Samples that were stored already and not rolled up again. */
  alreadyStored: number;
}

const DUPLICATE_KEY = 11000;

export class WritePath {
  private readonly tracker: RollupTracker;
  /** Closed buckets not yet written, by resolution. */
  private readonly pending = new Map<Resolution, RollupDoc[]>(ROLLUP_RESOLUTIONS.map((r) => [r, []]));
  /** Ids of samples whose insert failed (insertion ordered: the oldest are forgotten first). */
  private readonly uncertain = new Set<string>();
  private readonly instance = randomUUID().slice(0, 8);
  private nextPart = 0;
  private recovered = false;

  constructor(
    private readonly collections: StoreCollections,
    private readonly clock: Clock,
    private readonly options: WritePathOptions,
  ) {
    this.tracker = new RollupTracker(options.graceMs);
  }

  get trackedSeries(): number {
    return this.tracker.trackedSeries;
  }

  async write(samples: readonly ContainerSample[]): Promise<WritePathResult> {
    if (!this.recovered) {
      await this.recoverOpenBuckets();
      this.recovered = true;
    }
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
    let stored: Set<string>;
    try {
      stored = await insertSnapshots(this.collections.snapshots, docs, this.collections.snapshotsTimeSeries);
    } catch (err) {
      this.rememberUncertain(docs);
      throw err;
    }
    const fresh: ContainerSample[] = [];
    for (const [i, sample] of unique.entries()) {
      const id = (docs[i] as SnapshotDoc)._id;
      if (!stored.has(id) || this.uncertain.has(id)) fresh.push(sample);
      this.uncertain.delete(id);
    }
    this.queue(this.tracker.add(fresh));
    this.queue(this.tracker.closeExpired(this.clock.now()));
    await this.writePending();
    return { inserted: unique.length - stored.size, alreadyStored: unique.length - fresh.length };
  }

  /**
   * Closes and writes every open bucket, for when this process stops writing (shutdown, or the
   * end of a leadership term: another replica may write next, so the next write here starts
   * with recovery again).
   */
  async flush(): Promise<void> {
    this.queue(this.tracker.closeAll());
    await this.writePending();
    this.recovered = false;
  }

  /** Buckets not in the database yet (open, or closed and pending), for queries that read recent data. */
  unwritten(resolution: Resolution, filter: (scope: SeriesScope) => boolean): RollupDoc[] {
    const open = this.tracker.openBuckets(resolution, filter).map((bucket) => bucket.toDoc([]));
    const pending = (this.pending.get(resolution) ?? []).filter((doc) => filter(doc));
    return [...open, ...pending];
  }

  private queue(buckets: readonly BucketAccumulator[]): void {
    for (const bucket of buckets) {
      this.pending.get(bucket.resolution)?.push(bucket.toDoc([`${this.instance}:${this.nextPart++}`]));
    }
  }

  private rememberUncertain(docs: readonly SnapshotDoc[]): void {
    for (const doc of docs) this.uncertain.add(doc._id);
    for (const id of this.uncertain) {
      if (this.uncertain.size <= this.options.uncertainCapacity) break;
      this.uncertain.delete(id);
    }
  }

  private async writePending(): Promise<void> {
    for (const resolution of ROLLUP_RESOLUTIONS) {
      const parts = this.pending.get(resolution) as RollupDoc[];
      if (parts.length === 0) continue;
      await writeParts(this.collections.rollups[resolution], parts);
      this.pending.set(resolution, []);
    }
  }

  /** Step 4 of the write path: rewrites the buckets that can have been open when a process stopped. */
  private async recoverOpenBuckets(): Promise<void> {
    const latest = await this.collections.snapshots
      .find({}, { projection: { time: 1 } })
      .sort({ time: -1 })
      .limit(1)
      .next();
    if (latest === null) return;
    const since = latest.time.getTime() - this.options.graceMs;
    const parts = [`${this.instance}:recovered`];
    for (const resolution of ROLLUP_RESOLUTIONS) {
      const from = bucketStart(since, resolution);
      const to = bucketStart(latest.time.getTime(), resolution) + RESOLUTION_MS[resolution];
      const range = { time: { $gte: new Date(from), $lt: new Date(to) } };
      const finer = finerResolution(resolution);
      const recomputed =
        finer === 'raw'
          ? rollupsOfSamples(
              (await this.collections.snapshots.find(range).toArray()).map(fromSnapshotDoc),
              resolution,
              parts,
            )
          : rollupsOfRollups(await this.collections.rollups[finer].find(range).toArray(), resolution, parts);
      await replaceAll(this.collections.rollups[resolution], [...recomputed.values()]);
    }
  }
}

/**
 * Inserts closed buckets; those whose document exists already are merged one by one (rare: after
 * a restart, for late samples, or when retrying a write that may have succeeded).
 */
async function writeParts(collection: Collection<RollupDoc>, parts: RollupDoc[]): Promise<void> {
  let existing: RollupDoc[] = [];
  try {
    await collection.insertMany(parts, { ordered: false });
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    if (writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
    existing = writeErrors.map((e) => parts[e.index] as RollupDoc);
    // A server that does not account for every document: merge them all, the guard skips the rest.
    if (err.result.insertedCount + writeErrors.length !== parts.length) existing = parts;
  }
  for (const part of existing) {
    const { filter, update } = mergeUpdate(part);
    try {
      await collection.updateOne(filter, update, { upsert: true });
    } catch (err) {
      // The guard matched nothing: the part is in the document already.
      if (!(err instanceof MongoServerError && err.code === DUPLICATE_KEY)) throw err;
    }
  }
}

/** Replaces the documents: deletes, then inserts (both single commands, fast on every server). */
async function replaceAll(collection: Collection<RollupDoc>, docs: RollupDoc[]): Promise<void> {
  if (docs.length === 0) return;
  await collection.deleteMany({ _id: { $in: docs.map((d) => d._id) } });
  await collection.insertMany(docs, { ordered: false });
}
