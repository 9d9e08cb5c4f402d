import { describe, expect, it } from '@jest/globals';
import { bucketStart, granularityMs, keepMs } from '../../../operator/store/resolutions.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('bucketStart', () => {
  it('aligns the stored buckets to UTC five minutes, hours and days', () => {
    const t = Date.UTC(2026, 10, 21, 13, 47, 31, 500);
    expect(bucketStart(t, '5m')).toBe(Date.UTC(2026, 10, 21, 13, 45));
    expect(bucketStart(t, '1h')).toBe(Date.UTC(2026, 10, 21, 13));
    expect(bucketStart(t, '1d')).toBe(Date.UTC(2026, 10, 21));
  });
});

describe('keepMs', () => {
  const retention = { rawMs: 7 * DAY, hourlyMs: 90 * DAY, dailyMs: 400 * DAY };

  it('keeps raw and 5m like raw, 1h like hourly and 1d like daily', () => {
    expect(['raw', '5m', '1h', '1d'].map((g) => keepMs(g as never, retention))).toEqual([
      7 * DAY,
      7 * DAY,
      90 * DAY,
      400 * DAY,
    ]);
  });

  it('keeps each level at least one bucket of the next, so that it can be recomputed', () => {
    const short = { rawMs: 10_000, hourlyMs: HOUR, dailyMs: DAY };
    // Raw readings at least 10 minutes: the open tail of every answer (five minutes and the grace
    // period at most) is read from them, and the 5m buckets are recomputed from them.
    expect(keepMs('raw', short)).toBe(10 * MINUTE);
    expect(keepMs('5m', short)).toBe(HOUR);
    expect(keepMs('1h', short)).toBe(DAY);
  });
});

describe('granularityMs', () => {
  it('gives the width of every granularity of history, the 1m one computed from raw readings included', () => {
    expect(['1m', '5m', '1h', '1d'].map((g) => granularityMs(g as never, 15_000))).toEqual([
      MINUTE,
      5 * MINUTE,
      HOUR,
      DAY,
    ]);
    expect(granularityMs('raw', 15_000)).toBe(15_000);
  });
});
