import { describe, expect, it } from '@jest/globals';
import { addIoPiece, emptyIo, ioIncrements, type IoReading } from '../../../operator/store/io-counters.js';
import { ROLLUP_RESOLUTIONS, RESOLUTION_MS } from '../../../operator/store/resolutions.js';
import { rollupsOfRollups, rollupsOfSamples, type RollupDoc } from '../../../operator/store/rollups.js';
import { RollupTracker } from '../../../operator/store/tracker.js';
import { fromSnapshotDoc, toSnapshotDoc } from '../../../operator/store/snapshots.js';
import { AgentIoJoiner, AgentIoWriter, networkCarrier } from '../../../operator/sources/agent/agent-io.js';
import type { IoBase } from '../../../operator/store/io-counters.js';
import type { ContainerSample } from '../../../operator/model.js';
import type { PodStats } from '../../../agent/types.js';
import { sample, T0 } from './fixtures.js';

const HOUR = 3_600_000;

/** I/O over 90 s from 59:30 to 01:00:00: 30 s in the hour before, 60 s in the next. */
const io: IoReading = {
  from: T0 + HOUR - 30_000,
  to: T0 + HOUR + 60_000,
  inc: { blockWriteBytes: 9_000_000, blockWriteOps: 90, networkRxBytes: 4500 },
  totals: { blockWriteBytes: 10_000_000, blockWriteOps: 100, networkRxBytes: 5000 },
};

function sumOf(docs: Iterable<RollupDoc>, field: 'blockWriteBytes' | 'networkRxBytes'): number {
  let total = 0;
  for (const doc of docs) total += doc.io?.[field] ?? 0;
  return total;
}

describe('I/O counters', () => {
  it('takes counter differences, a lower counter as a reset counted from zero, and skips counters one side lacks', () => {
    expect(
      ioIncrements(
        { blockReadBytes: 100, networkRxBytes: 50 },
        { blockReadBytes: 160, networkRxBytes: 20, blockWriteOps: 3 },
      ),
    ).toEqual({
      blockReadBytes: 60,
      networkRxBytes: 20,
    });
  });

  it('gives a piece its share of the span and a whole span its exact increment', () => {
    const whole = emptyIo();
    addIoPiece(whole, io, 90_000);
    expect(whole).toEqual({ ms: 90_000, ...io.inc });
    const part = emptyIo();
    addIoPiece(part, io, 30_000);
    expect(part.blockWriteBytes).toBe(3_000_000);
    expect(part.ms).toBe(30_000);
  });

  it('splits the I/O span at bucket boundaries at every level, independent of the CPU span, and keeps the totals', () => {
    // The CPU reading is at 01:02 with its own span; the I/O span ends earlier.
    const s = sample({ time: T0 + HOUR + 120_000, from: T0 + HOUR + 60_000, cpuCoreSeconds: 60, io });
    for (const resolution of ROLLUP_RESOLUTIONS) {
      const docs = rollupsOfSamples([s], resolution, []);
      expect(sumOf(docs.values(), 'blockWriteBytes')).toBe(9_000_000);
      expect(sumOf(docs.values(), 'networkRxBytes')).toBe(4500);
      const width = RESOLUTION_MS[resolution];
      const hourBefore = [...docs.values()].find(
        (d) => d.time.getTime() === Math.floor((T0 + HOUR - 1) / width) * width,
      );
      // 30 s of the 90 s fall in the bucket holding 59:59 at every level up to the hour; the day holds all.
      expect(hourBefore?.io?.blockWriteBytes).toBeCloseTo(width <= HOUR ? 3_000_000 : 9_000_000, 6);
    }
    // Coarser levels from finer ones keep them.
    const fine = [...rollupsOfSamples([s], '5m', []).values()];
    const hours = [...rollupsOfRollups(fine, '1h', []).values()];
    expect(sumOf(hours, 'blockWriteBytes')).toBeCloseTo(9_000_000, 6);
    expect(hours.find((d) => d.time.getTime() === T0)?.io?.blockWriteBytes).toBeCloseTo(3_000_000, 6);
  });

  it('the tracker closes buckets with their I/O, the same as recomputing from the raw reading', () => {
    const s = sample({ time: T0 + HOUR + 120_000, from: T0 + HOUR + 60_000, cpuCoreSeconds: 60, io });
    const tracker = new RollupTracker(120_000);
    const closed = [...tracker.add([s]), ...tracker.closeAll()].map((b) => b.toDoc([]));
    for (const resolution of ROLLUP_RESOLUTIONS) {
      const tracked = closed.filter((d) => d._id.startsWith(`${resolution}|`));
      const recomputed = [...rollupsOfSamples([s], resolution, []).values()];
      const byStart = (docs: RollupDoc[]) =>
        Object.fromEntries(docs.filter((d) => d.io).map((d) => [d.time.getTime(), d.io]));
      expect(byStart(tracked)).toEqual(byStart(recomputed));
    }
  });

  it('a raw reading keeps its I/O', () => {
    const s = sample({ time: T0 + HOUR + 120_000, from: T0 + HOUR + 60_000, cpuCoreSeconds: 60, io });
    expect(fromSnapshotDoc(toSnapshotDoc(s)).io).toEqual(io);
  });
});

describe('AgentIoJoiner', () => {
  const pod = (time: number, written: number, rx: number): PodStats =>
    ({
      namespace: 'ns',
      name: 'p',
      uid: 'uid-1',
      qos: 'burstable',
      cgroupDriver: 'cgroupfs',
      time,
      network: {
        rxBytes: rx,
        rxPackets: 1,
        rxErrors: 0,
        rxDrops: 0,
        txBytes: 0,
        txPackets: 0,
        txErrors: 0,
        txDrops: 0,
        interfaces: [],
      },
      containers: ['web', 'app'].map((name) => ({
        id: name,
        name,
        readStart: time,
        time,
        blockIo: { readBytes: 0, writeBytes: written, readOps: 0, writeOps: 0, devices: [] },
        processes: { count: 1, top: [] },
      })),
    }) as PodStats;

  it('joins counter differences over the agent readings own span, network to one container of the pod only', () => {
    let current = pod(T0, 1000, 500);
    const joiner = new AgentIoJoiner(() => ({
      node: () => ({ absent: 'n/a' }),
      pod: () => ({ report: {} as never, pod: current }),
    }));
    const of = (time: number) =>
      ['app', 'web'].map((container) =>
        sample({ time, container, pod: 'p', namespace: 'ns', podUid: 'uid-1' }),
      );
    expect(networkCarrier(current)).toBe('app');
    // The first reading is the base.
    expect(joiner.join(of(T0 + 1000)).map((s) => s.io)).toEqual([undefined, undefined]);
    current = pod(T0 + 15_000, 4096 + 1000, 800);
    // A reading newer than the sample waits.
    expect(joiner.join(of(T0 + 14_000)).map((s) => s.io)).toEqual([undefined, undefined]);
    const [app, web] = joiner.join(of(T0 + 16_000));
    expect(app?.io).toMatchObject({
      from: T0,
      to: T0 + 15_000,
      inc: { blockWriteBytes: 4096, networkRxBytes: 300 },
    });
    expect(web?.io?.inc).toEqual({
      blockReadBytes: 0,
      blockWriteBytes: 4096,
      blockReadOps: 0,
      blockWriteOps: 0,
    });
    // The same agent reading is not joined twice.
    expect(joiner.join(of(T0 + 17_000)).map((s) => s.io)).toEqual([undefined, undefined]);
  });

  /** A joiner reading `current()` from its agent, seeded from `stored` (a fake store), writing into `written`. */
  function seededWriter(
    current: () => PodStats,
    stored: { latestReadings(keys: readonly string[]): Promise<Map<string, IoBase>> },
  ) {
    const joiner = new AgentIoJoiner(
      () => ({ node: () => ({ absent: 'n/a' }), pod: () => ({ report: {} as never, pod: current() }) }),
      { bases: stored },
    );
    const written: ContainerSample[][] = [];
    const writer = new AgentIoWriter(
      {
        write: (samples) => {
          written.push(samples);
          return Promise.resolve({ written: samples.length, buffered: 0, dropped: 0 });
        },
      },
      joiner,
    );
    const write = async (time: number) => {
      await writer.write(
        ['app', 'web'].map((container) =>
          sample({ time, container, pod: 'p', namespace: 'ns', podUid: 'uid-1' }),
        ),
      );
      return written.at(-1)!.map((s) => s.io);
    };
    return { joiner, write };
  }

  /** What a previous leader stored last: the totals of pod(time, written, rx) (network on `app`). */
  const storedAt = (time: number, written: number, rx: number) =>
    new Map<string, IoBase>([
      [
        'uid-1/app',
        {
          time,
          totals: {
            ...{ blockReadBytes: 0, blockWriteBytes: written, blockReadOps: 0, blockWriteOps: 0 },
            ...{ networkRxBytes: rx, networkRxPackets: 1, networkRxErrors: 0, networkRxDrops: 0 },
            ...{ networkTxBytes: 0, networkTxPackets: 0, networkTxErrors: 0, networkTxDrops: 0 },
          },
        },
      ],
      [
        'uid-1/web',
        { time, totals: { blockReadBytes: 0, blockWriteBytes: written, blockReadOps: 0, blockWriteOps: 0 } },
      ],
    ]);

  it('a term continues each series from its last stored counters: a failover loses no I/O, nothing is counted twice', async () => {
    let current = pod(T0 + 15_000, 5096, 800);
    let stored = storedAt(T0, 1000, 500);
    const asked: string[][] = [];
    const { joiner, write } = seededWriter(() => current, {
      latestReadings: (keys) => {
        asked.push([...keys]);
        return Promise.resolve(stored);
      },
    });
    joiner.beginTerm();
    // The first agent reading of the term adds what happened since the previous leader's last one.
    const [app, web] = await write(T0 + 16_000);
    expect(app).toMatchObject({
      from: T0,
      to: T0 + 15_000,
      inc: { blockWriteBytes: 4096, networkRxBytes: 300 },
    });
    expect(web).toMatchObject({ from: T0, to: T0 + 15_000, inc: { blockWriteBytes: 4096 } });
    expect(asked).toEqual([['uid-1/app', 'uid-1/web']]);
    // Asked once per series per term.
    current = pod(T0 + 30_000, 6096, 900);
    expect((await write(T0 + 31_000)).map((io) => io?.inc.blockWriteBytes)).toEqual([1000, 1000]);
    expect(asked).toHaveLength(1);

    // Another replica led meanwhile and stored up to 45 s; leading again, this one continues from there, not from its own 30 s.
    stored = storedAt(T0 + 45_000, 8096, 1000);
    current = pod(T0 + 60_000, 9096, 1100);
    joiner.beginTerm();
    const [again] = await write(T0 + 61_000);
    expect(again).toMatchObject({
      from: T0 + 45_000,
      to: T0 + 60_000,
      inc: { blockWriteBytes: 1000, networkRxBytes: 100 },
    });
    expect(asked).toHaveLength(2);
  });

  it('while the store cannot answer, a series waits (no agent reading taken as its base), then starts without one', async () => {
    let current = pod(T0 + 15_000, 5096, 800);
    let failures = 0;
    const { joiner, write } = seededWriter(() => current, {
      latestReadings: () => {
        failures++;
        return failures <= 1
          ? Promise.reject(new Error('store down'))
          : Promise.resolve(storedAt(T0, 1000, 500));
      },
    });
    expect(await write(T0 + 16_000)).toEqual([undefined, undefined]);
    expect(joiner.series).toBe(0);
    // Answered at the next write: the I/O since the stored reading is all there.
    current = pod(T0 + 30_000, 6096, 900);
    expect((await write(T0 + 31_000)).map((io) => io && [io.from, io.inc.blockWriteBytes])).toEqual([
      [T0, 5096],
      [T0, 5096],
    ]);

    // A store that never answers: at the third lookup the series start from the agents' reading.
    const down = seededWriter(() => current, {
      latestReadings: () => Promise.reject(new Error('store down')),
    });
    for (let i = 0; i < 2; i++) expect(await down.write(T0 + 31_000 + i)).toEqual([undefined, undefined]);
    expect(down.joiner.series).toBe(0);
    expect(await down.write(T0 + 33_000)).toEqual([undefined, undefined]);
    expect(down.joiner.series).toBe(2);
    current = pod(T0 + 45_000, 7096, 1000);
    expect((await down.write(T0 + 46_000)).map((io) => io?.inc.blockWriteBytes)).toEqual([1000, 1000]);
  });
});
