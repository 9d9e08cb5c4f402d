/**
 * The write path, built so that usage is exact even when batches are retried, readings arrive
 * late or twice, two policies read the same container, the operator restarts or leadership moves.
 *
 * 1. Each sample is a reading of its container's one series, accounting for the span
 *    [from, time]. A span is clipped to what the series has stored already (the time of its latest
 *    reading with a span, kept here and loaded from the database for a series not seen in this
 *    term), and a reading at or before that time is refused: nothing is counted twice, whichever
 *    policy read it. A sample with an empty span (an uptime-only one, a reading accounted as a
 *    base or skipped) is stored but does not move that time: it accounts for no time, so the next
 *    reading's span (e.g. the counter difference over a node's outage) is kept whole.
 * 2. Raw readings are inserted unordered on a deterministic `_id` (series and reading time); the
 *    insert reports the ones that were stored already. Those are not rolled up again, except the
 *    ones of an earlier attempt that failed half-way (remembered as "uncertain").
 * 3. Each new span is split at the bucket boundaries of every resolution and added to the open
 *    buckets in memory (RollupTracker). A bucket is written once, when it closes: inserted whole on
 *    its deterministic `_id`; when the document exists already it is merged with
 *    `$inc`/`$min`/`$max`, guarded by the part's id and the writer's term.
 * 4. Once the buckets that ended more than the grace period ago are written, the level's watermark
 *    moves to that time: readers take a level's buckets up to its watermark and everything after it
 *    from finer levels and the raw readings, so no answer depends on this process's memory. The
 *    watermark is the writer's own (set, not raised): it says which buckets this writer has closed
 *    by its clock, so a previous writer whose clock ran ahead cannot leave it past a bucket this one
 *    still holds open.
 * 5. Writes carry the leadership term (the Lease's fencing token). A term is claimed in the
 *    database (the fence document) before its first write, and checked before every write: a
 *    writer of an older term is refused (StaleTermError), and the per-document term guards refuse
 *    it too where a check and a write could interleave.
 * 6. At the start of a term (and after a restart) the buckets past each watermark are recomputed
 *    from the level below, finest first from the raw readings, and rewritten: what the previous
 *    writer held in memory is not trusted, and not lost. Where they start depends only on the
 *    watermark, never on the readings' times, which come from the kubelets' clocks: a node whose
 *    clock runs ahead must not move the start past a bucket another series still had open.
 *
 * 7. A holder of one node (`options.node`, a pipeline that collects one node) writes that node's
 *    readings only, under the node's fence instead of the leadership term (node-fence.ts): its
 *    claim increments the node's term, steps 5 and 6 are done with that term on the node's fence
 *    document and on the node's readings and buckets only, the node's marks stand for the
 *    watermarks (readers take the lowest mark of the held nodes), and its horizon
 *    (lastReadingTime) is the node's own newest reading. Releasing the node (flush) writes every
 *    open bucket and marks it not held.
 *
 * Writes must not overlap (the store serializes them). Every failure is thrown; what was not
 * written stays pending and is retried with the next write.
 */
import { randomUUID } from 'node:crypto';
import { MongoBulkWriteError, MongoServerError, type Collection, type Filter } from 'mongodb';
import type { Clock, ContainerSample, SeriesBase } from '../model.js';
import type { StoreCollections } from './connection.js';
import type { IoBase } from './io-counters.js';
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
  shardKeyOf,
  type BucketAccumulator,
  type RollupDoc,
} from './rollups.js';
import {
  fromSnapshotDoc,
  insertSnapshots,
  LONG_SPAN_MS,
  newestReadingTime,
  seriesKey,
  toSnapshotDoc,
  type SnapshotDoc,
} from './snapshots.js';
import { clipSample, spanOf } from './spans.js';
import { RollupTracker } from './tracker.js';
import { readWatermarks, termGuard, type Watermarks } from './watermarks.js';
import { checkNode, claimNode, releaseNode, setNodeMarks } from './node-fence.js';

export interface WritePathOptions {
  /** How long after its end a bucket waits for late readings before it is closed by the clock. */
  graceMs: number;
  /** How many reading ids of failed inserts are remembered (at least the outage buffer's capacity). */
  uncertainCapacity: number;
  /**
   * Writes this node's readings and buckets only, under the node's fence (node-fence.ts) rather
   * than the leadership term: a holder of the node, whose term its claim assigns.
   */
  node?: string;
}

export interface WritePathResult {
  /** Readings inserted by this call. */
  inserted: number;
  /** Readings that were stored already (or that the series had passed) and not counted again. */
  alreadyStored: number;
}

/** A write of a term older than the one the database has seen. */
export class StaleTermError extends Error {
  constructor(
    readonly term: number,
    readonly current: number,
  ) {
    super(`leadership term ${term} is over (the store has seen term ${current}); not writing`);
    this.name = 'StaleTermError';
  }
}

const DUPLICATE_KEY = 11000;
/** How far back latestReadings looks by default. */
export const LATEST_READINGS_LOOKBACK_MS = 3_600_000;
/** Series whose latest reading is older than this are forgotten here (and looked up again if they return). */
const CURSOR_IDLE_MS = 3_600_000;

export class WritePath {
  private tracker: RollupTracker;
  /** Closed buckets not yet written, by resolution. */
  private readonly pending = new Map<Resolution, RollupDoc[]>(ROLLUP_RESOLUTIONS.map((r) => [r, []]));
  /** Ids of readings whose insert failed (insertion ordered: the oldest are forgotten first). */
  private readonly uncertain = new Set<string>();
  /** Time of each series' latest stored reading, for the series seen in this term. */
  private cursors = new Map<string, number>();
  private readonly instance = randomUUID().slice(0, 8);
  private nextPart = 0;
  private recovered = false;
  private term = 0;
  /** A node holder's marks when it took the node: its buckets past them are recomputed. */
  private nodeMarks: Watermarks | undefined;
  /**
   * What a node holder's recovery rolled up from the raw readings (from when, and each series'
   * newest reading then), until its first write looks for readings stored after it.
   */
  private recoveredReadings: { from: number; newest: Map<string, number> } | undefined;
  /** Readings of schema 2 end here: a series without a reading of its own starts no earlier. */
  private legacyUntil = -Infinity;
  private lastSweep = -Infinity;

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

  /**
   * Starts writing in a leadership term: the next write claims it and recomputes the open
   * buckets from the database; what this process held in memory is dropped.
   */
  beginTerm(term: number): void {
    if (this.options.node !== undefined)
      throw new Error('a node holder takes its term from its claim (take)');
    if (term !== this.term || this.recovered) {
      this.term = term;
      this.recovered = false;
      this.tracker = new RollupTracker(this.options.graceMs);
      for (const resolution of ROLLUP_RESOLUTIONS) this.pending.set(resolution, []);
      this.cursors = new Map();
    }
  }

  /**
   * A node holder takes its node (see node-fence.ts): claims the next term, recomputes the node's
   * buckets past its marks from the stored readings and sets its marks; the next holder's claim
   * fences this one. Returns the term. A holder writes only between take and release.
   */
  async take(): Promise<number> {
    if (this.options.node === undefined) throw new Error('only a node holder takes a node');
    this.recovered = false;
    this.tracker = new RollupTracker(this.options.graceMs);
    for (const resolution of ROLLUP_RESOLUTIONS) this.pending.set(resolution, []);
    this.cursors = new Map();
    await this.begin();
    return this.term;
  }

  private async begin(): Promise<void> {
    await this.claimTerm();
    await this.recoverOpenBuckets();
    // Everything before the grace period is written whole now: the watermarks are this term's.
    await this.advanceWatermarks(this.clock.now() - this.options.graceMs);
    this.recovered = true;
  }

  async write(samples: readonly ContainerSample[]): Promise<WritePathResult> {
    const node = this.options.node;
    if (node !== undefined) {
      const other = samples.find((s) => s.node !== node);
      if (other) throw new Error(`the holder of node ${node} was given a reading of node ${other.node}`);
      // Taking a node fences its holder: never done by a write (a released or stale holder's).
      if (!this.recovered) throw new Error(`node ${node} is not taken by this writer: take it first`);
    }
    if (!this.recovered) await this.begin();
    else await this.checkFence();
    if (this.recoveredReadings) await this.rollUpLateReadings(this.recoveredReadings);
    const ordered = [...samples].sort((a, b) => a.time - b.time);
    await this.loadCursors(ordered);
    const docs: SnapshotDoc[] = [];
    const accepted: ContainerSample[] = [];
    const batchCursor = new Map<string, number>();
    let refused = 0;
    for (const sample of ordered) {
      const key = seriesKey(sample);
      const last = batchCursor.get(key) ?? Math.max(this.cursors.get(key) ?? -Infinity, this.legacyUntil);
      if (sample.time <= last) {
        refused++;
        continue;
      }
      const clipped = clipSample(sample, last);
      if (spansTime(clipped)) batchCursor.set(key, sample.time);
      docs.push(toSnapshotDoc(clipped, this.term));
      accepted.push(clipped);
    }
    let stored: Set<string>;
    try {
      stored = await insertSnapshots(this.collections.snapshots, docs, this.collections.snapshotsTimeSeries);
    } catch (err) {
      this.rememberUncertain(docs);
      throw err;
    }
    for (const [key, time] of batchCursor) this.cursors.set(key, time);
    // A node's next holder may have claimed it while these readings were written: its buckets are
    // not touched then (it recomputes them from the readings it finds when it takes the node).
    if (node !== undefined) await this.checkFence();
    const fresh: ContainerSample[] = [];
    for (const [i, sample] of accepted.entries()) {
      const id = (docs[i] as SnapshotDoc)._id;
      if (!stored.has(id) || this.uncertain.has(id)) fresh.push(sample);
      this.uncertain.delete(id);
    }
    const now = this.clock.now();
    this.queue(this.tracker.add(fresh));
    this.queue(this.tracker.closeExpired(now));
    await this.writePending();
    await this.advanceWatermarks(now - this.options.graceMs);
    this.sweepCursors(now);
    return { inserted: docs.length - stored.size, alreadyStored: refused + accepted.length - fresh.length };
  }

  /**
   * Closes and writes every open bucket, for when this process stops writing (shutdown, or the
   * end of a leadership term). The watermarks stay: the next writer recomputes these buckets.
   */
  async flush(): Promise<void> {
    if (!this.recovered) return;
    await this.checkFence();
    this.queue(this.tracker.closeAll());
    await this.writePending();
    // Every bucket of the node is written: it holds no level's watermark back any more.
    if (this.options.node !== undefined)
      await releaseNode(this.collections.meta, this.options.node, this.term);
    this.recovered = false;
    this.tracker = new RollupTracker(this.options.graceMs);
    this.cursors = new Map();
  }

  /**
   * The latest stored reading of each series that is a base (those with one in the last
   * `lookbackMs`; see isBase), what a collector continues a series from.
   */
  async latestReadings(
    seriesKeys: readonly string[],
    lookbackMs = LATEST_READINGS_LOOKBACK_MS,
  ): Promise<Map<string, SeriesBase>> {
    const result = new Map<string, SeriesBase>();
    const docs = await this.recentReadings(seriesKeys, lookbackMs, {}, [
      'time',
      'from',
      'cpuCoreSeconds',
      'cpuCoreSecondsTotal',
      'containerStartTime',
      'memoryBytes',
      'intervalSeconds',
    ]);
    for (const doc of docs) {
      if (!isBase(doc)) continue;
      const time = doc.time.getTime();
      if ((result.get(doc.series)?.time ?? -Infinity) >= time) continue;
      const base: SeriesBase = { time };
      if (typeof doc.cpuCoreSecondsTotal === 'number') base.cpuCoreSecondsTotal = doc.cpuCoreSecondsTotal;
      if (typeof doc.containerStartTime === 'number') base.containerStartTime = doc.containerStartTime;
      if (typeof doc.memoryBytes === 'number') base.memoryBytes = doc.memoryBytes;
      result.set(doc.series, base);
    }
    return result;
  }

  /**
   * The I/O counters of each series' latest stored reading that has I/O (in the last
   * `lookbackMs`): its totals at its agent reading's time, what a new term continues from.
   */
  async latestIoTotals(
    seriesKeys: readonly string[],
    lookbackMs = LATEST_READINGS_LOOKBACK_MS,
  ): Promise<Map<string, IoBase>> {
    const result = new Map<string, IoBase>();
    const docs = await this.recentReadings(seriesKeys, lookbackMs, { io: { $exists: true } }, [
      'io.to',
      'io.totals',
    ]);
    for (const doc of docs) {
      const io = doc.io;
      if (!io || typeof io.to !== 'number' || !io.totals) continue;
      if ((result.get(doc.series)?.time ?? -Infinity) >= io.to) continue;
      result.set(doc.series, { time: io.to, totals: io.totals });
    }
    return result;
  }

  /** The stored readings of `seriesKeys` in the last `lookbackMs` matching `filter`, with `series` and `fields`. */
  private async recentReadings(
    seriesKeys: readonly string[],
    lookbackMs: number,
    filter: Filter<SnapshotDoc>,
    fields: readonly string[],
  ): Promise<SnapshotDoc[]> {
    if (seriesKeys.length === 0) return [];
    const since = new Date(this.clock.now() - lookbackMs);
    const projection: Record<string, 1> = { series: 1 };
    for (const field of fields) projection[field] = 1;
    return this.collections.snapshots
      .find({ ...filter, series: { $in: [...seriesKeys] }, time: { $gte: since } }, { projection })
      .toArray();
  }

  /**
   * The time of the newest stored reading of any series that is not ahead of this replica's
   * clock: what the store accounts up to, where a new leadership term's collection continues from
   * (undefined when nothing is stored). A reading stamped ahead of it comes from a node whose
   * clock runs ahead and cannot be a time collection reached (docs/accounting.md, "Containers
   * started during a failover").
   */
  lastReadingTime(): Promise<number | undefined> {
    // A node holder's horizon is its node's own newest reading, in that node's clock, whichever
    // the other nodes' clocks are.
    const node = this.options.node;
    if (node !== undefined) return newestReadingTime(this.collections.snapshots, Infinity, { node });
    return newestReadingTime(this.collections.snapshots, this.clock.now());
  }

  /** Loads the time of the latest stored reading with a span, of the series this process has not seen in this term. */
  private async loadCursors(samples: readonly ContainerSample[]): Promise<void> {
    const unknown = new Set<string>();
    const namespaces = new Set<string>();
    let earliest = Infinity;
    for (const sample of samples) {
      const key = seriesKey(sample);
      if (this.cursors.has(key) || unknown.has(key)) continue;
      unknown.add(key);
      namespaces.add(sample.namespace);
      earliest = Math.min(earliest, spanOf(sample).from);
    }
    if (unknown.size === 0) return;
    // Only a stored reading later than a span's start can overlap it. The namespaces (a series'
    // never changes) let a sharded store ask only their shards (docs/storage.md).
    const docs = await this.collections.snapshots
      .find(
        {
          namespace: { $in: [...namespaces] },
          series: { $in: [...unknown] },
          time: { $gt: new Date(earliest) },
        },
        { projection: { series: 1, time: 1, from: 1, intervalSeconds: 1 } },
      )
      .toArray();
    for (const key of unknown) this.cursors.set(key, -Infinity);
    for (const doc of docs) {
      if (!docSpansTime(doc)) continue;
      const time = doc.time.getTime();
      if (time > (this.cursors.get(doc.series) ?? -Infinity)) this.cursors.set(doc.series, time);
    }
  }

  private sweepCursors(now: number): void {
    if (now - this.lastSweep < CURSOR_IDLE_MS / 4) return;
    this.lastSweep = now;
    for (const [key, time] of this.cursors) if (time < now - CURSOR_IDLE_MS) this.cursors.delete(key);
  }

  private queue(buckets: readonly BucketAccumulator[]): void {
    for (const bucket of buckets) {
      this.pending
        .get(bucket.resolution)
        ?.push(bucket.toDoc([`${this.instance}:${this.nextPart++}`], this.term));
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
      await writeParts(this.collections.rollups[resolution], parts, this.term);
      this.pending.set(resolution, []);
    }
  }

  /** Claims this term in the fence document; refused when the database has seen a later one. */
  private async claimTerm(): Promise<void> {
    if (this.options.node !== undefined) {
      const claim = await claimNode(this.collections.meta, this.options.node);
      this.term = claim.term;
      this.nodeMarks = claim.marks;
    } else
      try {
        await this.collections.meta.updateOne(
          { _id: 'fence', ...termGuard(this.term) },
          { $set: { term: this.term } },
          { upsert: true },
        );
      } catch (err) {
        if (err instanceof MongoServerError && err.code === DUPLICATE_KEY) await this.checkFence();
        throw err;
      }
    const legacy = await this.collections.meta.findOne({ _id: 'legacy' });
    this.legacyUntil = typeof legacy?.until === 'number' ? legacy.until : -Infinity;
  }

  private async checkFence(): Promise<void> {
    if (this.options.node !== undefined)
      return checkNode(this.collections.meta, this.options.node, this.term);
    const fence = await this.collections.meta.findOne({ _id: 'fence' });
    const current = typeof fence?.term === 'number' ? fence.term : -Infinity;
    if (current > this.term) throw new StaleTermError(this.term, current);
  }

  /**
   * Sets each level's watermark to the end of its last bucket that ended by `closedBefore` (by
   * this writer's clock: its open buckets all end later, see RollupTracker.closeExpired).
   */
  private async advanceWatermarks(closedBefore: number): Promise<void> {
    const marks: Partial<Watermarks> = {};
    for (const resolution of ROLLUP_RESOLUTIONS) marks[resolution] = bucketStart(closedBefore, resolution);
    if (this.options.node !== undefined) {
      await setNodeMarks(this.collections.meta, this.options.node, this.term, marks as Watermarks);
      return;
    }
    try {
      await this.collections.meta.updateOne(
        { _id: 'watermarks', ...termGuard(this.term) },
        { $set: { ...marks, term: this.term } },
        { upsert: true },
      );
    } catch (err) {
      if (err instanceof MongoServerError && err.code === DUPLICATE_KEY) await this.checkFence();
      throw err;
    }
  }

  /** Step 6 of the write path: recomputes and rewrites the buckets past each level's watermark. */
  private async recoverOpenBuckets(): Promise<void> {
    const node = this.options.node;
    this.recoveredReadings = undefined;
    const marks = this.nodeMarks ?? (await readWatermarks(this.collections.meta));
    const scope: Filter<SnapshotDoc> = node === undefined ? {} : { node };
    const end = await newestReadingTime(this.collections.snapshots, Infinity, scope);
    if (end === undefined) return;
    const parts = [`${this.instance}:recovered`];
    // A node holder recomputes its node's buckets only: those of the series its readings name.
    let nodeSeries: Filter<RollupDoc> = {};
    if (node !== undefined) {
      const since = Math.min(...ROLLUP_RESOLUTIONS.map((r) => this.recoveryStart(marks[r], end, r)));
      const series = await this.collections.snapshots.distinct('series', {
        node,
        time: { $gte: new Date(since) },
      });
      nodeSeries = { series: { $in: series } };
    }
    for (const resolution of ROLLUP_RESOLUTIONS) {
      // Nothing before the watermark needs it, and everything after it may: a bucket of one series
      // can be open while another series' readings (a node whose clock runs ahead) are long past
      // it. A database without one (a migrated one) is recomputed from a grace period before its
      // latest reading.
      const from = this.recoveryStart(marks[resolution], end, resolution);
      if (from > end) continue;
      const to = bucketStart(end, resolution) + RESOLUTION_MS[resolution];
      const finer = finerResolution(resolution);
      let recomputed: Map<string, RollupDoc>;
      if (finer === 'raw') {
        const readings = await readingsOverlapping(this.collections.snapshots, from, to, scope);
        if (node !== undefined) this.recoveredReadings = { from, newest: newestBySeries(readings) };
        recomputed = rollupsOfSamples(readings, resolution, parts, { from, to }, this.term);
      } else {
        const range = { ...nodeSeries, time: { $gte: new Date(from), $lt: new Date(to) } };
        recomputed = rollupsOfRollups(
          await this.collections.rollups[finer].find(range).toArray(),
          resolution,
          parts,
          this.term,
        );
      }
      await replaceAll(this.collections.rollups[resolution], [...recomputed.values()], this.term);
    }
  }

  /**
   * A node's earlier holder may store a reading in the instant its successor takes the node (past
   * its fence check, after the recovery read): its bucket parts are refused (it checks the fence
   * after storing readings), so the successor rolls it up here, at its first write, clipped after
   * the series' newest reading its recovery rolled up.
   */
  private async rollUpLateReadings(recovered: { from: number; newest: Map<string, number> }): Promise<void> {
    const docs = await this.collections.snapshots
      .find({ node: this.options.node, term: { $lt: this.term }, time: { $gte: new Date(recovered.from) } })
      .toArray();
    const late: ContainerSample[] = [];
    for (const sample of docs.map(fromSnapshotDoc).sort((a, b) => a.time - b.time)) {
      const key = seriesKey(sample);
      const newest = recovered.newest.get(key) ?? -Infinity;
      if (sample.time <= newest) continue;
      if (spansTime(sample)) recovered.newest.set(key, sample.time);
      late.push(clipSample(sample, newest));
    }
    this.queue(this.tracker.add(late));
    this.recoveredReadings = undefined;
  }

  /** Where recovery starts at a level: its watermark, or a grace period before the latest reading without one. */
  private recoveryStart(mark: number, end: number, resolution: Resolution): number {
    return Number.isFinite(mark) ? mark : bucketStart(end - this.options.graceMs, resolution);
  }
}

/**
 * The readings whose spans overlap [from, to) or that were taken in it (one taken at `from`
 * exactly belongs to the bucket starting there), as samples (spans clipped against each other:
 * a reading of an older layout or of a stale writer may overlap the one before it).
 */
export async function readingsOverlapping(
  snapshots: Collection<SnapshotDoc>,
  from: number,
  to: number,
  filter: Filter<SnapshotDoc> = {},
): Promise<ContainerSample[]> {
  const near = await snapshots
    .find({
      ...filter,
      time: { $gte: new Date(from), $lte: new Date(to + LONG_SPAN_MS) },
    } as Filter<SnapshotDoc>)
    .toArray();
  const far = await snapshots
    .find({ ...filter, long: 1, time: { $gt: new Date(to + LONG_SPAN_MS) } } as Filter<SnapshotDoc>)
    .toArray();
  return nonOverlapping([...near, ...far].map(fromSnapshotDoc));
}

/**
 * The readings with every span clipped to start no earlier than the series' previous reading
 * with a span (one with an empty span accounts for no time and clips nothing).
 */
export function nonOverlapping(samples: ContainerSample[]): ContainerSample[] {
  samples.sort((a, b) => a.time - b.time);
  const last = new Map<string, number>();
  const result: ContainerSample[] = [];
  for (const sample of samples) {
    const key = seriesKey(sample);
    const previous = last.get(key) ?? -Infinity;
    if (sample.time <= previous) continue;
    const clipped = previous === -Infinity ? sample : clipSample(sample, previous);
    if (spansTime(clipped)) last.set(key, sample.time);
    result.push(clipped);
  }
  return result;
}

/** Each series' newest reading time among `samples`. */
function newestBySeries(samples: readonly ContainerSample[]): Map<string, number> {
  const newest = new Map<string, number>();
  for (const sample of samples) {
    const key = seriesKey(sample);
    newest.set(key, Math.max(newest.get(key) ?? -Infinity, sample.time));
  }
  return newest;
}

/** Whether a sample accounts for any time (its span is not empty). */
function spansTime(sample: ContainerSample): boolean {
  const span = spanOf(sample);
  return span.to > span.from;
}

/** Whether a stored reading accounts for any time (as spansTime; a reading without `from` stands for its interval). */
function docSpansTime(doc: Pick<SnapshotDoc, 'time' | 'from' | 'intervalSeconds'>): boolean {
  const from =
    doc.from instanceof Date ? doc.from.getTime() : doc.time.getTime() - doc.intervalSeconds * 1000;
  return doc.time.getTime() > from;
}

/**
 * Whether a stored reading is a series' base, one a collector can continue from: it carries the
 * counter (`cpuCoreSecondsTotal`), or it accounted for CPU over a span (a rate). Uptime-only
 * samples and skipped readings (no CPU, an empty span) are not.
 */
function isBase(
  doc: Pick<SnapshotDoc, 'time' | 'from' | 'intervalSeconds' | 'cpuCoreSeconds' | 'cpuCoreSecondsTotal'>,
): boolean {
  if (typeof doc.cpuCoreSecondsTotal === 'number') return true;
  return typeof doc.cpuCoreSeconds === 'number' && docSpansTime(doc);
}

/**
 * Inserts closed buckets; those whose document exists already are merged one by one (rare: after
 * a restart, for late readings, or when retrying a write that may have succeeded).
 */
async function writeParts(
  collection: Collection<RollupDoc>,
  parts: RollupDoc[],
  term: number,
): Promise<void> {
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
    const { filter, update } = mergeUpdate(part, term);
    try {
      await collection.updateOne(filter, update, { upsert: true });
    } catch (err) {
      // A guard matched nothing: the part is in the document already, or a later term wrote it.
      if (!(err instanceof MongoServerError && err.code === DUPLICATE_KEY)) throw err;
    }
  }
}

/**
 * Replaces the documents, except those a later term wrote: deletes, then inserts (both single
 * commands, fast on every server); one inserted meanwhile is replaced on its own, guarded.
 */
async function replaceAll(collection: Collection<RollupDoc>, docs: RollupDoc[], term: number): Promise<void> {
  if (docs.length === 0) return;
  await collection.deleteMany({
    _id: { $in: docs.map((d) => d._id) },
    ...termGuard(term),
  } as Filter<RollupDoc>);
  try {
    await collection.insertMany(docs, { ordered: false });
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    for (const doc of docs) {
      try {
        const filter = { ...shardKeyOf(doc), _id: doc._id, ...termGuard(term) } as Filter<RollupDoc>;
        await collection.replaceOne(filter, doc, { upsert: true });
      } catch (inner) {
        if (!(inner instanceof MongoServerError && inner.code === DUPLICATE_KEY)) throw inner;
      }
    }
  }
}
