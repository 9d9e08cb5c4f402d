import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  SeriesCursors,
  type SeriesAdvance,
  type SkipReason,
} from '../../../operator/collector/series-cursors.js';
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

  it('bills the whole counter difference after missed readings, and leaves the memory of that span unmeasured', () => {
    const c = cursors();
    c.advance(counter(T0, 100, 1000));
    // The node could not be read for 10 minutes (the cycles of a 15 s policy found no reading).
    for (let i = 0; i < 40; i++) c.missed('uid-1/app');
    expect(c.advance(counter(T0 + 615_000, 715, 3000))).toMatchObject({
      kind: 'delta',
      from: T0,
      cpuCoreSeconds: 615,
      cpuCores: 1,
      memoryByteSeconds: null,
      memoryBytes: 3000,
    });
    // The next span has readings at both ends again.
    expect(c.advance(counter(T0 + 630_000, 730, 3000))).toMatchObject({
      cpuCoreSeconds: 15,
      memoryByteSeconds: 3000 * 15,
    });
  });

  it("leaves unmeasured the memory of a new leader's first span when its cycles missed readings before the series was seeded", () => {
    const c = cursors();
    c.missed('uid-1/app');
    c.seed('uid-1/app', {
      time: T0 - 300_000,
      cpuCoreSecondsTotal: 100,
      containerStartTime: STARTED,
      memoryBytes: 1000,
    });
    expect(c.advance(counter(T0 + 15_000, 415, 1000))).toMatchObject({
      kind: 'delta',
      cpuCoreSeconds: 315,
      memoryByteSeconds: null,
    });
    // Seeded without missed readings: the trapezoid from the stored base.
    const d = cursors();
    d.seed('uid-1/app', {
      time: T0 - 15_000,
      cpuCoreSecondsTotal: 100,
      containerStartTime: STARTED,
      memoryBytes: 1000,
    });
    expect(d.advance(counter(T0, 115, 3000))).toMatchObject({ memoryByteSeconds: 2000 * 15 });
  });

  it('skips a counter that went down with an unchanged start time, and continues from the last good reading', () => {
    const skipped: [SkipReason, number, number][] = [];
    const c = new SeriesCursors({
      clock: { now: () => T0 },
      onSkipped: (_reading, reason, detail) => skipped.push([reason, detail.lastTotal, detail.total]),
    });
    // Up 30 days at 2 cores; one reading 30 core-seconds low.
    const started = T0 - 30 * 86_400_000;
    const at = (t: number) => (2 * (t - started)) / 1000;
    const read = (t: number, total = at(t)) =>
      c.advance(counter(t, total, 1000, started), { nodeCpuCores: 8 });
    // Read every 10 s.
    read(T0);
    expect(read(T0 + 10_000)).toMatchObject({ kind: 'delta', cpuCoreSeconds: 20 });
    expect(read(T0 + 20_000, at(T0 + 20_000) - 30)).toMatchObject({
      kind: 'skipped',
      from: T0 + 20_000,
      cpuCoreSeconds: null,
      memoryByteSeconds: null,
      cpuCores: 2,
    });
    // Read again by another policy: skipped again, reported once.
    expect(read(T0 + 20_000, at(T0 + 20_000) - 30)).toMatchObject({ kind: 'skipped' });
    expect(read(T0 + 30_000)).toMatchObject({
      kind: 'delta',
      from: T0 + 10_000,
      cpuCoreSeconds: 40,
      cpuCores: 2,
    });
    expect(skipped).toEqual([['counter-decrease', at(T0 + 10_000), at(T0 + 20_000) - 30]]);
  });

  it("skips a difference above the node's CPU capacity over its span, and bills the time with the next good reading", () => {
    const skipped: SkipReason[] = [];
    const c = new SeriesCursors({
      clock: { now: () => T0 },
      onSkipped: (_r, reason) => skipped.push(reason),
    });
    const read = (t: number, total: number) => c.advance(counter(t, total), { nodeCpuCores: 2 });
    read(T0, 100);
    // 31 core-seconds in 15 s is more than 2 cores can use: a spike.
    expect(read(T0 + 15_000, 131)).toMatchObject({ kind: 'skipped', cpuCoreSeconds: null });
    expect(read(T0 + 30_000, 160)).toMatchObject({ kind: 'delta', from: T0, cpuCoreSeconds: 60 });
    // Exactly the capacity fits.
    expect(read(T0 + 45_000, 190)).toMatchObject({ kind: 'delta', cpuCoreSeconds: 30 });
    expect(skipped).toEqual(['above-capacity']);
    // Without a known capacity nothing is bounded.
    expect(c.advance(counter(T0 + 60_000, 400))).toMatchObject({ kind: 'delta', cpuCoreSeconds: 210 });
  });

  it('bills from its start only a container that started after it was last known not to be selected', () => {
    const c = cursors();
    // Listed first by a policy whose previous listing (or creation) was 4 hours into the term.
    const created = T0 + 4 * 3_600_000;
    c.selected('uid-old/app', created);
    c.selected('uid-new/app', created);
    const old = { ...counter(created + 15_000, 4 * 3600 * 3, 100, T0 + 3_600_000), podUid: 'uid-old' };
    expect(c.advance(old)).toMatchObject({ kind: 'base', from: created + 15_000, cpuCoreSeconds: 0 });
    const fresh = { ...counter(created + 15_000, 3, 100, created + 5_000), podUid: 'uid-new' };
    expect(c.advance(fresh)).toMatchObject({ kind: 'since-start', from: created + 5_000, cpuCoreSeconds: 3 });
    // The first listing is the one kept: a later one does not move it.
    c.selected('uid-late/app', T0 - 60_000);
    c.selected('uid-late/app', T0 + 60_000);
    const late = { ...counter(T0 + 75_000, 3, 100, T0 + 10_000), podUid: 'uid-late', pod: 'web-late' };
    expect(c.advance(late)).toMatchObject({ kind: 'since-start', from: T0 + 10_000 });
  });

  it('shows no current CPU until two readings of an instance give a rate', () => {
    const c = cursors();
    const fresh = (t: number, total: number, start = T0 + 5_000) => ({
      ...counter(t, total, 100, start),
      podUid: 'uid-new',
    });
    expect(c.advance(fresh(T0 + 20_000, 0.5))).toMatchObject({ kind: 'since-start', cpuCores: null });
    expect(c.advance(fresh(T0 + 35_000, 4.25))).toMatchObject({ kind: 'delta', cpuCores: 0.25 });
    // A restart starts a new instance: no rate from its first reading either.
    expect(c.advance(fresh(T0 + 50_000, 1, T0 + 40_000))).toMatchObject({ kind: 'restart', cpuCores: null });
    expect(c.advance(fresh(T0 + 65_000, 4.75, T0 + 40_000))).toMatchObject({ cpuCores: 0.25 });
  });

  it('bills exactly the counter over the covered time, whatever readings are missed, dropped or glitched', () => {
    const STEP = 15_000;
    const kind = fc.constantFrom('read', 'read', 'read', 'missed', 'dropped', 'low', 'spike');
    fc.assert(
      fc.property(
        fc.array(fc.record({ cores: fc.double({ min: 0, max: 4, noNaN: true }), kind }), {
          minLength: 2,
          maxLength: 120,
        }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (steps, low) => {
          const capacity = 4;
          const started = T0 - 86_400_000;
          const skips: SkipReason[] = [];
          const c = new SeriesCursors({
            clock: { now: () => T0 },
            onSkipped: (_r, reason) => skips.push(reason),
          });
          // The true counter at each step's end: piecewise constant usage.
          const truth = [4 * 86_400];
          for (const step of steps) truth.push(truth.at(-1)! + (step.cores * STEP) / 1000);
          const read = (i: number, total: number) =>
            c.advance(counter(T0 + i * STEP, total, 1000, started), { nodeCpuCores: capacity });
          const advances: SeriesAdvance[] = [read(0, truth[0]!)!];
          const missedAt: number[] = [];
          let glitches = 0;
          steps.forEach((step, index) => {
            const i = index + 1;
            // The last reading is a good one, so that the sum is known.
            const what = i === steps.length ? 'read' : step.kind;
            if (what === 'missed') {
              c.missed('uid-1/app');
              missedAt.push(T0 + i * STEP);
            } else if (what === 'low') {
              glitches++;
              advances.push(read(i, truth[0]! * low)!);
            } else if (what === 'spike') {
              glitches++;
              advances.push(read(i, truth[i]! + capacity * (steps.length + 1) * (STEP / 1000))!);
            } else if (what === 'read') advances.push(read(i, truth[i]!)!);
          });
          const billed = advances.filter((a) => a.from < a.time);
          let total = 0;
          let memory = 0;
          let expectedMemory = 0;
          let covered = 0;
          for (const [n, a] of billed.entries()) {
            if (n > 0) expect(a.from).toBe(billed[n - 1]!.time); // the spans tile the time
            const seconds = (a.time - a.from) / 1000;
            expect(a.cpuCoreSeconds!).toBeLessThanOrEqual(capacity * seconds * (1 + 1e-12));
            total += a.cpuCoreSeconds!;
            covered += a.time - a.from;
            memory += a.memoryByteSeconds ?? 0;
            if (!missedAt.some((t) => t > a.from && t < a.time)) expectedMemory += 1000 * seconds;
            else expect(a.memoryByteSeconds).toBeNull();
          }
          const last = T0 + steps.length * STEP;
          expect(covered).toBe(last - T0);
          const increase = truth.at(-1)! - truth[0]!;
          expect(Math.abs(total - increase)).toBeLessThanOrEqual(1e-9 * Math.max(1, increase));
          expect(Math.abs(memory - expectedMemory)).toBeLessThanOrEqual(1e-9 * Math.max(1, expectedMemory));
          expect(skips.length).toBe(glitches);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('drops the cursors of pods that are gone', () => {
    const c = cursors();
    c.advance(counter(T0, 1));
    c.advance({ ...counter(T0, 1), podUid: 'uid-2' });
    c.prune((uid) => uid === 'uid-2');
    expect([c.has('uid-1/app'), c.has('uid-2/app'), c.size]).toEqual([false, true, 1]);
  });
});
