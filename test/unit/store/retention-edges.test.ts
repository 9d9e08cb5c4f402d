/**
 * Reading stored levels across their retention edges: within a bucket cut by a window's edge, the
 * finer level holds a series only from some instant on (its first buckets expire first). The
 * read side (queries.ts) against the store's documents in memory, built by the write side's pure
 * functions, for random retention settings, clocks and window edges; the truth is the readings'
 * increments pro-rated to the window, computed here the plain way.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { ContainerSample, Retention } from '../../../operator/model.js';
import { finerHeldFrom, proratedShare } from '../../../operator/store/finer-levels.js';
import { summary } from '../../../operator/store/queries.js';
import {
  bucketStart,
  keepMs,
  RESOLUTION_MS,
  ROLLUP_RESOLUTIONS,
  type Resolution,
} from '../../../operator/store/resolutions.js';
import { rollupsOfSamples } from '../../../operator/store/rollups.js';
import { toSnapshotDoc } from '../../../operator/store/snapshots.js';
import type { SummaryResult } from '../../../operator/store/types.js';
import { sample, T0 } from './fixtures.js';
import { memoryStore, type MemoryStore } from './memory-collections.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Readings of one container from `start` to `end`, every `everyMs`, at `cores(t)` cores and `bytes` bytes. */
function readings(
  namespace: string,
  start: number,
  end: number,
  everyMs: number,
  cores: (time: number) => number,
  retention: Retention,
  cpuRequestMillicores?: number,
): ContainerSample[] {
  const samples: ContainerSample[] = [];
  for (let from = start; from < end;) {
    const time = Math.min(end, from + everyMs);
    const rate = cores(time);
    samples.push(
      sample({
        namespace,
        pod: `${namespace}-pod`,
        podUid: `uid-${namespace}`,
        time,
        from,
        cpuMillicores: rate * 1000,
        cpuCoreSeconds: (rate * (time - from)) / 1000,
        memoryBytes: 2 ** 30,
        memoryByteSeconds: (2 ** 30 * (time - from)) / 1000,
        cpuRequestMillicores,
        retention,
      }),
    );
    from = time;
  }
  return samples;
}

/**
 * The store's documents for `samples` as the write side makes them, every level written whole up
 * to `until`, with what retention removed by `now` gone, except where `lag` keeps a document the
 * retention loop has not reached yet.
 */
function storeOf(
  samples: ContainerSample[],
  until: number,
  now: number,
  lag = (_id: string) => false,
): MemoryStore {
  const store = memoryStore();
  const kept = (doc: { _id: string; expireAt?: Date }) =>
    doc.expireAt === undefined || doc.expireAt.getTime() > now || lag(doc._id);
  store.snapshots.docs = samples.map((s) => toSnapshotDoc(s)).filter(kept) as typeof store.snapshots.docs;
  for (const resolution of ROLLUP_RESOLUTIONS)
    store.rollups[resolution].docs = [...rollupsOfSamples(samples, resolution, []).values()].filter(
      kept,
    ) as (typeof store.rollups)[Resolution]['docs'];
  store.meta.docs = [
    {
      _id: 'watermarks',
      ...Object.fromEntries(ROLLUP_RESOLUTIONS.map((r) => [r, bucketStart(until, r)])),
    },
  ];
  return store;
}

/** Core-hours, billed core-hours and GiB-hours of `samples` in [a, b), the plain way. */
function truth(samples: readonly ContainerSample[], a: number, b: number) {
  let coreSeconds = 0;
  let billedCoreSeconds = 0;
  let gibSeconds = 0;
  for (const s of samples) {
    const from = s.from as number;
    const overlap = Math.max(0, Math.min(b, s.time) - Math.max(a, from));
    if (overlap === 0) continue;
    const used = ((s.cpuCoreSeconds as number) * overlap) / (s.time - from);
    coreSeconds += used;
    billedCoreSeconds += Math.max(used, ((s.cpuRequestMillicores ?? 0) / 1000) * (overlap / 1000));
    gibSeconds += ((s.memoryByteSeconds as number) * overlap) / (s.time - from) / 2 ** 30;
  }
  return { coreHours: coreSeconds / 3600, billed: billedCoreSeconds / 3600, gibHours: gibSeconds / 3600 };
}

function close(actual: number | undefined, expected: number): boolean {
  return actual !== undefined && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
}

function expectTruth(answer: SummaryResult, expected: ReturnType<typeof truth>): void {
  const entry = answer.items[0];
  expect({ entry, expected, ok: close(entry?.cpuCoreHours, expected.coreHours) }).toMatchObject({ ok: true });
  expect({ entry, expected, ok: close(entry?.cpuCoreHoursBilled, expected.billed) }).toMatchObject({
    ok: true,
  });
  expect({ entry, expected, ok: close(entry?.memoryGiBHours, expected.gibHours) }).toMatchObject({
    ok: true,
  });
}

async function chargeback(store: MemoryStore, namespace: string, from: number, to: number, now: number) {
  return summary(
    store.collections,
    { from, to, groupBy: { kind: 'namespace' }, namespaces: [namespace] },
    now,
  );
}

describe('finerHeldFrom', () => {
  const retention = { rawMs: DAY, hourlyMs: 7 * DAY, dailyMs: 400 * DAY };
  const day = { time: new Date(T0), retention, finerExpireAt: new Date(T0 + DAY + 7 * DAY) };

  it('holds a day from its first hour still kept: hours expire at their own end plus the hourly retention', () => {
    // 7.5 days after the day began, the hours ending by 12:00 are gone.
    expect(finerHeldFrom('1d', day, T0 + 7 * DAY + 12 * HOUR)).toBe(T0 + 12 * HOUR);
    // The hour ending exactly at the cutoff is gone, the next one is kept.
    expect(finerHeldFrom('1d', day, T0 + 7 * DAY + 12 * HOUR + 1)).toBe(T0 + 12 * HOUR);
    expect(finerHeldFrom('1d', day, T0 + 7 * DAY + HOUR - 1)).toBe(T0);
    expect(finerHeldFrom('1d', day, T0 + 7 * DAY + HOUR)).toBe(T0 + HOUR);
    // Clamped to the bucket: all of it held, none of it held.
    expect(finerHeldFrom('1d', day, T0 + DAY)).toBe(T0);
    expect(finerHeldFrom('1d', day, T0 + 9 * DAY)).toBe(T0 + DAY);
  });

  it('holds an hour from its first 5-minute bucket still kept, and a 5-minute bucket from the raw cutoff', () => {
    const hour = { time: new Date(T0), retention };
    expect(finerHeldFrom('1h', hour, T0 + DAY + 31 * MINUTE)).toBe(T0 + 30 * MINUTE);
    const five = { time: new Date(T0), retention };
    // Raw readings are kept while their time plus the retention is ahead: they hold their spans from the cutoff.
    expect(finerHeldFrom('5m', five, T0 + DAY + 2 * MINUTE + 7)).toBe(T0 + 2 * MINUTE + 7);
  });

  it('takes a bucket without a retention as all held or, past its finerExpireAt, none', () => {
    const old = { time: new Date(T0), finerExpireAt: new Date(T0 + 2 * DAY) };
    expect(finerHeldFrom('1d', old, T0 + 2 * DAY - 1)).toBe(T0);
    expect(finerHeldFrom('1d', old, T0 + 2 * DAY)).toBe(T0 + DAY);
    expect(finerHeldFrom('1d', { time: new Date(T0) }, T0 + 900 * DAY)).toBe(T0);
  });

  it('spreads what only the bucket holds over the time before the held part', () => {
    expect(proratedShare(0, 12, 5, 24)).toBe(7 / 12);
    expect(proratedShare(0, 24, 5, 24)).toBe(19 / 24);
    expect(proratedShare(0, 12, 0, 3)).toBe(3 / 12);
    expect(proratedShare(0, 0, 5, 24)).toBe(0);
    expect(proratedShare(0, 12, 13, 24)).toBe(0);
  });
});

describe('windows across retention edges', () => {
  /** The day that starts at 00:00 in UTC-5: 05:00 UTC. */
  const LOCAL = T0 + 5 * HOUR;

  it('bills a UTC-5 day asked 7.5 days later (raw 1 d, hourly 7 d) its 24 core-hours, saying which hours are pro-rated', async () => {
    const retention = { rawMs: DAY, hourlyMs: 7 * DAY, dailyMs: 400 * DAY };
    const samples = readings('shop', T0 - DAY, T0 + 3 * DAY, 30_000, () => 1, retention);
    const now = T0 + 7 * DAY + 12 * HOUR;
    const answer = await chargeback(storeOf(samples, T0 + 3 * DAY, now), 'shop', LOCAL, LOCAL + DAY, now);
    expect(answer.items[0]?.cpuCoreHours).toBeCloseTo(24, 9);
    // 05:00-12:00 of the first UTC day: its hours are gone, the day bucket holds them.
    expect(answer.coverage).toEqual({
      windowMs: DAY,
      coveredMs: DAY,
      ratio: 1,
      memoryCoveredMs: DAY,
      memoryRatio: 1,
      proratedMs: 7 * HOUR,
    });
  });

  it('bills the UTC-5 day 90 days back with the default retention its 24 core-hours', async () => {
    const retention = { rawMs: 7 * DAY, hourlyMs: 90 * DAY, dailyMs: 400 * DAY };
    const samples = readings('shop', T0 - DAY, T0 + 3 * DAY, 5 * MINUTE, () => 1, retention);
    const now = T0 + 90 * DAY + 15 * HOUR;
    const answer = await chargeback(storeOf(samples, T0 + 3 * DAY, now), 'shop', LOCAL, LOCAL + DAY, now);
    expect(answer.items[0]?.cpuCoreHours).toBeCloseTo(24, 9);
    expect(answer.coverage.proratedMs).toBe(10 * HOUR);
  });

  it('answers exactly, with nothing pro-rated, a day whose hours are all still kept', async () => {
    const retention = { rawMs: DAY, hourlyMs: 7 * DAY, dailyMs: 400 * DAY };
    // A different rate every hour: pro-rating would not give the truth.
    const cores = (t: number) => 0.5 + (Math.floor(t / HOUR) % 5) * 0.75;
    const samples = readings('shop', T0 - DAY, T0 + 3 * DAY, 90_000, cores, retention, 1200);
    const now = T0 + 7 * DAY + 12 * HOUR;
    const store = storeOf(samples, T0 + 3 * DAY, now);
    const from = LOCAL + DAY;
    const answer = await chargeback(store, 'shop', from, from + DAY, now);
    expectTruth(answer, truth(samples, from, from + DAY));
    expect(answer.coverage.proratedMs).toBe(0);
    // The same day's first UTC hours are gone: exact from 12:00 on, the rest from the day bucket.
    const early = await chargeback(store, 'shop', LOCAL, LOCAL + DAY, now);
    expectTruth(
      await chargeback(store, 'shop', T0 + 12 * HOUR, LOCAL + DAY, now),
      truth(samples, T0 + 12 * HOUR, LOCAL + DAY),
    );
    const before =
      (early.items[0]?.cpuCoreHours ?? NaN) - truth(samples, T0 + 12 * HOUR, LOCAL + DAY).coreHours;
    // What the day holds before 12:00 beyond the kept hours, pro-rated: 7 of its 12 hours.
    expect(before).toBeCloseTo((truth(samples, T0, T0 + 12 * HOUR).coreHours * 7) / 12, 9);
  });
});

/** Whether `t` cuts a bucket of `resolution` (is not on its boundary). */
const cuts = (t: number, resolution: Resolution) => t % RESOLUTION_MS[resolution] !== 0;

/**
 * Whether every level a window's edges are answered from still holds the whole of the buckets
 * the edges cut, by the retention alone (not by how the reader works): then the answer is exact.
 */
function heldAtEdges(edges: number[], retention: Retention, now: number): boolean {
  return edges.every(
    (t) =>
      (!cuts(t, '1d') || bucketStart(t, '1d') + HOUR + keepMs('1h', retention) > now) &&
      (!cuts(t, '1h') || bucketStart(t, '1h') + 5 * MINUTE + keepMs('5m', retention) > now) &&
      (!cuts(t, '5m') || bucketStart(t, '5m') >= now - keepMs('raw', retention)),
  );
}

describe('windows across retention edges, for any retention, clock and edges', () => {
  const DATA_END = T0 + 4 * DAY;
  const scenario = fc
    .record({
      rawMinutes: fc.integer({ min: 10, max: 3 * 24 * 60 }),
      hourlyExtraMinutes: fc.integer({ min: 0, max: 4 * 24 * 60 }),
      nowAfter: fc.integer({ min: 0, max: 8 * DAY }),
      a: fc.integer({ min: T0 + HOUR, max: DATA_END - HOUR }),
      length: fc.integer({ min: 1, max: 3 * DAY }),
      split: fc.double({ min: 0, max: 1, noNaN: true }),
      everyMs: fc.integer({ min: 4 * MINUTE, max: 47 * MINUTE }),
      rates: fc.array(fc.double({ min: 0, max: 4, noNaN: true }), { minLength: 7, maxLength: 7 }),
      constant: fc.double({ min: 0.01, max: 4, noNaN: true }),
      request: fc.option(fc.constantFrom(100, 1000, 2500), { nil: undefined }),
      lagSeed: fc.integer({ min: 0, max: 1000 }),
    })
    .map((s) => {
      const retention = {
        rawMs: s.rawMinutes * MINUTE,
        hourlyMs: (s.rawMinutes + s.hourlyExtraMinutes) * MINUTE,
        dailyMs: 400 * DAY,
      };
      const b = Math.min(DATA_END, s.a + s.length);
      return { ...s, retention, b, now: DATA_END + s.nowAfter, m: Math.round(s.a + (b - s.a) * s.split) };
    });

  it('bills a container at a constant rate exactly, whatever has expired (never silently short)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const samples = readings(
          'steady',
          T0 - DAY,
          DATA_END,
          s.everyMs,
          () => s.constant,
          s.retention,
          s.request,
        );
        const store = storeOf(samples, DATA_END, s.now);
        expectTruth(await chargeback(store, 'steady', s.a, s.b, s.now), truth(samples, s.a, s.b));
      }),
      { numRuns: 40 },
    );
  });

  it('is exact where the levels hold the edges, says so only then, adds up across a split, and does not depend on when retention ran', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        // A rate that changes every reading; the container starts on the second day, mid-hour.
        const start = T0 + DAY + 17 * MINUTE + 3_001;
        const cores = (t: number) => s.rates[Math.floor(t / s.everyMs) % s.rates.length] as number;
        const samples = readings('varied', start, DATA_END, s.everyMs, cores, s.retention, s.request);
        const store = storeOf(samples, DATA_END, s.now);
        const answer = await chargeback(store, 'varied', s.a, s.b, s.now);
        const expected = truth(samples, s.a, s.b);
        if (heldAtEdges([s.a, s.b], s.retention, s.now)) expect(answer.coverage.proratedMs).toBe(0);
        if (answer.coverage.proratedMs === 0 && answer.items.length > 0) expectTruth(answer, expected);
        if (answer.items.length === 0) expect(expected.coreHours).toBe(0);
        expect(answer.coverage.proratedMs).toBeLessThanOrEqual(answer.coverage.windowMs);
        // Adjacent windows add up to the whole (each piece of time answered once).
        const first = await chargeback(store, 'varied', s.a, s.m, s.now);
        const second = await chargeback(store, 'varied', s.m, s.b, s.now);
        const sum = (first.items[0]?.cpuCoreHours ?? 0) + (second.items[0]?.cpuCoreHours ?? 0);
        expect(close(sum, answer.items[0]?.cpuCoreHours ?? 0)).toBe(true);
        // Expired documents the retention loop has not removed yet change nothing.
        const lagging = storeOf(samples, DATA_END, s.now, (id) => (id.length + s.lagSeed) % 3 === 0);
        expect(await chargeback(lagging, 'varied', s.a, s.b, s.now)).toEqual(answer);
      }),
      { numRuns: 40 },
    );
  });
});
