import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ROLLUP_RESOLUTIONS } from '../../../operator/store/resolutions.js';
import { rollupsOfSamples, type BucketAccumulator, type RollupDoc } from '../../../operator/store/rollups.js';
import { RollupTracker } from '../../../operator/store/tracker.js';
import { arbitrarySamples, distinctSamples, expectBucket, sample, T0 } from './fixtures.js';

/** Closed parts by bucket id: the database merges them into one document. */
function partsById(parts: readonly BucketAccumulator[]): Map<string, RollupDoc[]> {
  const byId = new Map<string, RollupDoc[]>();
  for (const part of parts) {
    const doc = part.toDoc([]);
    byId.set(doc._id, [...(byId.get(doc._id) ?? []), doc]);
  }
  return byId;
}

describe('RollupTracker', () => {
  it('splits a span that straddles boundaries by time, at every level, and bills max(request, usage) per piece', () => {
    const tracker = new RollupTracker(120_000);
    // 90 s at 2 cores from 59:30 to 01:00:: 30 s in the hour before, 60 s in the next.
    const start = T0 + 3_600_000 - 30_000;
    const closed = tracker.add([
      sample({
        time: start + 90_000,
        from: start,
        cpuCoreSeconds: 180,
        cpuMillicores: 2000,
        cpuRequestMillicores: 3000,
      }),
    ]);
    closed.push(...tracker.closeAll());
    const of = (resolution: string, at: number) =>
      closed.find((b) => b.resolution === resolution && b.start === at);
    for (const [resolution, width] of [
      ['5m', 300_000],
      ['1h', 3_600_000],
    ] as const) {
      const before = of(resolution, T0 + 3_600_000 - width)!;
      const after = of(resolution, T0 + 3_600_000)!;
      expect([before.cpu.integral, before.cpu.ms, before.count]).toEqual([60_000, 30_000, 0]);
      expect([after.cpu.integral, after.cpu.ms, after.count]).toEqual([120_000, 60_000, 1]);
      // Billed by the request (3 cores) on each piece, above the usage.
      expect([before.cpu.billedIntegral, after.cpu.billedIntegral]).toEqual([90_000, 180_000]);
    }
    expect(of('1d', T0)!.cpu.integral).toBe(180_000);
  });

  it('hands out every sample exactly once per resolution, whatever the order and batching', () => {
    fc.assert(
      fc.property(arbitrarySamples(), fc.integer({ min: 1, max: 10 }), (generated, batchSize) => {
        const samples = distinctSamples(generated);
        const tracker = new RollupTracker(120_000);
        const closed: BucketAccumulator[] = [];
        for (let i = 0; i < samples.length; i += batchSize)
          closed.push(...tracker.add(samples.slice(i, i + batchSize)));
        closed.push(...tracker.closeAll());
        expect(tracker.trackedSeries).toBe(0);
        const parts = partsById(closed);
        for (const resolution of ROLLUP_RESOLUTIONS) {
          for (const [id, expected] of rollupsOfSamples(samples, resolution, [])) {
            const docs = parts.get(id) ?? [];
            expect(docs.reduce((n, d) => n + d.count, 0)).toBe(expected.count);
            expect(Math.min(...docs.map((d) => d.cpu.min ?? Infinity))).toBe(expected.cpu.min ?? Infinity);
            expect(Math.max(...docs.map((d) => d.memory.max ?? -Infinity))).toBe(
              expected.memory.max ?? -Infinity,
            );
            expect(docs.reduce((n, d) => n + d.cpu.sum, 0)).toBeCloseTo(expected.cpu.sum, 6);
          }
        }
      }),
    );
  });

  it('closes a bucket when the container moves on to the next one', () => {
    const tracker = new RollupTracker(120_000);
    const first = [
      sample({ time: T0 + 100_000, from: T0 }),
      sample({ time: T0 + 240_000, from: T0 + 100_000 }),
    ];
    expect(tracker.add(first)).toEqual([]);
    // The third reading's span [240 s, 330 s] is split: 60 s go to the first five minutes before they close.
    const closed = tracker.add([sample({ time: T0 + 330_000, from: T0 + 240_000, cpuMillicores: 600 })]);
    expect(closed.map((b) => [b.resolution, b.start, b.count])).toEqual([['5m', T0, 2]]);
    expectBucket(closed[0]!.toDoc([]), first);
    expect(closed[0]!.cpu.integral).toBe(100 * 240 + 600 * 60);
    expect(closed[0]!.cpu.ms).toBe(300_000);
  });

  it('puts a late sample into a part of its own, closed at once', () => {
    const tracker = new RollupTracker(120_000);
    tracker.add([sample({ time: T0 + 310_000, from: T0 + 305_000 })]);
    const closed = tracker.add([sample({ time: T0 + 10_000, from: T0, cpuMillicores: 7 })]);
    expect(closed.map((b) => [b.resolution, b.start, b.count, b.cpu.max, b.cpu.integral])).toEqual([
      ['5m', T0, 1, 7, 70],
    ]);
  });

  it('closes the buckets of a container that went away once the grace period has passed', () => {
    const tracker = new RollupTracker(120_000);
    tracker.add([sample({ time: T0 + 10_000, from: T0 })]);
    expect(tracker.closeExpired(T0 + 300_000 + 119_999)).toEqual([]);
    expect(tracker.closeExpired(T0 + 300_000 + 120_000).map((b) => b.resolution)).toEqual(['5m']);
    expect(tracker.trackedSeries).toBe(1);
    expect(tracker.closeExpired(T0 + 86_400_000 + 120_000).map((b) => b.resolution)).toEqual(['1h', '1d']);
    expect(tracker.trackedSeries).toBe(0);
  });
});
