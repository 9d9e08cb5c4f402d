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

describe('RollupTracker with relabelled containers', () => {
  const team = (v: string) => [{ k: 'team', v }];
  /** Equal up to float rounding. */
  const expectExact = (actual: number | undefined, expected: number) =>
    expect(Math.abs((actual ?? NaN) - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));

  it('puts each piece of a span in the bucket of the labels it was read with, and the label sets add up to the series', () => {
    const reading = fc.record({
      gapSeconds: fc.integer({ min: 1, max: 1800 }),
      team: fc.constantFrom('a', 'b', 'c'),
      millicores: fc.integer({ min: 0, max: 4000 }),
    });
    fc.assert(
      fc.property(
        fc.array(reading, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 5 }),
        (rs, batches) => {
          let time = T0 + 17_000;
          const samples = rs.map((r) => {
            const from = time;
            time += r.gapSeconds * 1000;
            return sample({
              time,
              from,
              cpuMillicores: r.millicores,
              cpuCoreSeconds: (r.millicores / 1000) * r.gapSeconds,
              labels: team(r.team),
            });
          });
          const tracker = new RollupTracker(120_000);
          const closed: BucketAccumulator[] = [];
          const size = Math.ceil(samples.length / batches);
          for (let i = 0; i < samples.length; i += size)
            closed.push(...tracker.add(samples.slice(i, i + size)));
          closed.push(...tracker.closeAll());
          expect(tracker.trackedSeries).toBe(0);
          for (const resolution of ROLLUP_RESOLUTIONS) {
            const width = { '5m': 300_000, '1h': 3_600_000, '1d': 86_400_000 }[resolution];
            // The truth, the plain way: millicore-seconds of each (bucket, team), pro rata of each span.
            const truth = new Map<string, number>();
            for (const s of samples) {
              const from = s.from as number;
              for (let start = Math.floor(from / width) * width; start < s.time; start += width) {
                const ms = Math.min(s.time, start + width) - Math.max(from, start);
                const key = `${start}|${s.labels[0]?.v}`;
                truth.set(
                  key,
                  (truth.get(key) ?? 0) + (s.cpuCoreSeconds as number) * 1000 * (ms / (s.time - from)),
                );
              }
            }
            const stored = new Map<string, number>();
            for (const [, parts] of partsById(closed.filter((b) => b.resolution === resolution))) {
              const key = `${parts[0]!.time.getTime()}|${parts[0]!.labels[0]?.v}`;
              expect(stored.has(key)).toBe(false); // one document per bucket and label set
              stored.set(
                key,
                parts.reduce((sum, p) => sum + p.cpu.integral, 0),
              );
            }
            for (const [key, value] of truth) expectExact(stored.get(key), value);
            for (const [key, value] of stored) if (!truth.has(key)) expect(value).toBe(0);
            // Label sets add up to the series' total.
            const total = samples.reduce((sum, s) => sum + (s.cpuCoreSeconds as number) * 1000, 0);
            expectExact(
              [...stored.values()].reduce((a, b) => a + b, 0),
              total,
            );
          }
        },
      ),
    );
  });

  it('keeps the buckets of the labels a container had open until they close, and goes on with them when the labels come back', () => {
    const tracker = new RollupTracker(120_000);
    const closed = tracker.add([
      sample({ time: T0 + 60_000, from: T0, cpuMillicores: 1000, labels: team('a') }),
      sample({ time: T0 + 120_000, from: T0 + 60_000, cpuMillicores: 2000, labels: team('b') }),
      sample({ time: T0 + 180_000, from: T0 + 120_000, cpuMillicores: 3000, labels: team('a') }),
    ]);
    expect(closed).toEqual([]);
    expect(tracker.trackedSeries).toBe(2);
    const fiveMinutes = tracker
      .closeExpired(T0 + 300_000 + 120_000)
      .map((b) => [b.identity.labels[0]?.v, b.count, b.cpu.integral]);
    expect(fiveMinutes.sort()).toEqual([
      ['a', 2, 1000 * 60 + 3000 * 60],
      ['b', 1, 2000 * 60],
    ]);
  });
});
