/**
 * Where the level below a stored bucket still holds a series' data, by the clock alone. Every
 * finer bucket and raw reading is removed at its own end plus its level's retention (rollups.ts
 * `expiryOf`, snapshots.ts), so within one coarser bucket the first finer buckets go first: up to
 * 23 hours before the last hour of a day, 55 minutes before the last 5 minutes of an hour. A
 * reader that asks the finer level for part of a bucket must know from which instant on it is
 * still whole. Pure arithmetic, no MongoDB.
 */
import type { Retention } from '../model.js';
import { bucketStart, finerResolution, keepMs, RESOLUTION_MS, type Resolution } from './resolutions.js';

/** What a stored bucket says about its series' retention. */
export interface FinerRetention {
  /** Bucket start. */
  time: Date;
  retention?: Retention;
  /** When the last part of the level below is removed (the bucket's end plus that level's retention). */
  finerExpireAt?: Date;
}

/**
 * The instant from which the level below the bucket of `resolution` holds the series' data at
 * `now`, clamped to the bucket: its start when all of it is held, its end when none is.
 *
 * With the series' retention: the first finer bucket whose end plus its retention is after `now`
 * (every later one is kept longer), or for raw readings `now` minus their retention (a reading is
 * kept while its time plus the retention is after `now`, and it holds its span up to that time).
 * Without a retention (a bucket of an older layout) only `finerExpireAt`, all or nothing, is
 * known; without either the level below is taken as whole.
 */
export function finerHeldFrom(resolution: Resolution, bucket: FinerRetention, now: number): number {
  const start = bucket.time.getTime();
  const end = start + RESOLUTION_MS[resolution];
  const finer = finerResolution(resolution);
  let held: number;
  if (bucket.retention !== undefined) {
    const cutoff = now - keepMs(finer, bucket.retention);
    held = finer === 'raw' ? cutoff : bucketStart(cutoff, finer);
  } else if (bucket.finerExpireAt !== undefined) {
    held = bucket.finerExpireAt.getTime() > now ? start : end;
  } else held = start;
  return Math.min(end, Math.max(start, held));
}

/**
 * The estimate for [a, min(b, held)) of a bucket [start, held) whose own part before `held` is
 * no longer held by the finer level: what the bucket holds beyond what the finer level still has
 * of it, spread evenly over the time before `held`. With nothing held (`held` the bucket's end)
 * this is the bucket pro-rated by the share of it inside [a, b). Summed over the parts of a
 * bucket it gives the bucket's own figure, so adjacent windows add up to the whole.
 */
export function proratedShare(start: number, held: number, a: number, b: number): number {
  const unknown = Math.min(b, held) - a;
  return held > start && unknown > 0 ? unknown / (held - start) : 0;
}

/** The bucket's figure less what the finer level holds of it, never below zero (rounding). */
export function remainderOf(bucket: number, held: number): number {
  return Math.max(0, bucket - held);
}
