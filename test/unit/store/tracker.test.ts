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
    expect(tracker.add([sample({ time: T0 + 10_000 }), sample({ time: T0 + 40_000 })])).toEqual([]);
    const closed = tracker.add([sample({ time: T0 + 70_000 })]);
    expect(closed.map((b) => [b.resolution, b.start, b.count])).toEqual([['1m', T0, 2]]);
    expectBucket(closed[0]!.toDoc([]), [sample({ time: T0 + 10_000 }), sample({ time: T0 + 40_000 })]);
  });

  it('puts a late sample into a part of its own, closed at once', () => {
    const tracker = new RollupTracker(120_000);
    tracker.add([sample({ time: T0 + 130_000 })]);
    const closed = tracker.add([sample({ time: T0 + 10_000, cpuMillicores: 7 })]);
    expect(closed.map((b) => [b.resolution, b.start, b.count, b.cpu.max])).toEqual([['1m', T0, 1, 7]]);
    expect(tracker.openBuckets('1m', () => true).map((b) => b.start)).toEqual([T0 + 120_000]);
  });

  it('closes the buckets of a container that went away once the grace period has passed', () => {
    const tracker = new RollupTracker(120_000);
    tracker.add([sample({ time: T0 + 10_000 })]);
    expect(tracker.closeExpired(T0 + 60_000 + 119_999)).toEqual([]);
    expect(tracker.closeExpired(T0 + 60_000 + 120_000).map((b) => b.resolution)).toEqual(['1m']);
    expect(tracker.trackedSeries).toBe(1);
    expect(tracker.closeExpired(T0 + 86_400_000 + 120_000).map((b) => b.resolution)).toEqual([
      '5m',
      '1h',
      '1d',
    ]);
    expect(tracker.trackedSeries).toBe(0);
  });

  it('lists open buckets of the containers a query asks for', () => {
    const tracker = new RollupTracker(120_000);
    tracker.add([sample({ pod: 'web-1' }), sample({ pod: 'web-2' })]);
    expect(tracker.openBuckets('1h', (s) => s.pod === 'web-2').map((b) => b.identity.pod)).toEqual(['web-2']);
  });
});
