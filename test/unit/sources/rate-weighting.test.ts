import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { rateIncrement } from '../../../operator/sources/rate-weighting.js';

const T0 = Date.UTC(2026, 11, 2, 0, 0, 0);

describe('rateIncrement', () => {
  const reading = (cores: number, time: number, windowMs = 15_000) => ({
    kind: 'rate' as const,
    cores,
    time,
    windowMs,
  });

  it('a first reading stands for its window', () => {
    expect(rateIncrement(undefined, reading(2, T0))).toEqual({
      coreSeconds: 30,
      from: T0 - 15_000,
      to: T0,
      extrapolatedMs: 0,
    });
  });

  it('contiguous windows each count once; a window seen again adds nothing', () => {
    expect(rateIncrement(T0, reading(1, T0 + 15_000))).toEqual({
      coreSeconds: 15,
      from: T0,
      to: T0 + 15_000,
      extrapolatedMs: 0,
    });
    expect(rateIncrement(T0 + 15_000, reading(1, T0 + 15_000))).toBeUndefined();
    expect(rateIncrement(T0 + 15_000, reading(1, T0 + 14_000))).toBeUndefined();
  });

  it('skipped windows (read every 60 s at 15 s resolution) are credited at the rate of the next one', () => {
    expect(rateIncrement(T0, reading(0.5, T0 + 60_000))).toEqual({
      coreSeconds: 30,
      from: T0,
      to: T0 + 60_000,
      extrapolatedMs: 45_000,
    });
  });

  it('a gap longer than maxGapMs is left uncovered: only the window counts', () => {
    expect(rateIncrement(T0, reading(1, T0 + 600_000), { maxGapMs: 120_000 })).toEqual({
      coreSeconds: 15,
      from: T0 + 585_000,
      to: T0 + 600_000,
      extrapolatedMs: 0,
    });
  });

  it('overlapping windows count only the new part', () => {
    expect(rateIncrement(T0, reading(2, T0 + 5_000))).toEqual({
      coreSeconds: 10,
      from: T0,
      to: T0 + 5_000,
      extrapolatedMs: 0,
    });
  });

  it('rejects rates and windows that make no sense', () => {
    expect(() => rateIncrement(undefined, reading(-1, T0))).toThrow('rate -1');
    expect(() => rateIncrement(undefined, reading(1, T0, 0))).toThrow('window 0 ms is not positive');
  });

  it('constant usage read at any interval against any resolution adds up exactly (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }).map((m) => m / 1000),
        fc.integer({ min: 1, max: 4 }).map((k) => k * 5_000), // resolution
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 40 }), // polls, in windows
        (cores, resolution, steps) => {
          let previousEnd: number | undefined;
          let end = T0;
          let sum = 0;
          let firstStart: number | undefined;
          for (const step of steps) {
            end += step * resolution;
            firstStart ??= end - resolution;
            const inc = rateIncrement(previousEnd, reading(cores, end, resolution));
            if (inc) sum += inc.coreSeconds;
            previousEnd = end;
          }
          // Covered: from the first window's start to the last window's end.
          const coveredSeconds = (end - firstStart!) / 1000;
          expect(sum).toBeCloseTo(cores * coveredSeconds, 6);
        },
      ),
    );
  });
});
