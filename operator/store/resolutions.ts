/**
 * The store's time resolutions: bucket widths and how long each is kept for a policy.
 * Pure arithmetic, no MongoDB.
 *
 * Buckets are stored at 5m, 1h and 1d. The 1m granularity of history is computed from the raw
 * readings (it would be kept exactly as long as they are, and its documents would cost the write
 * path as much as the readings themselves).
 */
import type { Retention } from '../model.js';
import type { Granularity } from './types.js';

/** The stored bucket levels, finest first. */
export const ROLLUP_RESOLUTIONS = ['5m', '1h', '1d'] as const;
export type Resolution = (typeof ROLLUP_RESOLUTIONS)[number];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const RESOLUTION_MS: Readonly<Record<Resolution, number>> = {
  '5m': 5 * MINUTE,
  '1h': HOUR,
  '1d': DAY,
};

/** Width of every bucketed granularity of history, stored or computed from the raw readings. */
export const GRANULARITY_MS: Readonly<Record<Exclude<Granularity, 'raw'>, number>> = {
  '1m': MINUTE,
  ...RESOLUTION_MS,
};

/** Start of the bucket holding `time` (buckets are aligned to the Unix epoch, so days are UTC days). */
export function bucketStart(time: number, resolution: Resolution): number {
  const width = RESOLUTION_MS[resolution];
  return Math.floor(time / width) * width;
}

/** The next finer level, from which a bucket can be recomputed; the raw readings for `5m`. */
export function finerResolution(resolution: Resolution): Resolution | 'raw' {
  const index = ROLLUP_RESOLUTIONS.indexOf(resolution);
  return index === 0 ? 'raw' : (ROLLUP_RESOLUTIONS[index - 1] as Resolution);
}

/**
 * Raw readings are kept at least this long, whatever the policy says: the open tail of every
 * answer (the 5m buckets not closed yet, up to five minutes plus the grace period) is read from
 * them, and so are the 5m buckets recomputed after a crash.
 */
export const RAW_MIN_KEEP_MS = 10 * MINUTE;

/**
 * How long a policy keeps each stored level. `raw` (and so the 1m history computed from it) and
 * `5m` follow the raw retention, `1h` the hourly and `1d` the daily one. A level is kept at least
 * as long as one bucket of the next coarser level, so that a coarser bucket can always be
 * recomputed from the level below.
 */
export function keepMs(granularity: Resolution | 'raw', retention: Retention): number {
  switch (granularity) {
    case 'raw':
      return Math.max(retention.rawMs, RAW_MIN_KEEP_MS);
    case '5m':
      return Math.max(retention.rawMs, HOUR);
    case '1h':
      return Math.max(retention.hourlyMs, DAY);
    case '1d':
      return retention.dailyMs;
  }
}

/** Width of a granularity; for `raw`, the sample interval. */
export function granularityMs(granularity: Granularity, sampleIntervalMs: number): number {
  return granularity === 'raw' ? sampleIntervalMs : GRANULARITY_MS[granularity];
}
