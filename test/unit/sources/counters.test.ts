import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  counterIncrement,
  counterPoint,
  incrementSinceStart,
  isRestart,
  rateIncrement,
  type CounterPoint,
} from '../../../operator/sources/counters.js';

const T0 = Date.UTC(2026, 11, 2, 0, 0, 0);
const START = T0 - 3_600_000;

describe('counterIncrement', () => {
  it('is the exact difference for the same instance, whatever the spacing', () => {
    expect(
      counterIncrement(
        { coreSecondsTotal: 100.25, time: T0, startTime: START },
        { coreSecondsTotal: 107.75, time: T0 + 15_000, startTime: START },
      ),
    ).toEqual({ kind: 'delta', coreSeconds: 7.5, from: T0, to: T0 + 15_000 });
    expect(
      counterIncrement({ coreSecondsTotal: 1, time: T0 }, { coreSecondsTotal: 1, time: T0 + 3_600_000 }),
    ).toEqual({
      kind: 'delta',
      coreSeconds: 0,
      from: T0,
      to: T0 + 3_600_000,
    });
  });

  it('after a restart (a new start time) credits the new counter, all of it, to the time since the previous reading', () => {
    const restartedAt = T0 + 10_000;
    expect(
      counterIncrement(
        { coreSecondsTotal: 500, time: T0, startTime: START },
        { coreSecondsTotal: 2.5, time: T0 + 30_000, startTime: restartedAt },
      ),
    ).toEqual({ kind: 'restart', coreSeconds: 2.5, from: T0, to: T0 + 30_000 });
  });

  it('a restart is seen by its start time even when the new counter is already higher', () => {
    expect(
      counterIncrement(
        { coreSecondsTotal: 1, time: T0, startTime: START },
        { coreSecondsTotal: 40, time: T0 + 60_000, startTime: T0 + 1_000 },
      ),
    ).toMatchObject({ kind: 'restart', coreSeconds: 40 });
  });

  it('a counter that went down with no start time to tell is a reset', () => {
    expect(
      counterIncrement({ coreSecondsTotal: 9, time: T0 }, { coreSecondsTotal: 4, time: T0 + 15_000 }),
    ).toEqual({
      kind: 'counter-reset',
      coreSeconds: 4,
      from: T0,
      to: T0 + 15_000,
    });
    // A start time on one side only says nothing; the counter going down still does.
    expect(
      counterIncrement(
        { coreSecondsTotal: 9, time: T0 },
        { coreSecondsTotal: 4, time: T0 + 1, startTime: START },
      ),
    ).toMatchObject({ kind: 'counter-reset', coreSeconds: 4 });
  });

  it('a repeated or older sample adds nothing', () => {
    const point = { coreSecondsTotal: 9, time: T0, startTime: START };
    expect(counterIncrement(point, { ...point })).toBeUndefined();
    expect(counterIncrement(point, { ...point, time: T0 - 1, coreSecondsTotal: 8 })).toBeUndefined();
  });

  it('rejects counters that are not finite non-negative numbers', () => {
    expect(() =>
      counterIncrement({ coreSecondsTotal: -1, time: T0 }, { coreSecondsTotal: 1, time: T0 + 1 }),
    ).toThrow('previous: counter -1 is not a finite non-negative number');
    expect(() =>
      counterIncrement({ coreSecondsTotal: 1, time: T0 }, { coreSecondsTotal: NaN, time: T0 + 1 }),
    ).toThrow('next: counter NaN');
    expect(() =>
      counterIncrement({ coreSecondsTotal: 1, time: NaN }, { coreSecondsTotal: 1, time: T0 }),
    ).toThrow('previous: time NaN is not finite');
  });

  it('increments of a sampled counter add up to its growth, with restarts counted from zero (property)', () => {
    // A container's life: segments (instances), each a counter growing from 0 at its start.
    const segment = fc.record({
      rates: fc.array(fc.double({ min: 0, max: 64, noNaN: true }), { minLength: 1, maxLength: 30 }),
      gapsMs: fc.array(fc.integer({ min: 1, max: 600_000 }), { minLength: 30, maxLength: 30 }),
    });
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.boolean(), (segments, knowStart) => {
        const points: CounterPoint[] = [];
        let time = T0;
        let expected = 0;
        segments.forEach((s, index) => {
          const startTime = time + 1;
          let total = 0;
          s.rates.forEach((rate, i) => {
            const gap = s.gapsMs[i]!;
            time += gap;
            total += (rate * gap) / 1000;
            // The first reading of an instance after the first one: all of it is new.
            if (index > 0 || i > 0) expected += i === 0 ? total : (rate * gap) / 1000;
            points.push(
              knowStart ? { coreSecondsTotal: total, time, startTime } : { coreSecondsTotal: total, time },
            );
          });
        });
        let sum = 0;
        let resets = 0;
        for (let i = 1; i < points.length; i++) {
          const inc = counterIncrement(points[i - 1]!, points[i]!)!;
          expect(inc.coreSeconds).toBeGreaterThanOrEqual(0);
          expect(inc.to - inc.from).toBeGreaterThan(0);
          if (inc.kind !== 'delta') resets++;
          sum += inc.coreSeconds;
        }
        if (knowStart) expect(resets).toBe(segments.length - 1);
        else expect(resets).toBeLessThanOrEqual(segments.length - 1);
        // Without start times, a restart whose new counter is higher than the old one's last
        // reading is not visible; the increment then undercounts, never overcounts.
        if (knowStart) expect(sum).toBeCloseTo(expected, 6);
        else expect(sum).toBeLessThanOrEqual(expected + 1e-6 * Math.max(1, expected));
      }),
    );
  });
});

describe('isRestart, counterPoint, incrementSinceStart', () => {
  it('a restart needs two known, different start times', () => {
    const a = { coreSecondsTotal: 1, time: T0 };
    expect(isRestart({ ...a, startTime: 1 }, { ...a, startTime: 2 })).toBe(true);
    expect(isRestart({ ...a, startTime: 1 }, { ...a, startTime: 1 })).toBe(false);
    expect(isRestart(a, { ...a, startTime: 2 })).toBe(false);
  });

  it('counterPoint joins a counter reading with its start time', () => {
    expect(counterPoint({ kind: 'counter', coreSecondsTotal: 3, time: T0 }, START)).toEqual({
      coreSecondsTotal: 3,
      time: T0,
      startTime: START,
    });
    expect(counterPoint({ kind: 'counter', coreSecondsTotal: 3, time: T0 })).toEqual({
      coreSecondsTotal: 3,
      time: T0,
    });
  });

  it('credits a first reading from the container start when it started after the series was watched', () => {
    const point = { coreSecondsTotal: 12, time: T0 + 45_000, startTime: T0 + 5_000 };
    expect(incrementSinceStart(point, T0)).toEqual({
      kind: 'restart',
      coreSeconds: 12,
      from: T0 + 5_000,
      to: T0 + 45_000,
    });
    expect(incrementSinceStart(point, T0 + 6_000)).toBeUndefined();
    expect(incrementSinceStart({ coreSecondsTotal: 12, time: T0 + 45_000 }, T0)).toBeUndefined();
  });
});

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
