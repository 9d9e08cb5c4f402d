/**
 * The store's time resolutions: bucket widths and how long each is kept for a policy.
 * Pure arithmetic, no MongoDB.
 */
import type { Retention } from '../model.js';
import type { Granularity } from './types.js';

export const ROLLUP_RESOLUTIONS = ['1m', '5m', '1h', '1d'] as const;
export type Resolution = (typeof ROLLUP_RESOLUTIONS)[number];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const RESOLUTION_MS: Readonly<Record<Resolution, number>> = {
  '1m': MINUTE,
  '5m': 5 * MINUTE,
  '1h': HOUR,
  '1d': DAY,
};

/** Start of the bucket holding `time` (buckets are aligned to the Unix epoch, so days are UTC days). */
export function bucketStart(time: number, resolution: Resolution): number {
  const width = RESOLUTION_MS[resolution];
  return Math.floor(time / width) * width;
}

/** The next finer resolution, from which a bucket can be recomputed; raw samples for `1m`. */
export function finerResolution(resolution: Resolution): Resolution | 'raw' {
  const index = ROLLUP_RESOLUTIONS.indexOf(resolution);
  return index === 0 ? 'raw' : (ROLLUP_RESOLUTIONS[index - 1] as Resolution);
}

/**
 * Raw readings are kept at least this long, whatever the policy says: the open tail of every
 * answer (the buckets not closed yet, up to a minute plus the grace period) is read from them.
 */
export const RAW_MIN_KEEP_MS = 10 * MINUTE;

/**
 * How long a policy keeps each granularity. `raw`, `1m` and `5m` follow the raw retention,
 * `1h` the hourly and `1d` the daily one. A level is kept at least as long as one bucket of the
 * next coarser level, so that a coarser bucket can always be recomputed from the level below.
 */
export function keepMs(granularity: Granularity, retention: Retention): number {
  switch (granularity) {
    case 'raw':
      return Math.max(retention.rawMs, RAW_MIN_KEEP_MS);
    case '1m':
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
  return granularity === 'raw' ? sampleIntervalMs : RESOLUTION_MS[granularity];
}
