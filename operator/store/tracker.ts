/**
 * The open rollup buckets of every tracked container (series), in memory. Samples are added to
 * the bucket of each resolution that holds them; a bucket is handed out ("closed") once, when the
 * series moves on to a later bucket or the clock passes the bucket's end plus a grace period (a
 * container that went away). A sample for a bucket that was closed already (late, out of order)
 * goes into a part of its own, closed at once. Pure: no I/O.
 */
import type { ContainerSample } from '../model.js';
import { bucketStart, RESOLUTION_MS, ROLLUP_RESOLUTIONS, type Resolution } from './resolutions.js';
import { BucketAccumulator, identityOf, rollupId, type SeriesIdentity } from './rollups.js';
import { seriesKey } from './snapshots.js';

interface TrackedSeries {
  /** Open bucket per resolution, in ROLLUP_RESOLUTIONS order. */
  open: (BucketAccumulator | undefined)[];
  identity: SeriesIdentity;
}

export class RollupTracker {
  private readonly series = new Map<string, TrackedSeries>();

  /** @param graceMs how long after its end a bucket waits for late samples before closing by the clock. */
  constructor(private readonly graceMs: number) {}

  /** Containers with at least one open bucket. */
  get trackedSeries(): number {
    return this.series.size;
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
      if (tracked === undefined) this.series.set(key, (tracked = { open: [], identity }));
      else tracked.identity = identity;
      for (let i = 0; i < ROLLUP_RESOLUTIONS.length; i++) {
        const resolution = ROLLUP_RESOLUTIONS[i] as Resolution;
        const start = bucketStart(sample.time, resolution);
        let bucket = tracked.open[i];
        if (bucket !== undefined && bucket.start < start) {
          closed.push(bucket);
          bucket = undefined;
        }
        if (bucket === undefined) {
          tracked.open[i] = bucket = new BucketAccumulator(resolution, start, identity);
        } else if (bucket.start > start) {
          const id = rollupId(resolution, start, key);
          bucket = late.get(id);
          if (bucket === undefined)
            late.set(id, (bucket = new BucketAccumulator(resolution, start, identity)));
        }
        bucket.addSample(sample, identity);
      }
    }
    closed.push(...late.values());
    return closed;
  }

  /** Closes the buckets that ended more than the grace period before `now`. */
  closeExpired(now: number): BucketAccumulator[] {
    return this.close((bucket) => bucket.start + RESOLUTION_MS[bucket.resolution] + this.graceMs <= now);
  }

  /** Closes every open bucket (at shutdown). */
  closeAll(): BucketAccumulator[] {
    return this.close(() => true);
  }

  /** Open buckets of a resolution that pass the filter (for queries that want the latest data). */
  openBuckets(resolution: Resolution, filter: (identity: SeriesIdentity) => boolean): BucketAccumulator[] {
    const index = ROLLUP_RESOLUTIONS.indexOf(resolution);
    const result: BucketAccumulator[] = [];
    for (const tracked of this.series.values()) {
      const bucket = tracked.open[index];
      if (bucket !== undefined && filter(tracked.identity)) result.push(bucket);
    }
    return result;
  }

  private close(due: (bucket: BucketAccumulator) => boolean): BucketAccumulator[] {
    const closed: BucketAccumulator[] = [];
    for (const [key, tracked] of this.series) {
      for (let i = 0; i < tracked.open.length; i++) {
        const bucket = tracked.open[i];
        if (bucket !== undefined && due(bucket)) {
          closed.push(bucket);
          tracked.open[i] = undefined;
        }
      }
      if (tracked.open.every((b) => b === undefined)) this.series.delete(key);
    }
    return closed;
  }
}

/** Reuses the tracked identity object while node and labels are unchanged (saves memory per bucket). */
function sameIdentity(identity: SeriesIdentity, sample: ContainerSample): boolean {
  if (identity.node !== sample.node || identity.labels.length !== sample.labels.length) return false;
  return identity.labels.every((pair, i) => pair.k === sample.labels[i]?.k && pair.v === sample.labels[i]?.v);
}
