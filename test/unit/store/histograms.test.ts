import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  bucketEndOf,
  bucketIndexOf,
  CPU_SCALE,
  MEMORY_SCALE,
  percentile,
  type Histogram,
  type HistogramScale,
  type StoredHistograms,
} from '../../../operator/store/histograms.js';
import { bucketStart, RESOLUTION_MS, ROLLUP_RESOLUTIONS } from '../../../operator/store/resolutions.js';
import {
  mergeUpdate,
  rollupId,
  rollupsOfRollups,
  rollupsOfSamples,
  type RollupDoc,
} from '../../../operator/store/rollups.js';
import { spanOf } from '../../../operator/store/spans.js';
import { labelSetId } from '../../../operator/store/label-sets.js';
import { RollupTracker } from '../../../operator/store/tracker.js';
import { arbitrarySamples, distinctSamples, sample, T0 } from './fixtures.js';

/** Bucket edges built the plain way: bucket 0 is `first` wide, each next one 5% wider. */
function edges(scale: HistogramScale): number[] {
  const result = [0];
  let width = scale.first;
  for (let i = 0; i < scale.buckets; i++) {
    result.push((result[i] as number) + width);
    width *= 1.05;
  }
  return result;
}
const CPU_EDGES = edges(CPU_SCALE);
const MEMORY_EDGES = edges(MEMORY_SCALE);

/** The bucket of a value by a linear scan of the edges (clamped to the last bucket). */
function scanIndex(edgeList: number[], value: number): number {
  for (let i = 0; i < edgeList.length - 1; i++) if (value < (edgeList[i + 1] as number)) return i;
  return edgeList.length - 2;
}

describe('the exponential scale', () => {
  it('spans VPA ranges: CPU 10m..1000 cores, memory 10 MB..1 TB, buckets 5% wider each', () => {
    expect(CPU_EDGES[1]).toBe(10);
    expect(CPU_EDGES.at(-1)).toBeGreaterThanOrEqual(1_000_000);
    expect(CPU_EDGES.at(-2)).toBeLessThan(1_000_000);
    expect(MEMORY_EDGES[1]).toBe(1e7);
    expect(MEMORY_EDGES.at(-1)).toBeGreaterThanOrEqual(1e12);
    expect(MEMORY_EDGES.at(-2)).toBeLessThan(1e12);
  });

  it('puts every value in the bucket a scan of the edges finds, also right at the edges', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 2e6, noNaN: true }), (value) => {
        expect(bucketIndexOf(CPU_SCALE, value)).toBe(scanIndex(CPU_EDGES, value));
      }),
      { numRuns: 2000 },
    );
    for (let i = 0; i < 40; i++) {
      const edge = CPU_EDGES[i] as number;
      // The closed-form edge equals the scanned one to rounding; values just inside each side.
      expect(bucketEndOf(CPU_SCALE, i - 1 < 0 ? 0 : i - 1)).toBeCloseTo(i === 0 ? 10 : edge, 9);
      expect(bucketIndexOf(CPU_SCALE, edge * (1 + 1e-9) + 1e-9)).toBe(i);
      if (i > 0) expect(bucketIndexOf(CPU_SCALE, edge * (1 - 1e-9))).toBe(i - 1);
    }
    expect(bucketIndexOf(MEMORY_SCALE, 5e12)).toBe(MEMORY_SCALE.buckets - 1);
    expect(bucketIndexOf(MEMORY_SCALE, 256 * 2 ** 20)).toBe(scanIndex(MEMORY_EDGES, 256 * 2 ** 20));
  });
});

describe('percentile', () => {
  it('is the end of the bucket where the cumulative weight first reaches p of the total', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.double({ min: 0, max: 50_000, noNaN: true }), fc.integer({ min: 1, max: 100 })),
          {
            minLength: 1,
            maxLength: 60,
          },
        ),
        fc.constantFrom(0.5, 0.9, 0.95, 0.99, 1),
        (weighted, p) => {
          const histogram: Histogram = new Map();
          for (const [value, weight] of weighted) {
            const i = bucketIndexOf(CPU_SCALE, value);
            histogram.set(i, (histogram.get(i) ?? 0) + weight);
          }
          // Truth: sort the values, find the smallest with p of the weight at or below it, and
          // answer the end of its bucket (from the scanned edges).
          const sorted = [...weighted].sort((a, b) => a[0] - b[0]);
          const total = sorted.reduce((n, [, w]) => n + w, 0);
          let cumulative = 0;
          let found = sorted[sorted.length - 1]![0];
          // Weights of a bucket count together: the answer is the bucket of the value where the
          // running sum of whole buckets reaches p x total.
          const byBucket = new Map<number, number>();
          for (const [value, weight] of sorted) {
            const i = scanIndex(CPU_EDGES, value);
            byBucket.set(i, (byBucket.get(i) ?? 0) + weight);
          }
          for (const [i, weight] of [...byBucket].sort((a, b) => a[0] - b[0])) {
            cumulative += weight;
            if (cumulative >= p * total) {
              found = CPU_EDGES[i + 1] as number;
              break;
            }
          }
          expect(percentile(histogram, CPU_SCALE, p)).toBeCloseTo(found, 6);
        },
      ),
    );
  });

  it('of one value is the end of its bucket, never below the value, within 5% above', () => {
    const p90 = percentile(new Map([[bucketIndexOf(CPU_SCALE, 250), 1000]]), CPU_SCALE, 0.9) as number;
    expect(p90).toBeCloseTo(CPU_EDGES[17] as number, 9);
    expect(p90).toBeGreaterThan(250);
    expect(p90).toBeLessThan(250 * 1.05 + 10);
    expect(percentile(new Map(), CPU_SCALE, 0.9)).toBeUndefined();
  });
});

/** Milliseconds at each average-rate bucket, computed directly from the samples' spans. */
function truthOf(
  samples: readonly ReturnType<typeof sample>[],
  series: string,
  from: number,
  to: number,
): { cpu: Map<number, number>; memory: Map<number, number> } {
  const cpu = new Map<number, number>();
  const memory = new Map<number, number>();
  for (const s of samples) {
    if (`${s.namespace}|${s.pod}|${s.container}` !== series) continue;
    const span = spanOf(s);
    const ms = Math.max(0, Math.min(span.to, to) - Math.max(span.from, from));
    const seconds = (span.to - span.from) / 1000;
    if (ms === 0 || seconds === 0) continue;
    if (span.cpu !== null) {
      const i = scanIndex(CPU_EDGES, span.cpu / seconds);
      cpu.set(i, (cpu.get(i) ?? 0) + ms);
    }
    if (span.memory !== null) {
      const i = scanIndex(MEMORY_EDGES, span.memory / seconds);
      memory.set(i, (memory.get(i) ?? 0) + ms);
    }
  }
  return { cpu, memory };
}

function asMaps(hist: StoredHistograms | undefined): {
  cpu: Map<number, number>;
  memory: Map<number, number>;
} {
  const map = (record: Record<string, number> | undefined) =>
    new Map(Object.entries(record ?? {}).map(([k, v]) => [Number(k), v]));
  return { cpu: map(hist?.cpu), memory: map(hist?.memory) };
}

const sorted = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]);

describe('histograms in the rollups', () => {
  it('hold, per bucket, the milliseconds of each span at its average rate, exactly', () => {
    fc.assert(
      fc.property(arbitrarySamples(40), (generated) => {
        const samples = distinctSamples(generated);
        for (const resolution of ROLLUP_RESOLUTIONS) {
          for (const doc of rollupsOfSamples(samples, resolution, []).values()) {
            const start = doc.time.getTime();
            const truth = truthOf(samples, doc.series!, start, start + RESOLUTION_MS[resolution]);
            const got = asMaps(doc.hist);
            expect(sorted(got.cpu)).toEqual(sorted(truth.cpu));
            expect(sorted(got.memory)).toEqual(sorted(truth.memory));
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('merge exactly: coarse from finer rollups, and from the tracker closed parts, equal coarse from samples', () => {
    fc.assert(
      fc.property(arbitrarySamples(40), (generated) => {
        const samples = distinctSamples(generated);
        const finest = [...rollupsOfSamples(samples, '5m', []).values()];
        const tracker = new RollupTracker(120_000);
        const parts = [...tracker.add(samples), ...tracker.closeAll()].map((b) => b.toDoc([]));
        for (const resolution of ['1h', '1d'] as const) {
          const direct = rollupsOfSamples(samples, resolution, []);
          const merged = rollupsOfRollups(finest, resolution, []);
          expect([...merged.keys()].sort()).toEqual([...direct.keys()].sort());
          for (const [id, doc] of direct) {
            expect(sorted(asMaps(merged.get(id)?.hist).cpu)).toEqual(sorted(asMaps(doc.hist).cpu));
            expect(sorted(asMaps(merged.get(id)?.hist).memory)).toEqual(sorted(asMaps(doc.hist).memory));
            // The tracker's parts of this bucket, added as the database's $inc would.
            const fromParts = rollupsOfRollups(
              parts.filter((p) => p._id === id),
              resolution,
              [],
            ).get(id);
            expect(sorted(asMaps(fromParts?.hist).cpu)).toEqual(sorted(asMaps(doc.hist).cpu));
            expect(sorted(asMaps(fromParts?.hist).memory)).toEqual(sorted(asMaps(doc.hist).memory));
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('weigh as much as the measured time of the bucket', () => {
    const docs = rollupsOfSamples(
      [
        sample({
          time: T0 + 450_000,
          from: T0 + 50_000,
          cpuCoreSeconds: 80,
          memoryByteSeconds: 400 * 2 ** 30,
        }),
        sample({ time: T0 + 500_000, from: T0 + 450_000, cpuMillicores: null, memoryBytes: null }),
      ],
      '5m',
      [],
    );
    for (const doc of docs.values()) {
      const total = (record: Record<string, number> | undefined) =>
        Object.values(record ?? {}).reduce((a, b) => a + b, 0);
      expect(total(doc.hist?.cpu)).toBe(doc.cpu.ms);
      expect(total(doc.hist?.memory)).toBe(doc.memory.ms);
    }
    const first = docs.get(
      rollupId('5m', bucketStart(T0, '5m'), 'shop|web-1|app', labelSetId(sample().labels)),
    ) as RollupDoc;
    // 80 core-s over 400 s is 200m: bucket [200 (1.05^14 - 1), 200 (1.05^15 - 1)) = [195.9, 215.7).
    expect(first.hist).toEqual({
      cpu: { '14': 250_000 },
      memory: { [scanIndex(MEMORY_EDGES, 2 ** 30)]: 250_000 },
    });
  });

  it('are added by $inc on hist.<metric>.<index> under the part and term guards', () => {
    const part = [
      ...rollupsOfSamples([sample({ time: T0 + 30_000, cpuMillicores: 250, memoryBytes: null })], '1h', [
        'p:1',
      ]).values(),
    ][0] as RollupDoc;
    const { filter, update } = mergeUpdate(part, 3);
    expect(filter).toMatchObject({ _id: part._id, parts: { $ne: 'p:1' }, term: { $not: { $gt: 3 } } });
    expect((update.$inc as Record<string, { valueOf(): number }>)['hist.cpu.16']?.valueOf()).toBe(30_000);
    expect(Object.keys(update.$inc as object).filter((k) => k.startsWith('hist.'))).toEqual(['hist.cpu.16']);
  });
});
