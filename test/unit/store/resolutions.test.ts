import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { bucketStart, coverWindow, keepMs, RESOLUTION_MS } from '../../../operator/store/resolutions.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('bucketStart', () => {
  it('aligns buckets to UTC minutes, five minutes, hours and days', () => {
    const t = Date.UTC(2026, 10, 21, 13, 47, 31, 500);
    expect(bucketStart(t, '1m')).toBe(Date.UTC(2026, 10, 21, 13, 47));
    expect(bucketStart(t, '5m')).toBe(Date.UTC(2026, 10, 21, 13, 45));
    expect(bucketStart(t, '1h')).toBe(Date.UTC(2026, 10, 21, 13));
    expect(bucketStart(t, '1d')).toBe(Date.UTC(2026, 10, 21));
  });
});

describe('keepMs', () => {
  const retention = { rawMs: 7 * DAY, hourlyMs: 90 * DAY, dailyMs: 400 * DAY };

  it('keeps raw, 1m and 5m like raw, 1h like hourly and 1d like daily', () => {
    expect(['raw', '1m', '5m', '1h', '1d'].map((g) => keepMs(g as never, retention))).toEqual([
      7 * DAY,
      7 * DAY,
      7 * DAY,
      90 * DAY,
      400 * DAY,
    ]);
  });

  it('keeps each level at least one bucket of the next, so that it can be recomputed', () => {
    const short = { rawMs: 10_000, hourlyMs: HOUR, dailyMs: DAY };
    // Raw readings (and minutes) at least 10 minutes: the open tail of every answer is read from them.
    expect(keepMs('raw', short)).toBe(10 * MINUTE);
    expect(keepMs('1m', short)).toBe(10 * MINUTE);
    expect(keepMs('5m', short)).toBe(HOUR);
    expect(keepMs('1h', short)).toBe(DAY);
  });
});

describe('coverWindow', () => {
  it('reads an hour from 5m buckets and the minute at its end', () => {
    const from = Date.UTC(2026, 10, 21, 9, 30, 10);
    expect(coverWindow(from, from + HOUR)).toEqual([
      { resolution: '5m', from: Date.UTC(2026, 10, 21, 9, 30), to: Date.UTC(2026, 10, 21, 10, 30) },
      { resolution: '1m', from: Date.UTC(2026, 10, 21, 10, 30), to: Date.UTC(2026, 10, 21, 10, 31) },
    ]);
  });

  it('reads a day from hours when it does not hold a whole UTC day', () => {
    expect(coverWindow(Date.UTC(2026, 10, 20, 12), Date.UTC(2026, 10, 21, 12))).toEqual([
      { resolution: '1h', from: Date.UTC(2026, 10, 20, 12), to: Date.UTC(2026, 10, 21, 12) },
    ]);
  });

  it('reads 30 days from whole days in the middle and hours at the edges', () => {
    expect(coverWindow(Date.UTC(2026, 9, 20, 7, 13), Date.UTC(2026, 10, 19, 7, 13))).toEqual([
      { resolution: '1h', from: Date.UTC(2026, 9, 20, 7), to: Date.UTC(2026, 9, 21) },
      { resolution: '1d', from: Date.UTC(2026, 9, 21), to: Date.UTC(2026, 10, 19) },
      { resolution: '1h', from: Date.UTC(2026, 10, 19), to: Date.UTC(2026, 10, 19, 8) },
    ]);
  });

  it('covers the window with contiguous aligned segments, at most 0.3% more than asked', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.integer({ min: 1_000, max: 60 * DAY }),
        (from, span) => {
          const segments = coverWindow(from, from + span);
          expect(segments.length).toBeGreaterThan(0);
          for (const [i, segment] of segments.entries()) {
            const width = RESOLUTION_MS[segment.resolution];
            expect(segment.from % width).toBe(0);
            expect(segment.to % width).toBe(0);
            expect(segment.to).toBeGreaterThan(segment.from);
            if (i > 0) expect(segment.from).toBe(segments[i - 1]?.to);
          }
          const first = segments[0]!;
          const last = segments[segments.length - 1]!;
          expect(first.from).toBeLessThanOrEqual(from);
          expect(last.to).toBeGreaterThanOrEqual(from + span);
          const extra = first.from - from + (last.to - (from + span));
          expect(Math.abs(extra)).toBeLessThanOrEqual(Math.max(2 * MINUTE, (2 * span) / 720));
        },
      ),
    );
  });

  it('is empty for an empty window', () => {
    expect(coverWindow(5, 5)).toEqual([]);
  });
});
