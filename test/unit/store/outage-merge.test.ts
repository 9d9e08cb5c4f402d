/**
 * A store outage longer than the outage buffer holds: consecutive samples of each series are
 * merged, and what the rollups bill (usage, billed by max(request, usage), measured time, I/O)
 * over the outage is what they bill without it, whatever its length.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { silentLogger } from '../../../operator/logging.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import type { ContainerSample } from '../../../operator/model.js';
import { OutageBuffer } from '../../../operator/store/outage-buffer.js';
import { rollupsOfSamples, type RollupDoc } from '../../../operator/store/rollups.js';
import { mergeSamples } from '../../../operator/store/sample-merge.js';
import type { SampleWriter, WriteOutcome } from '../../../operator/store/types.js';
import { sample, T0 } from './fixtures.js';

class FakeStore implements SampleWriter {
  up = true;
  /** Stores the first half of a write, then fails (a write that failed half-way). */
  halfway = false;
  readonly stored: ContainerSample[] = [];
  private readonly ids = new Set<string>();
  async write(samples: ContainerSample[]): Promise<WriteOutcome> {
    if (!this.up) throw new Error('connection refused');
    // A reading is stored once (its id: series and time), as the store does.
    const store = (list: ContainerSample[]) => {
      for (const s of list) {
        const id = `${s.podUid}|${s.time}`;
        if (this.ids.has(id)) continue;
        this.ids.add(id);
        this.stored.push(s);
      }
    };
    if (this.halfway) {
      store(samples.slice(0, samples.length >> 1));
      throw new Error('timeout');
    }
    store(samples);
    return { written: samples.length, buffered: 0, dropped: 0 };
  }
}

/** What a series does in one cycle. */
interface Step {
  kind: 'read' | 'restart' | 'unreadable';
  cores: number;
  bytes: number;
  cpuRequest: number | undefined;
  memoryRequest: number | undefined;
  rxBytes: number | undefined;
}

const step: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom<Step['kind']>(
    'read',
    'read',
    'read',
    'read',
    'read',
    'read',
    'restart',
    'unreadable',
  ),
  cores: fc.double({ min: 0, max: 4, noNaN: true }),
  bytes: fc.integer({ min: 0, max: 8 * 2 ** 30 }),
  cpuRequest: fc.option(fc.constantFrom(100, 500, 2000), { nil: undefined }),
  memoryRequest: fc.option(fc.constantFrom(2 ** 28, 2 ** 31), { nil: undefined }),
  rxBytes: fc.option(fc.integer({ min: 0, max: 10 ** 9 }), { nil: undefined }),
});

/**
 * The samples a collector makes of each series, cycle by cycle: contiguous spans with exact
 * increments, a restart starting a span after a gap, uptime-only samples while the node cannot be
 * read, the agent's I/O over its own contiguous spans.
 */
function cyclesOf(series: Step[][], intervalMs: number): ContainerSample[][] {
  const cycles: ContainerSample[][] = [];
  const last = series.map(() => T0);
  const lastIo = series.map(() => T0);
  const cycleCount = Math.max(...series.map((s) => s.length));
  for (let n = 0; n < cycleCount; n++) {
    const time = T0 + (n + 1) * intervalMs;
    const batch: ContainerSample[] = [];
    for (const [i, steps] of series.entries()) {
      const s = steps[n];
      if (s === undefined) continue;
      const ids = { pod: `pod-${i}`, podUid: `uid-${i}`, policy: i % 2 === 0 ? 'shop/a' : 'shop/b' };
      const requests = { cpuRequestMillicores: s.cpuRequest, memoryRequestBytes: s.memoryRequest };
      if (s.kind === 'unreadable') {
        batch.push(sample({ ...ids, ...requests, time, from: time, cpuMillicores: null, memoryBytes: null }));
        continue;
      }
      const from = s.kind === 'restart' ? last[i]! + intervalMs / 2 : last[i]!;
      const seconds = (time - from) / 1000;
      const reading = sample({
        ...ids,
        ...requests,
        time,
        from,
        cpuMillicores: s.cores * 1000,
        memoryBytes: s.bytes,
        cpuCoreSeconds: s.cores * seconds,
        memoryByteSeconds: s.bytes * seconds,
        intervalSeconds: intervalMs / 1000,
      });
      if (s.rxBytes !== undefined) {
        reading.io = {
          from: lastIo[i]!,
          to: time - 1000,
          inc: { networkRxBytes: s.rxBytes },
          totals: { networkRxBytes: s.rxBytes },
        };
        lastIo[i] = time - 1000;
      }
      batch.push(reading);
      last[i] = time;
    }
    cycles.push(batch);
  }
  return cycles;
}

/** Per series, what its 5-minute buckets hold in all: the rollups' sums, computed by the store's own split. */
function totalsOf(samples: readonly ContainerSample[]) {
  const totals = new Map<string, Record<string, number>>();
  for (const doc of rollupsOfSamples(samples, '5m', ['test']).values()) {
    const t = totals.get(doc.series as string) ?? {};
    const add = (field: string, value: number | undefined) => (t[field] = (t[field] ?? 0) + (value ?? 0));
    for (const name of ['cpu', 'memory'] as const) {
      const m: RollupDoc['cpu'] = doc[name];
      add(`${name}.integral`, m.integral);
      add(`${name}.billed`, m.billedIntegral);
      add(`${name}.ms`, m.ms);
    }
    add('io.rx', doc.io?.networkRxBytes);
    add('io.ms', doc.io?.ms);
    totals.set(doc.series as string, t);
  }
  return totals;
}

function expectSameTotals(
  actual: Map<string, Record<string, number>>,
  expected: Map<string, Record<string, number>>,
) {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [series, fields] of expected) {
    for (const [field, value] of Object.entries(fields)) {
      const got = actual.get(series)?.[field] ?? 0;
      expect({ series, field, diff: Math.abs(got - value) <= 1e-9 * Math.max(1, Math.abs(value)) }).toEqual({
        series,
        field,
        diff: true,
      });
    }
  }
}

describe('merging consecutive samples of a series', () => {
  it('bills the sum of what each part bills, above and below the request; a bucket edge inside gets its share by time', () => {
    const request = { cpuRequestMillicores: 1000, memoryRequestBytes: 2 ** 30 };
    // One minute at 2 cores, then one at 0.1, either side of the 00:05 boundary.
    const busy = sample({
      ...request,
      time: T0 + 300_000,
      from: T0 + 240_000,
      cpuCoreSeconds: 120,
      memoryByteSeconds: 0,
    });
    const idle = sample({
      ...request,
      time: T0 + 360_000,
      from: T0 + 300_000,
      cpuCoreSeconds: 6,
      memoryByteSeconds: 0,
    });
    const merged = mergeSamples(busy, idle);
    expect(merged).toMatchObject({
      from: T0 + 240_000,
      time: T0 + 360_000,
      cpuCoreSeconds: 126,
      // 120 used above the request, then the request's 60 core-seconds.
      cpuCoreSecondsBilled: 180,
      memoryByteSecondsBilled: 2 ** 30 * 120,
      cpuMillicores: idle.cpuMillicores,
    });
    // What resolution is lost: each 5-minute bucket gets half (the parts put 120 and 6 there);
    // the two add up to what the parts bill.
    const buckets = [...rollupsOfSamples([merged!], '5m', ['t']).values()];
    expect(buckets.map((b) => [b.cpu.integral, b.cpu.billedIntegral])).toEqual([
      [63_000, 90_000],
      [63_000, 90_000],
    ]);
  });

  it('does not merge spans that do not meet (a restart) or measure different metrics', () => {
    const a = sample({ time: T0 + 30_000, from: T0, cpuCoreSeconds: 1, memoryByteSeconds: 1 });
    expect(
      mergeSamples(
        a,
        sample({ time: T0 + 60_000, from: T0 + 40_000, cpuCoreSeconds: 1, memoryByteSeconds: 1 }),
      ),
    ).toBeUndefined();
    expect(
      mergeSamples(
        a,
        sample({ time: T0 + 60_000, from: T0 + 30_000, cpuCoreSeconds: 1, memoryByteSeconds: null }),
      ),
    ).toBeUndefined();
  });
});

describe('a store outage of any length', () => {
  it('loses no usage, billing or I/O: the totals equal those written without the outage, and the buffer stays within its capacity', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(step, { minLength: 1, maxLength: 150 }), { minLength: 1, maxLength: 5 }),
        fc.constantFrom(10_000, 30_000, 60_000),
        fc.integer({ min: 0, max: 40 }),
        fc.array(fc.constantFrom('up', 'down', 'down', 'down', 'halfway')),
        async (series, intervalMs, extra, states) => {
          const cycles = cyclesOf(series, intervalMs);
          const truth = totalsOf(cycles.flat());
          // Room for what cannot be merged: per series one sample per run of meeting spans and its
          // latest, and the samples of a write that failed half-way (one batch).
          const unmergeable = series.reduce(
            (n, s) => n + s.filter((x) => x.kind === 'restart').length + 2,
            0,
          );
          const capacity = 2 * (unmergeable + 7) + extra;
          const store = new FakeStore();
          const buffer = new OutageBuffer(
            store,
            { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => T0 } },
            { capacity, retryIntervalMs: 3_600_000, flushBatchSize: 7 },
          );
          for (const [n, batch] of cycles.entries()) {
            // The store is up, down, or fails half-way through a write, cycle by cycle; down after the last state.
            const state = states[n] ?? 'down';
            store.up = state !== 'down';
            store.halfway = state === 'halfway';
            const outcome = await buffer.write(batch);
            // A retry after each cycle, as the buffer's timer makes them.
            await buffer.flush();
            expect(outcome.dropped).toBe(0);
            expect(buffer.status().buffered).toBeLessThanOrEqual(capacity);
          }
          store.halfway = false;
          store.up = true;
          expect(await buffer.flush()).toBe(true);
          await buffer.close();
          expect(buffer.droppedTotal).toBe(0);
          // Each series' spans are written in time order and do not overlap.
          const lastTime = new Map<string, number>();
          for (const s of store.stored) {
            if (s.from === s.time) continue;
            expect(s.from!).toBeGreaterThanOrEqual(lastTime.get(s.pod) ?? -Infinity);
            lastTime.set(s.pod, s.time);
          }
          expectSameTotals(totalsOf(store.stored), truth);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps 3 series x 2,000 cycles in a buffer of 20 samples, merged, and reports it', async () => {
    const store = new FakeStore();
    const metrics = new OperatorMetrics();
    const buffer = new OutageBuffer(
      store,
      { logger: silentLogger(), metrics, clock: { now: () => T0 } },
      { capacity: 20, retryIntervalMs: 3_600_000 },
    );
    const steps = Array.from({ length: 3 }, () =>
      Array.from({ length: 2000 }, (_, n): Step => ({
        kind: 'read',
        cores: (n % 7) / 3,
        bytes: 2 ** 20 * (n % 5),
        cpuRequest: 500,
        memoryRequest: 2 ** 21,
        rxBytes: undefined,
      })),
    );
    const cycles = cyclesOf(steps, 30_000);
    store.up = false;
    for (const batch of cycles) await buffer.write(batch);
    expect(buffer.status()).toMatchObject({ storeAvailable: false, droppedTotal: 0 });
    expect(buffer.status().buffered).toBeLessThanOrEqual(20);
    const metric = (await metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'kube_usage_samples_merged_total',
    );
    expect(metric?.values[0]?.value).toBe(6000 - buffer.status().buffered);
    store.up = true;
    await buffer.flush();
    expectSameTotals(totalsOf(store.stored), totalsOf(cycles.flat()));
  });
});
