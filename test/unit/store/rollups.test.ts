import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Double } from 'mongodb';
import type { ContainerSample } from '../../../operator/model.js';
import { bucketStart, ROLLUP_RESOLUTIONS } from '../../../operator/store/resolutions.js';
import { labelSetId } from '../../../operator/store/label-sets.js';
import {
  mergeUpdate,
  rollupId,
  rollupsOfRollups,
  rollupsOfSamples,
  type RollupDoc,
} from '../../../operator/store/rollups.js';
import { arbitrarySamples, distinctSamples, expectBucket, sample, T0 } from './fixtures.js';

describe('rollupsOfSamples', () => {
  it('sums, counts, extremes, and usage integrated over the spans the readings cover', () => {
    const docs = rollupsOfSamples(
      [
        sample({
          time: T0 + 5_000,
          from: T0,
          cpuMillicores: 50,
          cpuRequestMillicores: 100,
          memoryBytes: 300,
          memoryLimitBytes: 1000,
        }),
        // Counter increments given: they count, whatever the rate reported.
        sample({
          time: T0 + 35_000,
          from: T0 + 5_000,
          cpuMillicores: 250,
          cpuCoreSeconds: 7.5,
          cpuRequestMillicores: 100,
          memoryBytes: 100,
          memoryByteSeconds: 3000,
        }),
        // Uptime-only: billed by its request over its span, no usage, no measured time.
        sample({
          time: T0 + 50_000,
          from: T0 + 35_000,
          cpuMillicores: null,
          memoryBytes: null,
          cpuRequestMillicores: 200,
        }),
      ],
      '5m',
      ['p1'],
    );
    expect([...docs.values()]).toEqual([
      {
        _id: rollupId('5m', T0, 'shop|web-1|app', labelSetId(sample().labels)),
        series: 'shop|web-1|app',
        time: new Date(T0),
        policy: 'shop/web',
        namespace: 'shop',
        pod: 'web-1',
        container: 'app',
        labels: [{ k: 'app.kubernetes.io/name', v: 'web' }],
        count: 3,
        cpu: {
          n: 2,
          sum: 300,
          min: 50,
          max: 250,
          integral: 50 * 5 + 7500,
          ms: 35_000,
          // max(100 x 5 s, 250) + max(100 x 30 s, 7500) + the request alone for the uptime-only span
          billedIntegral: 500 + 7500 + 200 * 15,
        },
        memory: {
          n: 2,
          sum: 400,
          min: 100,
          max: 300,
          integral: 300 * 5 + 3000,
          ms: 35_000,
          billedIntegral: 300 * 5 + 3000,
        },
        // Milliseconds at each average rate: CPU bucket i is [200 (1.05^i - 1), 200 (1.05^(i+1) - 1))
        // millicores, so 50m is in bucket 4 ([43.1, 55.3)) and 250m in 16 ([236.6, 258.4)); memory
        // bucket 0 is [0, 10 MB).
        hist: { cpu: { '4': 5000, '16': 30_000 }, memory: { '0': 35_000 } },
        parts: ['p1'],
      },
    ]);
  });

  it('keeps a bucket per label set, each with the spans read under it, adding up to the series', () => {
    const labelled = (team: string) => [{ k: 'team', v: team }];
    // 2 cores; relabelled from a to b at noon: the reading at noon closes the last span under a.
    const noon = T0 + 12 * 3_600_000;
    const readings = [0, 6, 12, 18, 24].map((h) => T0 + h * 3_600_000);
    const samples = readings.slice(1).map((time, i) =>
      sample({
        time,
        from: readings[i] as number,
        cpuCoreSeconds: 2 * ((time - (readings[i] as number)) / 1000),
        labels: labelled(time <= noon ? 'a' : 'b'),
      }),
    );
    const docs = [...rollupsOfSamples(samples, '1d', []).values()].filter((d) => d.time.getTime() === T0);
    const coreHours = (team: string) =>
      (docs.find((d) => d.labels[0]?.v === team)?.cpu.integral ?? NaN) / 3_600_000;
    expect(docs).toHaveLength(2);
    expect(coreHours('a')).toBeCloseTo(24, 9);
    expect(coreHours('b')).toBeCloseTo(24, 9);
    expect(new Set(docs.map((d) => d._id)).size).toBe(2);
    // The hour buckets of each set, merged, give the day's bucket of that set.
    const day = rollupsOfRollups([...rollupsOfSamples(samples, '1h', []).values()], '1d', []);
    for (const doc of docs) expect(day.get(doc._id)?.cpu.integral).toBeCloseTo(doc.cpu.integral, 6);
  });

  it('equals count/sum/min/max of the samples of each bucket', () => {
    fc.assert(
      fc.property(arbitrarySamples(), (generated) => {
        const samples = distinctSamples(generated);
        for (const resolution of ROLLUP_RESOLUTIONS) {
          const docs = rollupsOfSamples(samples, resolution, []);
          const groups = new Map<string, ContainerSample[]>();
          for (const s of samples) {
            const id = rollupId(
              resolution,
              bucketStart(s.time, resolution),
              `${s.namespace}|${s.pod}|${s.container}`,
              labelSetId(s.labels),
            );
            groups.set(id, [...(groups.get(id) ?? []), s]);
          }
          // Buckets with readings, and those only the spans of readings reach into.
          for (const id of groups.keys()) expect(docs.has(id)).toBe(true);
          for (const [id, doc] of docs) expectBucket(doc, groups.get(id) ?? []);
        }
      }),
    );
  });
});

describe('rollupsOfRollups', () => {
  it('gives the same coarse buckets from finer buckets as from the samples', () => {
    fc.assert(
      fc.property(arbitrarySamples(), (generated) => {
        const samples = distinctSamples(generated);
        const finest = [...rollupsOfSamples(samples, '5m', []).values()];
        for (const resolution of ['1h', '1d'] as const) {
          const direct = rollupsOfSamples(samples, resolution, ['x']);
          const merged = rollupsOfRollups(finest, resolution, ['x']);
          expect([...merged.keys()].sort()).toEqual([...direct.keys()].sort());
          for (const [id, doc] of direct) {
            const other = merged.get(id) as RollupDoc;
            expect(other.count).toBe(doc.count);
            for (const metric of ['cpu', 'memory'] as const) {
              const { sum, integral, billedIntegral, ...exact } = other[metric];
              const { sum: s, integral: i, billedIntegral: b, ...directExact } = doc[metric];
              expect(exact).toEqual(directExact);
              expect(sum).toBeCloseTo(s, 4);
              expect(integral).toBeCloseTo(i, 2);
              expect(billedIntegral).toBeCloseTo(b, 2);
            }
          }
        }
      }),
    );
  });
});

describe('mergeUpdate', () => {
  it('increments counts and sums, keeps extremes, and is guarded by the part id', () => {
    const part = [
      ...rollupsOfSamples([sample({ time: T0 + 30_000, cpuMillicores: 70, memoryBytes: null })], '5m', [
        'run1:7',
      ]).values(),
    ][0] as RollupDoc;
    // The filter names the bucket's shard key (docs/storage.md), so an upsert goes to its one shard.
    const shardKey = { namespace: part.namespace, series: part.series, time: part.time };
    expect(mergeUpdate(part).filter).toEqual({ ...shardKey, _id: part._id, parts: { $ne: 'run1:7' } });
    const { filter, update } = mergeUpdate(part, 4);
    // A writer of term 4 changes no document a later term wrote.
    expect(filter).toEqual({
      ...shardKey,
      _id: part._id,
      parts: { $ne: 'run1:7' },
      term: { $not: { $gt: 4 } },
    });
    expect(update.$set).toEqual({ labels: part.labels, term: 4 });
    const inc = update.$inc as Record<string, number | Double>;
    expect(Object.fromEntries(Object.entries(inc).map(([k, v]) => [k, v.valueOf()]))).toEqual({
      count: 1,
      'cpu.n': 1,
      'cpu.sum': 70,
      'cpu.integral': 2100,
      'cpu.billedIntegral': 2100,
      'cpu.ms': 30_000,
      'memory.n': 0,
      'memory.sum': 0,
      'memory.integral': 0,
      'memory.billedIntegral': 0,
      'memory.ms': 0,
      // 70m is in CPU bucket 6: [200 (1.05^6 - 1), 200 (1.05^7 - 1)) = [68.0, 81.4).
      'hist.cpu.6': 30_000,
    });
    expect(inc['hist.cpu.6']).toBeInstanceOf(Double);
    // Sums are sent as doubles, so adding to a stored 32-bit integer cannot overflow on the server.
    for (const field of ['cpu.sum', 'memory.integral', 'memory.billedIntegral']) {
      expect(inc[field]).toBeInstanceOf(Double);
    }
    expect(update.$min).toEqual({ 'cpu.min': 70 });
    expect(update.$max).toEqual({ 'cpu.max': 70 });
    expect(update.$push).toEqual({ parts: 'run1:7' });
  });
});
