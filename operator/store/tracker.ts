/**
 * The open rollup buckets of every tracked container (series), in memory. A sample's span is
 * split at the boundaries of each resolution and every piece added to its bucket (the reading
 * itself to the bucket holding its time); a bucket is handed out ("closed") once, when the
 * series moves on to a later bucket or the clock passes the bucket's end plus a grace period (a
 * container that went away). A piece for a bucket that was closed already (late, out of order)
 * goes into a part of its own, closed at once. Pure: no I/O.
 *
 * A series' buckets are those of one label set (label-sets.ts): when its labels change, the open
 * buckets of the previous set stay open beside the new set's (closed by the clock as those of a
 * container that went away), so each piece of a span is in a bucket of the labels it ran with.
 *
 * Nothing reads these buckets but the write path: answers come from the database only (closed
 * buckets, and the stored readings for what is still open here), so every replica answers alike.
 */
import type { ContainerSample } from '../model.js';
import { RESOLUTION_MS, ROLLUP_RESOLUTIONS, type Resolution } from './resolutions.js';
import {
  addPieceAt,
  addReadingAt,
  BUCKET_FIELDS,
  BucketAccumulator,
  bucketStartAt,
  identityOf,
  initBucketAt,
  rollupId,
  type SeriesIdentity,
} from './rollups.js';
import { LevelHistograms, pieceIndicesOf, type HistogramEntries } from './histograms.js';
import { seriesKey } from './snapshots.js';
import { spanOf, type Span } from './spans.js';
import { addIoPiece, emptyIo, ioPieces, type IoRollup } from './io-counters.js';

const LEVELS = ROLLUP_RESOLUTIONS.length;

interface TrackedSeries {
  /** The open bucket of each resolution (ROLLUP_RESOLUTIONS order), `BUCKET_FIELDS` doubles each; start NaN: none. */
  buckets: Float64Array;
  /** Identity of each open bucket's latest sample. */
  identities: SeriesIdentity[];
  /** Identity of the latest sample of the series (reused while the labels stay the same). */
  identity: SeriesIdentity;
  /** Histogram weights of the open buckets of every level (histograms.ts). */
  histograms: LevelHistograms;
  /** I/O of each open bucket (io-counters.ts); only for series an agent supplies. */
  io?: (IoRollup | undefined)[];
}

export class RollupTracker {
  /** The buckets of each series' current label set, by series. */
  private readonly series = new Map<string, TrackedSeries>();
  /** Buckets of label sets a series had before, still open, by series and label set (few: relabels). */
  private readonly retired = new Map<string, TrackedSeries>();

  /** @param graceMs how long after its end a bucket waits for late samples before closing by the clock. */
  constructor(private readonly graceMs: number) {}

  /** Containers with at least one open bucket (label sets a container had before included). */
  get trackedSeries(): number {
    return this.series.size + this.retired.size;
  }

  /** Adds the samples; returns the buckets they closed (including parts for late samples). */
  add(samples: readonly ContainerSample[]): BucketAccumulator[] {
    const closed: BucketAccumulator[] = [];
    const late = new Map<string, BucketAccumulator>();
    for (const sample of samples) {
      const key = seriesKey(sample);
      let tracked = this.series.get(key);
      const identity =
        tracked && sameIdentity(tracked.identity, sample) ? tracked.identity : identityOf(sample, key);
      if (tracked !== undefined && identity.labelSet !== tracked.identity.labelSet) {
        // Relabelled: the previous set's buckets stay open apart; a set the series had before goes on.
        this.retired.set(`${key}|${tracked.identity.labelSet}`, tracked);
        const retiredKey = `${key}|${identity.labelSet}`;
        tracked = this.retired.get(retiredKey);
        this.retired.delete(retiredKey);
        if (tracked !== undefined) this.series.set(key, tracked);
        else this.series.delete(key);
      } else if (tracked === undefined && this.retired.size > 0) {
        const retiredKey = `${key}|${identity.labelSet}`;
        tracked = this.retired.get(retiredKey);
        this.retired.delete(retiredKey);
        if (tracked !== undefined) this.series.set(key, tracked);
      }
      if (tracked === undefined) {
        const buckets = new Float64Array(LEVELS * BUCKET_FIELDS).fill(NaN);
        this.series.set(
          key,
          (tracked = {
            buckets,
            identities: new Array<SeriesIdentity>(LEVELS).fill(identity),
            identity,
            histograms: new LevelHistograms(LEVELS),
          }),
        );
      } else tracked.identity = identity;
      const span = spanOf(sample);
      // The histogram entries of the span's rates, looked up once for all levels; a bucket closed
      // below only zeroes its level's weights, so the offsets hold until the compaction after.
      const entries = tracked.histograms.entriesOf(pieceIndicesOf(span));
      for (let i = 0; i < LEVELS; i++) {
        // The pieces of the span in this level's buckets, in time order, and the reading in the
        // bucket holding its time (as forEachBucket, written out: this is the hot loop).
        const width = RESOLUTION_MS[ROLLUP_RESOLUTIONS[i] as Resolution];
        const readingStart = Math.floor(sample.time / width) * width;
        let readingDone = false;
        for (let start = Math.floor(span.from / width) * width; start < span.to; start += width) {
          if (!readingDone && readingStart < start) {
            this.place(
              tracked,
              i,
              key,
              identity,
              sample,
              span,
              entries,
              readingStart,
              -1,
              true,
              closed,
              late,
            );
            readingDone = true;
          }
          const ms = Math.min(span.to, start + width) - Math.max(span.from, start);
          const reading = start === readingStart;
          this.place(tracked, i, key, identity, sample, span, entries, start, ms, reading, closed, late);
          if (reading) readingDone = true;
        }
        if (!readingDone)
          this.place(tracked, i, key, identity, sample, span, entries, readingStart, -1, true, closed, late);
        if (sample.io !== undefined)
          for (const piece of ioPieces(sample.io, width))
            this.placeIo(tracked, i, key, identity, sample, piece.start, piece.ms, closed, late);
      }
      tracked.histograms.compact();
    }
    closed.push(...late.values());
    return closed;
  }

  /** Adds a piece of `ms` (none when negative) and, when `reading`, the reading, to the bucket at `start` of level `i`. */
  private place(
    tracked: TrackedSeries,
    i: number,
    key: string,
    identity: SeriesIdentity,
    sample: ContainerSample,
    span: Span,
    entries: HistogramEntries,
    start: number,
    ms: number,
    reading: boolean,
    closed: BucketAccumulator[],
    late: Map<string, BucketAccumulator>,
  ): void {
    const { buckets, identities } = tracked;
    const at = i * BUCKET_FIELDS;
    const open = bucketStartAt(buckets, at);
    if (open > start) {
      // Late: the bucket was handed out already; this piece goes into a part of its own.
      const resolution = ROLLUP_RESOLUTIONS[i] as Resolution;
      const id = rollupId(resolution, start, key, identity.labelSet);
      let part = late.get(id);
      if (part === undefined) late.set(id, (part = new BucketAccumulator(resolution, start, identity)));
      part.addSplit(sample, identity, span, ms >= 0 ? { ms } : undefined, reading);
      return;
    }
    if (open < start) closed.push(this.copy(tracked, i));
    if (open !== start) this.open(tracked, i, start); // also when none was open (NaN)
    if (ms >= 0) {
      addPieceAt(buckets, at, sample, span, ms);
      if (ms > 0) tracked.histograms.add(entries, i, ms);
    }
    if (reading && addReadingAt(buckets, at, sample)) identities[i] = identity;
  }

  /** Adds `ms` of the sample's I/O span to the bucket at `start` of level `i` (as place). */
  private placeIo(
    tracked: TrackedSeries,
    i: number,
    key: string,
    identity: SeriesIdentity,
    sample: ContainerSample,
    start: number,
    ms: number,
    closed: BucketAccumulator[],
    late: Map<string, BucketAccumulator>,
  ): void {
    const io = sample.io;
    if (io === undefined) return;
    const open = bucketStartAt(tracked.buckets, i * BUCKET_FIELDS);
    if (open > start) {
      const resolution = ROLLUP_RESOLUTIONS[i] as Resolution;
      const id = rollupId(resolution, start, key, identity.labelSet);
      let part = late.get(id);
      if (part === undefined) late.set(id, (part = new BucketAccumulator(resolution, start, identity)));
      part.addIo(sample, ms);
      return;
    }
    if (open < start) closed.push(this.copy(tracked, i));
    if (open !== start) this.open(tracked, i, start);
    tracked.io ??= new Array<IoRollup | undefined>(LEVELS).fill(undefined);
    addIoPiece((tracked.io[i] ??= emptyIo()), io, ms);
  }

  /** Starts the bucket at `start` of level `i` (its I/O empty). */
  private open(tracked: TrackedSeries, i: number, start: number): void {
    initBucketAt(tracked.buckets, i * BUCKET_FIELDS, start);
    if (tracked.io) tracked.io[i] = undefined;
  }

  /** Closes the buckets that ended more than the grace period before `now`. */
  closeExpired(now: number): BucketAccumulator[] {
    return this.close((resolution, start) => start + RESOLUTION_MS[resolution] + this.graceMs <= now);
  }

  /** Closes every open bucket (at shutdown). */
  closeAll(): BucketAccumulator[] {
    return this.close(() => true);
  }

  private copy(tracked: TrackedSeries, index: number): BucketAccumulator {
    const resolution = ROLLUP_RESOLUTIONS[index] as Resolution;
    const bucket = BucketAccumulator.copyOf(
      resolution,
      tracked.identities[index] as SeriesIdentity,
      tracked.buckets,
      index * BUCKET_FIELDS,
      // The bucket is handed out: its weights leave the list with it.
      tracked.histograms.take(index),
    );
    bucket.io = tracked.io?.[index];
    return bucket;
  }

  private close(due: (resolution: Resolution, start: number) => boolean): BucketAccumulator[] {
    const closed: BucketAccumulator[] = [];
    this.closeIn(this.series, due, closed);
    this.closeIn(this.retired, due, closed);
    return closed;
  }

  private closeIn(
    series: Map<string, TrackedSeries>,
    due: (resolution: Resolution, start: number) => boolean,
    closed: BucketAccumulator[],
  ): void {
    for (const [key, tracked] of series) {
      let stillOpen = false;
      for (let i = 0; i < LEVELS; i++) {
        const at = i * BUCKET_FIELDS;
        const start = bucketStartAt(tracked.buckets, at);
        if (Number.isNaN(start)) continue;
        if (due(ROLLUP_RESOLUTIONS[i] as Resolution, start)) {
          closed.push(this.copy(tracked, i));
          tracked.buckets[at] = NaN;
          if (tracked.io) tracked.io[i] = undefined;
        } else stillOpen = true;
      }
      tracked.histograms.compact();
      if (!stillOpen) series.delete(key);
    }
  }
}

/** Reuses the tracked identity object while the labels and namespace are unchanged (saves memory per bucket). */
function sameIdentity(identity: SeriesIdentity, sample: ContainerSample): boolean {
  if (identity.namespaceUid !== sample.namespaceUid) return false;
  if (identity.labels === sample.labels) return true;
  if (identity.labels.length !== sample.labels.length) return false;
  return identity.labels.every((pair, i) => pair.k === sample.labels[i]?.k && pair.v === sample.labels[i]?.v);
}
