/**
 * `top` ranks containers by their usage over the window, and gives beside it the average over the
 * window and over the time each was measured. The read side (queries.ts) against documents in
 * memory built by the write side's pure functions; the figures are computed here by hand.
 */
import { describe, expect, it } from '@jest/globals';
import type { ContainerSample } from '../../../operator/model.js';
import { top } from '../../../operator/store/queries.js';
import { bucketStart, ROLLUP_RESOLUTIONS } from '../../../operator/store/resolutions.js';
import { rollupsOfSamples } from '../../../operator/store/rollups.js';
import { toSnapshotDoc } from '../../../operator/store/snapshots.js';
import { compareTop } from '../../../operator/store/top-ranking.js';
import type { TopEntry } from '../../../operator/store/types.js';
import { sample, T0 } from './fixtures.js';
import { memoryStore } from './memory-collections.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const retention = { rawMs: 7 * DAY, hourlyMs: 90 * DAY, dailyMs: 400 * DAY };

/** A pod running `cores` from `start` to `end`, read every 30 s. */
function pod(name: string, start: number, end: number, cores: number, bytes: number): ContainerSample[] {
  const samples: ContainerSample[] = [];
  for (let from = start; from < end; from += 30_000) {
    const time = Math.min(end, from + 30_000);
    samples.push(
      sample({
        pod: name,
        podUid: `uid-${name}`,
        time,
        from,
        cpuMillicores: cores * 1000,
        cpuCoreSeconds: (cores * (time - from)) / 1000,
        memoryBytes: bytes,
        memoryByteSeconds: (bytes * (time - from)) / 1000,
        retention,
      }),
    );
  }
  return samples;
}

function storeOf(samples: ContainerSample[], until: number) {
  const store = memoryStore();
  store.snapshots.docs = samples.map((s) => toSnapshotDoc(s)) as typeof store.snapshots.docs;
  for (const r of ROLLUP_RESOLUTIONS)
    store.rollups[r].docs = [
      ...rollupsOfSamples(samples, r, []).values(),
    ] as (typeof store.rollups)[typeof r]['docs'];
  store.meta.docs = [
    { _id: 'watermarks', ...Object.fromEntries(ROLLUP_RESOLUTIONS.map((r) => [r, bucketStart(until, r)])) },
  ];
  return store;
}

describe('top', () => {
  // Over a day: a burst of 10 minutes at 8 cores (1.33 core-hours), and 24 hours at 2 cores (48).
  const burst = pod('burst', T0 + 7 * HOUR + 3 * MINUTE, T0 + 7 * HOUR + 13 * MINUTE, 8, 4 * 2 ** 30);
  const steady = pod('steady', T0, T0 + DAY, 2, 2 ** 30);
  const store = storeOf([...burst, ...steady], T0 + DAY + HOUR);

  it('ranks by usage over the window, with the average over the window and over the measured time', async () => {
    for (const [from, to] of [
      [T0, T0 + DAY],
      // Edges inside buckets (a UTC+05:30 day is partly outside the data).
      [T0 - 5.5 * HOUR, T0 + 18.5 * HOUR],
    ] as const) {
      const answer = await top(store.collections, { metric: 'cpu', from, to, limit: 10 }, T0 + DAY + HOUR);
      const window = (to - from) / 1000;
      const steadyHours = (Math.min(to, T0 + DAY) - Math.max(from, T0)) / HOUR;
      expect(answer.items.map((i) => i.pod)).toEqual(['steady', 'burst']);
      const [first, second] = answer.items as [TopEntry, TopEntry];
      expect(first.usage).toBeCloseTo(2 * steadyHours, 9);
      expect(first.avg).toBeCloseTo(2000, 9);
      expect(first.windowAvg).toBeCloseTo((2000 * steadyHours * 3600) / window, 9);
      expect(first.measuredMs).toBe(steadyHours * HOUR);
      expect(second.usage).toBeCloseTo((8 * 10) / 60, 9);
      expect(second.avg).toBeCloseTo(8000, 9);
      expect(second.windowAvg).toBeCloseTo((8000 * 600) / window, 9);
      expect(second.measuredMs).toBe(10 * MINUTE);
      expect(second.max).toBe(8000);
    }
  });

  it('ranks memory by GiB-hours over the window', async () => {
    const answer = await top(
      store.collections,
      { metric: 'memory', from: T0, to: T0 + DAY, limit: 10 },
      T0 + DAY + HOUR,
    );
    expect(answer.items.map((i) => [i.pod, i.usage, i.avg])).toEqual([
      ['steady', 24, 2 ** 30],
      ['burst', (4 * 10) / 60, 4 * 2 ** 30],
    ]);
  });

  it('breaks ties of usage by the average over the measured time, the peak, then the name', () => {
    const entry = (pod: string, usage: number, avg: number, max: number): TopEntry => ({
      namespace: 'shop',
      pod,
      container: 'app',
      usage,
      windowAvg: usage,
      avg,
      measuredMs: 1,
      max,
      samples: 1,
    });
    const entries = [
      entry('d', 1, 1, 1),
      entry('c', 1, 1, 1),
      entry('b', 1, 1, 2),
      entry('a', 1, 2, 1),
      entry('e', 2, 0, 0),
    ];
    expect(entries.sort(compareTop).map((e) => e.pod)).toEqual(['e', 'a', 'b', 'c', 'd']);
  });
});
