/**
 * Coverage of memory beside CPU: a reading after the node could not be read bills the CPU counter
 * difference over the whole gap but leaves the gap's memory unmeasured (null); the answer's memory
 * coverage is short by that gap while the CPU coverage is whole, whether the window is answered
 * from raw readings, whole rollups or a bucket pro-rated at a retention edge. The read side
 * (queries.ts) against documents in memory built by the write side's pure functions.
 */
import { describe, expect, it } from '@jest/globals';
import type { ContainerSample, Retention } from '../../../operator/model.js';
import { summary, top } from '../../../operator/store/queries.js';
import { bucketStart, ROLLUP_RESOLUTIONS, type Resolution } from '../../../operator/store/resolutions.js';
import { rollupsOfSamples } from '../../../operator/store/rollups.js';
import { toSnapshotDoc } from '../../../operator/store/snapshots.js';
import { sample, T0 } from './fixtures.js';
import { memoryStore, type MemoryStore } from './memory-collections.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const GIB = 2 ** 30;

/**
 * 1 core and 1 GiB read every 30 s over [start, end), except that nothing could be read in
 * [gapFrom, gapTo): the reading at gapTo covers the gap with the counter difference and no memory.
 */
function readings(
  start: number,
  end: number,
  gapFrom: number,
  gapTo: number,
  retention?: Retention,
): ContainerSample[] {
  const samples: ContainerSample[] = [];
  for (let from = start; from < end;) {
    const time = from === gapFrom ? gapTo : from + 30 * SECOND;
    const seconds = (time - from) / SECOND;
    samples.push(
      sample({
        podUid: 'uid-web-1',
        time,
        from,
        cpuMillicores: 1000,
        cpuCoreSeconds: seconds,
        memoryBytes: GIB,
        memoryByteSeconds: from === gapFrom ? null : GIB * seconds,
        retention,
      }),
    );
    from = time;
  }
  return samples;
}

/** The store's documents for `samples`, every level written whole up to `until`, as of `now`. */
function storeOf(samples: ContainerSample[], until: number, now: number): MemoryStore {
  const store = memoryStore();
  const kept = (doc: { expireAt?: Date }) => doc.expireAt === undefined || doc.expireAt.getTime() > now;
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

async function coverage(store: MemoryStore, from: number, to: number, now: number) {
  const answer = await summary(
    store.collections,
    { from, to, groupBy: { kind: 'namespace' }, namespaces: ['shop'] },
    now,
  );
  return answer.coverage;
}

describe('memory coverage beside CPU coverage', () => {
  const gapFrom = T0 + 20 * MINUTE;
  const gapTo = gapFrom + 10 * MINUTE;
  const samples = readings(T0, T0 + 2 * HOUR, gapFrom, gapTo);

  it('is short by a gap without memory in raw readings, the CPU coverage whole', async () => {
    // Nothing rolled up yet: the hour is answered from the raw readings.
    const store = storeOf(samples, T0, T0 + 2 * HOUR);
    expect(await coverage(store, T0, T0 + HOUR, T0 + 2 * HOUR)).toEqual({
      windowMs: HOUR,
      coveredMs: HOUR,
      ratio: 1,
      memoryCoveredMs: 50 * MINUTE,
      memoryRatio: 5 / 6,
      proratedMs: 0,
    });
  });

  it('is short by the same gap in whole rollups and at a bucket cut by the window', async () => {
    const store = storeOf(samples, T0 + 2 * HOUR, T0 + 2 * HOUR);
    expect(await coverage(store, T0, T0 + HOUR, T0 + 2 * HOUR)).toMatchObject({
      coveredMs: HOUR,
      memoryCoveredMs: 50 * MINUTE,
    });
    // [00:25, 01:05): 5 minutes of the gap, the rest from the finer levels of the edge buckets.
    expect(await coverage(store, T0 + 25 * MINUTE, T0 + 65 * MINUTE, T0 + 2 * HOUR)).toMatchObject({
      windowMs: 40 * MINUTE,
      coveredMs: 40 * MINUTE,
      memoryCoveredMs: 35 * MINUTE,
      memoryRatio: 35 / 40,
    });
  });

  it('pro-rates the memory time of a bucket whose finer levels expired as it pro-rates the CPU time', async () => {
    // Asked 7.5 days later: the hours before 12:00 of the first day are gone, the day bucket
    // holds them; 05:00-12:00 is 7/12 of what the day holds beyond its kept hours.
    const retention = { rawMs: DAY, hourlyMs: 7 * DAY, dailyMs: 400 * DAY };
    const gap = T0 + 2 * HOUR;
    const days = readings(T0, T0 + 3 * DAY, gap, gap + 10 * MINUTE, retention);
    const now = T0 + 7 * DAY + 12 * HOUR;
    const store = storeOf(days, T0 + 3 * DAY, now);
    expect(await coverage(store, T0 + 5 * HOUR, T0 + 5 * HOUR + DAY, now)).toEqual({
      windowMs: DAY,
      coveredMs: DAY,
      ratio: 1,
      memoryCoveredMs: DAY - (10 * MINUTE * 7) / 12,
      memoryRatio: (DAY - (10 * MINUTE * 7) / 12) / DAY,
      proratedMs: 7 * HOUR,
    });
  });

  it('answers top with the same coverage', async () => {
    const store = storeOf(samples, T0, T0 + 2 * HOUR);
    const answer = await top(
      store.collections,
      { metric: 'memory', from: T0, to: T0 + HOUR, limit: 5 },
      T0 + 2 * HOUR,
    );
    expect(answer.coverage).toMatchObject({ coveredMs: HOUR, memoryCoveredMs: 50 * MINUTE });
    expect(answer.items[0]?.measuredMs).toBe(50 * MINUTE);
  });
});
