import { describe, expect, it } from '@jest/globals';
import { SeriesCursors } from '../../../operator/collector/series-cursors.js';
import type { ContainerReading } from '../../../operator/sources/readings.js';

const T0 = Date.UTC(2026, 10, 21, 10, 0, 0);
const STARTED = T0 - 3_600_000;

/** Cursors created at T0 (collection began then). */
const cursors = () => new SeriesCursors({ clock: { now: () => T0 } });

function counter(
  time: number,
  total: number,
  memory?: number,
  startTime: number | undefined = STARTED,
): ContainerReading {
  const reading: ContainerReading = {
    namespace: 'shop',
    pod: 'web-1',
    podUid: 'uid-1',
    container: 'app',
    node: 'node-1',
    cpu: { kind: 'counter', coreSecondsTotal: total, time },
  };
  if (startTime !== undefined) reading.startTime = startTime;
  if (memory !== undefined) reading.memoryWorkingSetBytes = { value: memory, time };
  return reading;
}

function rate(time: number, cores: number, memory?: number): ContainerReading {
  const reading: ContainerReading = {
    namespace: 'shop',
    pod: 'web-1',
    podUid: 'uid-1',
    container: 'app',
    node: 'node-1',
    cpu: { kind: 'rate', cores, time, windowMs: 15_000 },
  };
  if (memory !== undefined) reading.memoryWorkingSetBytes = { value: memory, time };
  return reading;
}

describe('SeriesCursors', () => {
  it('integrates memory by the trapezoid rule between readings', () => {
    const c = cursors();
    expect(c.advance(counter(T0, 100, 1000))).toMatchObject({ kind: 'base', memoryByteSeconds: 0 });
    expect(c.advance(counter(T0 + 10_000, 105, 3000))).toMatchObject({
      kind: 'delta',
      from: T0,
      cpuCoreSeconds: 5,
      cpuCores: 0.5,
      memoryByteSeconds: ((1000 + 3000) / 2) * 10,
    });
  });

  it('tells a reset by the counter going down only when no start time is known at all, and credits the new counter', () => {
    const c = cursors();
    const unstarted = (time: number, total: number) => {
      const reading = counter(time, total);
      delete reading.startTime;
      return reading;
    };
    c.advance(unstarted(T0, 100));
    expect(c.advance(unstarted(T0 + 15_000, 2))).toMatchObject({
      kind: 'restart',
      from: T0,
      cpuCoreSeconds: 2,
      cpuCores: null,
    });
  });

  it("does not take a start time rounded differently (the pod's status) for a restart", () => {
    const c = cursors();
    c.advance(counter(T0, 100, undefined, STARTED + 437));
    // The next reading lacks the start time; the pod's status gives it in whole seconds.
    const reading = counter(T0 + 15_000, 101.5, undefined, undefined);
    expect(c.advance(reading, { startTime: STARTED })).toMatchObject({ kind: 'delta', cpuCoreSeconds: 1.5 });
    expect(c.advance(counter(T0 + 30_000, 103, undefined, STARTED))).toMatchObject({ kind: 'delta' });
    // A start time the source reports that moved by seconds is a restart.
    expect(c.advance(counter(T0 + 45_000, 4, undefined, T0 + 40_000))).toMatchObject({
      kind: 'restart',
      from: T0 + 40_000,
      cpuCoreSeconds: 4,
    });
  });

  it('takes back from the counter what rates credited meanwhile: the total stays the counter difference', () => {
    const c = cursors();
    c.advance(counter(T0, 100));
    const rates = [rate(T0 + 15_000, 0.4), rate(T0 + 30_000, 0.6)].map((r) => c.advance(r)!);
    expect(rates.map((r) => [r.from, r.cpuCoreSeconds])).toEqual([
      [T0, 6],
      [T0 + 15_000, 9],
    ]);
    const back = c.advance(counter(T0 + 45_000, 122))!;
    expect(back).toMatchObject({ kind: 'delta', from: T0 + 30_000, cpuCoreSeconds: 22 - 15 });
  });

  it('gives a repeated reading a zero span with the current values and its counter', () => {
    const c = cursors();
    c.advance(counter(T0, 100, 10));
    c.advance(counter(T0 + 15_000, 103, 20));
    expect(c.advance(counter(T0 + 15_000, 103, 20))).toEqual({
      kind: 'repeat',
      from: T0 + 15_000,
      time: T0 + 15_000,
      cpuCoreSeconds: 0,
      memoryByteSeconds: 0,
      cpuCores: 0.2,
      memoryBytes: 20,
      cpuCoreSecondsTotal: 103,
      containerStartTime: STARTED,
    });
    // An older reading (out of order) adds nothing either.
    expect(c.advance(counter(T0 + 5_000, 101))).toMatchObject({ kind: 'repeat', cpuCoreSeconds: 0 });
  });

  it('continues from a seeded base, and a seed never replaces a cursor already advanced', () => {
    const c = cursors();
    c.seed('uid-1/app', { time: T0 - 20_000, cpuCoreSecondsTotal: 90, containerStartTime: STARTED });
    expect(c.advance(counter(T0, 100))).toMatchObject({
      kind: 'delta',
      from: T0 - 20_000,
      cpuCoreSeconds: 10,
    });
    c.seed('uid-1/app', { time: T0 - 60_000, cpuCoreSecondsTotal: 50 });
    expect(c.advance(counter(T0 + 10_000, 101))).toMatchObject({ from: T0, cpuCoreSeconds: 1 });
  });

  it('bills a container started within collection from its start, one started before only as a base', () => {
    const c = cursors();
    const fresh = { ...counter(T0 + 20_000, 3, 100, T0 + 5_000), podUid: 'uid-new' };
    expect(c.advance(fresh)).toMatchObject({
      kind: 'since-start',
      from: T0 + 5_000,
      cpuCoreSeconds: 3,
      // One reading is no rate: the current CPU is unknown until the second.
      cpuCores: null,
      memoryByteSeconds: 100 * 15,
    });
    expect(c.advance(counter(T0 + 20_000, 500))).toMatchObject({ kind: 'base', cpuCoreSeconds: 0 });
  });

  it('bills from its start a container started after what the store accounts up to, even before the term began', () => {
    const c = cursors();
    c.reset();
    // The store's newest reading (the previous leader's last) is 40 s before this term began.
    c.accountedUntil(T0 - 40_000);
    const inGap = { ...counter(T0 + 10_000, 4, 100, T0 - 30_000), podUid: 'uid-gap' };
    expect(c.advance(inGap)).toMatchObject({ kind: 'since-start', from: T0 - 30_000, cpuCoreSeconds: 4 });
    // Started before that reading and without a stored base: only a base (nothing is billed twice).
    const before = { ...counter(T0 + 10_000, 50, 100, T0 - 41_000), podUid: 'uid-before' };
    expect(c.advance(before)).toMatchObject({ kind: 'base', cpuCoreSeconds: 0 });
    // In the same second as that reading: the pod's status has whole seconds, compared so.
    const sameSecond = { ...counter(T0 + 10_000, 5, 100, T0 - 40_000), podUid: 'uid-same' };
    expect(c.advance(sameSecond)).toMatchObject({ kind: 'since-start', from: T0 - 40_000 });
  });

  it('never moves the start of billing after the term began, and a new term forgets the last one', () => {
    const c = cursors();
    // A store whose newest reading is later than this clock (its readings carry the nodes' clocks).
    c.accountedUntil(T0 + 60_000);
    const fresh = { ...counter(T0 + 20_000, 3, 100, T0 + 5_000), podUid: 'uid-new' };
    expect(c.advance(fresh)).toMatchObject({ kind: 'since-start', from: T0 + 5_000 });
    c.accountedUntil(T0 - 40_000);
    c.reset();
    const inGap = { ...counter(T0 + 20_000, 3, 100, T0 - 30_000), podUid: 'uid-gap' };
    expect(c.advance(inGap)).toMatchObject({ kind: 'base' });
  });

  it('drops the cursors of pods that are gone', () => {
    const c = cursors();
    c.advance(counter(T0, 1));
    c.advance({ ...counter(T0, 1), podUid: 'uid-2' });
    c.prune((uid) => uid === 'uid-2');
    expect([c.has('uid-1/app'), c.has('uid-2/app'), c.size]).toEqual([false, true, 1]);
  });
});
