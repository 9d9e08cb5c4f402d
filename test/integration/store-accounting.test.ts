/**
 * The store's accounting against an independently computed ground truth, on FerretDB: a fleet of
 * containers with known usage (constant, step, bursty), pods starting and stopping mid-bucket, a
 * restart, two policies at different intervals reading the same container, a 2-minute gap, a
 * leadership change with a stale writer, and windows with arbitrary edges.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import { silentLogger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import type { ContainerSample } from '../../operator/model.js';
import { MongoUsageStore } from '../../operator/store/mongo-store.js';
import type { SummaryResult } from '../../operator/store/types.js';
import { toSnapshotDoc, type SnapshotDoc } from '../../operator/store/snapshots.js';
import { StaleTermError } from '../../operator/store/write-path.js';
import { testEnvironment } from '../harness/environment.js';
import { sample } from '../unit/store/fixtures.js';
import { expectRollupsMatchRaw, expectSame } from './store-fixtures.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** A day that starts at 00:00 UTC, and the run: 3 hours from 00:00:07. */
const DAY0 = Date.UTC(2026, 10, 23);
const START = DAY0 + 7 * SECOND;
const END = START + 3 * HOUR;
const GIB = 2 ** 30;

let client: MongoClient;
const databases: string[] = [];

beforeAll(async () => {
  client = await MongoClient.connect(testEnvironment().mongoUri, { serverSelectionTimeoutMS: 10_000 });
});
afterAll(async () => {
  for (const name of databases) await client.db(name).dropDatabase();
  await client.close();
});

function newDatabase(): string {
  const database = `accounting_${randomBytes(4).toString('hex')}`;
  databases.push(database);
  return database;
}

/** A store process on a database, with a clock the test moves. */
function storeOn(database: string, clock: { now: number }) {
  return new MongoUsageStore(
    { uri: testEnvironment().mongoUri, database },
    { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => clock.now } },
  );
}

/** A container of the fleet: when it runs and what it uses (cores and bytes as functions of time). */
interface Container {
  namespace: string;
  pod: string;
  uid: string;
  container: string;
  start: number;
  stop: number;
  /** Reading period (ms) of the policies reading it, each from its own phase. */
  periods: { policy: string; everyMs: number; phaseMs: number }[];
  cores: (t: number) => number;
  bytes: (t: number) => number;
  cpuRequestMillicores?: number;
  memoryRequestBytes?: number;
  /** Readings missed from this time for this long (a node that could not be read). */
  gap?: { from: number; ms: number };
  /** Restarted at this time: a new start time, the counter from zero. */
  restartAt?: number;
}

const fleet: Container[] = [
  {
    namespace: 'shop',
    pod: 'web-1',
    uid: 'u-web-1',
    container: 'app',
    start: START - HOUR,
    stop: Infinity,
    periods: [{ policy: 'shop/fast', everyMs: 15 * SECOND, phaseMs: 3 * SECOND }],
    cores: () => 0.25,
    bytes: () => 128 * 2 ** 20,
    cpuRequestMillicores: 500,
    memoryRequestBytes: 64 * 2 ** 20,
  },
  {
    // Step: 0.2 cores, then 1.5 from 01:10; read by two policies at 10 s and 60 s.
    namespace: 'shop',
    pod: 'web-2',
    uid: 'u-web-2',
    container: 'app',
    start: START - HOUR,
    stop: Infinity,
    periods: [
      { policy: 'shop/fast', everyMs: 10 * SECOND, phaseMs: 1 * SECOND },
      { policy: 'shop/slow', everyMs: 60 * SECOND, phaseMs: 31 * SECOND },
    ],
    cores: (t) => (t < DAY0 + 70 * MINUTE ? 0.2 : 1.5),
    bytes: (t) => (t < DAY0 + 70 * MINUTE ? GIB : 3 * GIB),
    cpuRequestMillicores: 1000,
  },
  {
    // Bursty, with a 2-minute gap in its readings, and a restart.
    namespace: 'bank',
    pod: 'db-0',
    uid: 'u-db-0',
    container: 'db',
    start: START - HOUR,
    stop: Infinity,
    periods: [{ policy: 'bank/all', everyMs: 30 * SECOND, phaseMs: 17 * SECOND }],
    cores: (t) => (Math.floor(t / (45 * SECOND)) % 4 === 0 ? 3.2 : 0.05),
    bytes: (t) => (Math.floor(t / (70 * SECOND)) % 3 === 0 ? 5 * GIB : 512 * 2 ** 20),
    memoryRequestBytes: 2 * GIB,
    gap: { from: DAY0 + 95 * MINUTE + 13 * SECOND, ms: 2 * MINUTE },
    restartAt: DAY0 + 150 * MINUTE + 29 * SECOND,
  },
  {
    // Starts and stops mid-bucket: lives 45 s, read every 30 s.
    namespace: 'bank',
    pod: 'job-1',
    uid: 'u-job-1',
    container: 'main',
    start: DAY0 + 40 * MINUTE + 20 * SECOND,
    stop: DAY0 + 41 * MINUTE + 5 * SECOND,
    periods: [{ policy: 'bank/all', everyMs: 30 * SECOND, phaseMs: 17 * SECOND }],
    cores: () => 2,
    bytes: () => 256 * 2 ** 20,
    cpuRequestMillicores: 100,
  },
  {
    // Starts mid-run, mid-minute, and stops before the end.
    namespace: 'ops',
    pod: 'cron-1',
    uid: 'u-cron-1',
    container: 'main',
    start: DAY0 + 101 * MINUTE + 42 * SECOND,
    stop: DAY0 + 163 * MINUTE + 8 * SECOND,
    periods: [{ policy: 'ops/all', everyMs: 20 * SECOND, phaseMs: 0 }],
    cores: (t) => 0.1 + ((t / SECOND) % 7) / 10,
    bytes: () => 100 * 2 ** 20,
  },
];

/** Integral of f over [a, b) by 1-second steps (the curves are constant within a second). */
function integrate(f: (t: number) => number, a: number, b: number): number {
  let total = 0;
  for (let t = a; t < b;) {
    const next = Math.min(b, (Math.floor(t / SECOND) + 1) * SECOND);
    total += f(t) * ((next - t) / SECOND);
    t = next;
  }
  return total;
}

/**
 * The readings a collector following the contract makes: one cursor per container, shared by
 * its policies; every reading's span from the previous one (or the container's start); counter
 * increments exact; readings missed during the gap; a restart starts a new span at the new start.
 */
function readingsOf(c: Container): ContainerSample[] {
  const times = new Map<number, string>();
  for (const p of c.periods) {
    for (let t = START - ((START - p.phaseMs) % p.everyMs) + p.everyMs; t <= END; t += p.everyMs) {
      if (t <= c.start || t > c.stop + p.everyMs) continue;
      if (c.gap && t >= c.gap.from && t < c.gap.from + c.gap.ms) continue;
      if (!times.has(t)) times.set(t, p.policy);
    }
  }
  const samples: ContainerSample[] = [];
  let from = Math.max(c.start, START - 10 * SECOND);
  for (const t of [...times.keys()].sort((a, b) => a - b)) {
    const time = Math.min(t, c.stop);
    if (time <= from) continue;
    let spanFrom = from;
    if (c.restartAt !== undefined && spanFrom < c.restartAt && time > c.restartAt) spanFrom = c.restartAt;
    samples.push(
      sample({
        time,
        from: spanFrom,
        policy: times.get(t) as string,
        namespace: c.namespace,
        pod: c.pod,
        podUid: c.uid,
        container: c.container,
        labels: [{ k: 'team', v: c.namespace === 'shop' ? 'a' : 'b' }],
        cpuMillicores: c.cores(time - 1) * 1000,
        memoryBytes: c.bytes(time - 1),
        cpuCoreSeconds: integrate(c.cores, spanFrom, time),
        memoryByteSeconds: integrate(c.bytes, spanFrom, time),
        cpuRequestMillicores: c.cpuRequestMillicores,
        memoryRequestBytes: c.memoryRequestBytes,
        intervalSeconds: 30,
      }),
    );
    from = time;
  }
  return samples;
}

const readings = fleet.flatMap(readingsOf);

/** The truth per namespace over [a, b): each reading's increments pro-rated to its overlap. */
function truth(a: number, b: number): Map<string, { coreHours: number; gibHours: number; billed: number }> {
  const result = new Map<string, { coreHours: number; gibHours: number; billed: number }>();
  for (const r of readings) {
    const from = r.from as number;
    const overlap = Math.max(0, Math.min(b, r.time) - Math.max(a, from));
    if (overlap === 0) continue;
    const share = overlap / (r.time - from);
    const entry = result.get(r.namespace) ?? { coreHours: 0, gibHours: 0, billed: 0 };
    const cores = (r.cpuCoreSeconds as number) * share;
    entry.coreHours += cores / 3600;
    entry.gibHours += ((r.memoryByteSeconds as number) * share) / GIB / 3600;
    entry.billed += Math.max(cores, ((r.cpuRequestMillicores ?? 0) / 1000) * (overlap / SECOND)) / 3600;
    result.set(r.namespace, entry);
  }
  return result;
}

function expectTruth(answer: SummaryResult, a: number, b: number): void {
  const expected = truth(a, b);
  for (const group of expected.keys()) expect(answer.items.map((e) => e.group)).toContain(group);
  for (const entry of answer.items) {
    const t = expected.get(entry.group) ?? { coreHours: 0, gibHours: 0, billed: 0 };
    expectSame(entry.cpuCoreHours, t.coreHours);
    expectSame(entry.memoryGiBHours, t.gibHours);
    expectSame(entry.cpuCoreHoursBilled, t.billed);
  }
}

/** Readings in cycles of `everyMs`, as the collector would hand them over, up to `until`. */
function cycles(samples: readonly ContainerSample[], from: number, until: number, everyMs = 30 * SECOND) {
  const batches: { at: number; samples: ContainerSample[] }[] = [];
  for (let at = from; at < until; at += everyMs) {
    const batch = samples.filter((s) => s.time >= at && s.time < at + everyMs);
    if (batch.length > 0) batches.push({ at: at + everyMs, samples: batch });
  }
  return batches;
}

/** Windows with arbitrary millisecond edges, one with a +05:30 offset day, and whole hours. */
const WINDOWS: [number, number][] = [
  [START + 12_345, START + 200_000],
  [DAY0 + 40 * MINUTE + 31_700, DAY0 + 95 * MINUTE + 59_999],
  [DAY0 + 30 * MINUTE + 1, END - 1],
  [DAY0 - 5.5 * HOUR, DAY0 + 18.5 * HOUR], // a day in +05:30 (IST)
  [DAY0 + HOUR, DAY0 + 2 * HOUR],
];

describe('exact accounting on FerretDB', () => {
  it('equals the ground truth over windows with arbitrary edges, across a leadership change, with rollups equal to the raw readings', async () => {
    const database = newDatabase();
    const clock = { now: START };
    // The first leader (term 3) writes the first 100 minutes, cycle by cycle.
    const leader = storeOn(database, clock);
    leader.beginTerm(3);
    expect(await leader.lastReadingTime()).toBeUndefined();
    // Cycles every 30 s from 30 s before the start; the leadership changes at the cycle after 01:40:11.
    const cycleStart = START - 30 * SECOND;
    const split =
      cycleStart + Math.ceil((DAY0 + 100 * MINUTE + 11 * SECOND - cycleStart) / (30 * SECOND)) * 30 * SECOND;
    for (const batch of cycles(readings, cycleStart, split)) {
      clock.now = batch.at;
      await leader.write(batch.samples);
    }
    // A standby on the same database answers exactly like the leader, mid-run.
    const standby = storeOn(database, clock);
    for (const [a, b] of [[START, clock.now] as const, [DAY0 + 33_333, DAY0 + 97 * MINUTE + 1] as const]) {
      const q = { from: a, to: b, groupBy: { kind: 'pod' as const } };
      expect(await standby.summary(q)).toEqual(await leader.summary(q));
      expect(await standby.top({ metric: 'cpu', from: a, to: b, limit: 10 })).toEqual(
        await leader.top({ metric: 'cpu', from: a, to: b, limit: 10 }),
      );
    }
    // The leader loses its lease without a word (no flush); the standby leads in term 4 and
    // continues every series from what is stored.
    standby.beginTerm(4);
    // What the store accounts up to: a container started after it has no stored reading.
    expect(await standby.lastReadingTime()).toBe(
      Math.max(...readings.filter((r) => r.time < split).map((r) => r.time)),
    );
    const bases = await standby.latestReadings(fleet.map((c) => `${c.uid}/${c.container}`));
    for (const c of fleet) {
      const written = readings.filter((r) => r.podUid === c.uid && r.time < split);
      expect(bases.get(`${c.uid}/${c.container}`)?.time).toBe(written.at(-1)?.time);
    }
    let first = true;
    for (const batch of cycles(readings, split, END + 1)) {
      clock.now = batch.at;
      await standby.write(batch.samples);
      if (first) {
        // The old leader wakes up and writes what it had: refused.
        await expect(leader.write(batch.samples)).rejects.toBeInstanceOf(StaleTermError);
        first = false;
      }
    }
    await expect(leader.write(readings.slice(-3))).rejects.toBeInstanceOf(StaleTermError);
    await expect(leader.flush()).rejects.toBeInstanceOf(StaleTermError);

    // Mid-stream (open buckets, the tail from raw readings) and after the buckets closed.
    for (const now of [END + 1, END + 2 * HOUR]) {
      clock.now = now;
      if (now > END + 1) await standby.write([]);
      const reader = storeOn(database, clock);
      for (const [a, b] of WINDOWS) {
        const answer = await reader.summary({ from: a, to: b, groupBy: { kind: 'namespace' } });
        expectTruth(answer, a, b);
        expect(await leader.summary({ from: a, to: b, groupBy: { kind: 'namespace' } })).toEqual(answer);
      }
      // 24 hourly windows (with a +05:30 offset) add up to their day.
      const dayStart = DAY0 - 5.5 * HOUR;
      const day = await reader.summary({
        from: dayStart,
        to: dayStart + 24 * HOUR,
        groupBy: { kind: 'namespace' },
      });
      const hours = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          reader.summary({
            from: dayStart + i * HOUR,
            to: dayStart + (i + 1) * HOUR,
            groupBy: { kind: 'namespace' },
          }),
        ),
      );
      for (const entry of day.items) {
        const sum = hours.reduce(
          (n, h) => n + (h.items.find((e) => e.group === entry.group)?.cpuCoreHours ?? 0),
          0,
        );
        expect(Math.abs(sum - entry.cpuCoreHours) / entry.cpuCoreHours).toBeLessThan(1e-9);
      }
      await reader.close();
    }
    // Coverage: the 2-minute gap is closed by the next reading's span; the window before the first reading is not covered.
    const early = await standby.summary({
      from: START - 10 * MINUTE,
      to: START + 10 * MINUTE,
      groupBy: { kind: 'namespace' },
    });
    expect(early.coverage.ratio).toBe((10 * MINUTE + 10 * SECOND) / (20 * MINUTE));
    await standby.close();
    await leader.close().catch(() => undefined);
    await expectRollupsMatchRaw(client.db(database));
  }, 900_000);

  it("counts once what the old leader stores of a failover's new container after the new term looked", async () => {
    const database = newDatabase();
    const clock = { now: START + MINUTE };
    const old = storeOn(database, clock);
    old.beginTerm(3);
    const cores = 0.5;
    /** A reading of the container started in the failover: `cores` over [from, time] (s after START). */
    const reading = (from: number, time: number): ContainerSample =>
      sample({
        pod: 'new-1',
        podUid: 'u-new-1',
        time: START + time * SECOND,
        from: START + from * SECOND,
        cpuMillicores: cores * 1000,
        cpuCoreSeconds: cores * (time - from),
        memoryBytes: GIB,
        memoryByteSeconds: GIB * (time - from),
      });
    await old.write([sample({ podUid: 'u-web-1', time: START + MINUTE, from: START, cpuCoreSeconds: 6 })]);
    const next = storeOn(database, clock);
    next.beginTerm(4);
    expect(await next.lastReadingTime()).toBe(START + MINUTE);
    // The container starts at 65 s, after that; the old leader, not fenced yet, stores its first span.
    clock.now = START + 80 * SECOND;
    await old.write([reading(65, 80)]);
    // The new leader bills it from its start: its first write claims the term, and clips the span
    // after the old leader's reading.
    clock.now = START + 90 * SECOND;
    await next.write([reading(65, 90)]);
    // A reading of the old leader that was past its fence check lands after it (raw, overlapping).
    await client
      .db(database)
      .collection<SnapshotDoc>('snapshots')
      .insertOne(toSnapshotDoc(reading(80, 85), 3));
    // From now on the old leader is refused.
    await expect(old.write([reading(85, 100)])).rejects.toBeInstanceOf(StaleTermError);
    clock.now = START + 120 * SECOND;
    await next.write([reading(90, 120)]);
    const window = { from: START, to: START + 2 * MINUTE };
    const pod = async (store: MongoUsageStore) =>
      (await store.summary({ ...window, groupBy: { kind: 'pod' } })).items.find((i) =>
        i.group.endsWith('/new-1'),
      )!;
    // Usage since the start, once: from the raw readings (clipped against each other) ...
    expectSame((await pod(next)).cpuCoreHours, (cores * 55) / 3600);
    expectSame((await pod(next)).memoryGiBHours, 55 / 3600);
    // ... and from the buckets once they are closed.
    clock.now = START + 3 * HOUR;
    await next.write([]);
    expectSame((await pod(next)).cpuCoreHours, (cores * 55) / 3600);
    await next.close();
    await old.close().catch(() => undefined);
  }, 600_000);

  it('bills a container selected by 1 or 3 policies the same', async () => {
    const c = fleet[1]!;
    const mine = readingsOf(c).filter((r) => r.time < DAY0 + 80 * MINUTE);
    const answers: unknown[] = [];
    for (const policies of [['shop/a'], ['shop/a', 'shop/b', 'shop/c']]) {
      const database = newDatabase();
      const clock = { now: START };
      const store = storeOn(database, clock);
      for (const batch of cycles(mine, START - 30 * SECOND, DAY0 + 80 * MINUTE)) {
        clock.now = batch.at;
        // Each policy hands over the same readings (read at the same time) in its own write.
        for (const policy of policies) await store.write(batch.samples.map((s) => ({ ...s, policy })));
      }
      clock.now = DAY0 + 3 * HOUR;
      const window = { from: DAY0 + 13 * MINUTE + 7_001, to: DAY0 + 79 * MINUTE + 3 };
      const summary = await store.summary({ ...window, groupBy: { kind: 'namespace' } });
      expectTruthFor(mine, summary, window.from, window.to);
      answers.push(summary);
      await store.close();
    }
    expect(answers[1]).toEqual(answers[0]);
  }, 600_000);

  it('expires readings and buckets by their series retention, also when no policy is left', async () => {
    const database = newDatabase();
    const clock = { now: START };
    const store = storeOn(database, clock);
    const retention = { rawMs: HOUR, hourlyMs: 2 * HOUR, dailyMs: 30 * 24 * HOUR };
    const mine = readingsOf(fleet[0]!)
      .filter((r) => r.time < START + 20 * MINUTE)
      .map((r) => ({ ...r, retention }));
    await store.write(mine);
    const db = client.db(database);
    const count = async (name: string) => db.collection(name).countDocuments();
    clock.now = START + 20 * MINUTE + HOUR + 10 * MINUTE;
    await store.applyExpiry(clock.now);
    expect(await count('snapshots')).toBe(0);
    expect(await count('rollups_5m')).toBe(0);
    expect(await count('rollups_1h')).toBeGreaterThan(0);
    clock.now = START + 3 * 24 * HOUR;
    await store.applyExpiry(clock.now);
    expect(await count('rollups_1h')).toBe(0);
    expect(await count('rollups_1d')).toBeGreaterThan(0);
    // The day is still answered, from the day bucket pro-rated where the hours are gone.
    const day = await store.summary({ from: DAY0, to: DAY0 + 24 * HOUR, groupBy: { kind: 'namespace' } });
    expectTruthFor(mine, day, DAY0, DAY0 + 24 * HOUR);
    await store.close();
  }, 600_000);
});

function expectTruthFor(
  samples: readonly ContainerSample[],
  answer: SummaryResult,
  a: number,
  b: number,
): void {
  let coreSeconds = 0;
  for (const r of samples) {
    const from = r.from as number;
    const overlap = Math.max(0, Math.min(b, r.time) - Math.max(a, from));
    coreSeconds += ((r.cpuCoreSeconds as number) * overlap) / (r.time - from);
  }
  expect(answer.items).toHaveLength(1);
  expectSame(answer.items[0]!.cpuCoreHours, coreSeconds / 3600);
}

describe('reading stored levels across retention edges on FerretDB', () => {
  /** Readings of one container every `everyMs` from `from` to `to` at `cores(t)`, with its series' retention. */
  const steady = (
    namespace: string,
    from: number,
    to: number,
    everyMs: number,
    cores: (t: number) => number,
    retention?: { rawMs: number; hourlyMs: number; dailyMs: number },
  ): ContainerSample[] => {
    const samples: ContainerSample[] = [];
    for (let t = from; t < to; t += everyMs)
      samples.push(
        sample({
          namespace,
          pod: `${namespace}-0`,
          podUid: `u-${namespace}`,
          time: t + everyMs,
          from: t,
          cpuMillicores: cores(t) * 1000,
          cpuCoreSeconds: integrate(cores, t, t + everyMs),
          memoryBytes: GIB,
          memoryByteSeconds: (GIB * everyMs) / SECOND,
          retention,
        }),
      );
    return samples;
  };
  /** Writes `samples` an hour at a time, the clock at the end of each hour (buckets close as they would). */
  const writeHourly = async (store: MongoUsageStore, clock: { now: number }, samples: ContainerSample[]) => {
    const first = Math.floor(Math.min(...samples.map((s) => s.time)) / HOUR) * HOUR;
    const last = Math.max(...samples.map((s) => s.time));
    for (let at = first; at <= last; at += HOUR) {
      clock.now = at + HOUR + 3 * MINUTE;
      await store.write(samples.filter((s) => s.time >= at && s.time < at + HOUR));
    }
  };
  const DAY = 24 * HOUR;

  it('bills a UTC-5 day exactly while a level holds it, pro-rated from the day once the hours are gone, and says which', async () => {
    const database = newDatabase();
    const clock = { now: DAY0 - DAY };
    const store = storeOn(database, clock);
    store.beginTerm(1);
    const short = { rawMs: DAY, hourlyMs: 7 * DAY, dailyMs: 400 * DAY };
    const usual = { rawMs: 7 * DAY, hourlyMs: 90 * DAY, dailyMs: 400 * DAY };
    // A rate that changes every hour: only the stored hours give its day's figure exactly.
    const varying = (t: number) => 0.5 + (Math.floor(t / HOUR) % 5) * 0.75;
    const samples = [
      ...steady('short', DAY0, DAY0 + 2 * DAY, 10 * MINUTE, () => 1, short),
      ...steady('usual', DAY0, DAY0 + 2 * DAY, 10 * MINUTE, () => 1, usual),
      ...steady('varied', DAY0, DAY0 + 2 * DAY, 10 * MINUTE, varying, usual),
    ];
    await writeHourly(store, clock, samples);
    const from = DAY0 + 5 * HOUR; // 00:00 in UTC-5
    const to = from + DAY;
    const day = async (namespace: string) => {
      const answer = await store.summary({
        from,
        to,
        groupBy: { kind: 'namespace' },
        namespaces: [namespace],
      });
      return { coreHours: answer.items[0]?.cpuCoreHours ?? 0, coverage: answer.coverage };
    };
    const truthOf = (a: number, b: number) => integrate(varying, a, b) / 3600;

    // 7.5 days after the UTC day began (raw 1 d, hourly 7 d): its hours up to 12:00 are gone.
    clock.now = DAY0 + 7 * DAY + 12 * HOUR;
    await store.applyExpiry(clock.now);
    const short7 = await day('short');
    expectSame(short7.coreHours, 24);
    expect(short7.coverage).toEqual({
      windowMs: DAY,
      coveredMs: DAY,
      ratio: 1,
      memoryCoveredMs: DAY,
      memoryRatio: 1,
      proratedMs: 7 * HOUR,
    });
    // Hourly kept 90 days: every hour is there, the day exact, nothing pro-rated.
    expectSame((await day('usual')).coreHours, 24);
    const varied7 = await day('varied');
    expectSame(varied7.coreHours, truthOf(from, to));
    expect(varied7.coverage.proratedMs).toBe(0);

    // With the default retention, the same day 90 days back: its UTC hours up to 15:00 are gone.
    clock.now = DAY0 + 90 * DAY + 15 * HOUR;
    await store.applyExpiry(clock.now);
    const usual90 = await day('usual');
    expectSame(usual90.coreHours, 24);
    expect(usual90.coverage.proratedMs).toBe(10 * HOUR);
    // Exact from 15:00; before it, what the day holds beyond the kept hours, spread over 00:00-15:00.
    const varied90 = await day('varied');
    expectSame(
      varied90.coreHours,
      truthOf(DAY0 + 15 * HOUR, to) + (truthOf(DAY0, DAY0 + 15 * HOUR) * 10) / 15,
    );
    // The short series' hours are all gone: both days pro-rated, by share of the day.
    const short90 = await day('short');
    expectSame(short90.coreHours, 24);
    expect(short90.coverage.proratedMs).toBe(DAY);
    await store.close();
  }, 900_000);

  it('ranks a 24-hour 2-core container above a 10-minute 8-core one, with both averages', async () => {
    const database = newDatabase();
    const clock = { now: DAY0 };
    const store = storeOn(database, clock);
    store.beginTerm(1);
    const samples = [
      ...steady('shop', DAY0, DAY0 + DAY, MINUTE, () => 2).map((s) => ({
        ...s,
        pod: 'steady',
        podUid: 'u-steady',
      })),
      ...steady(
        'shop',
        DAY0 + 7 * HOUR + 3 * MINUTE,
        DAY0 + 7 * HOUR + 13 * MINUTE,
        30 * SECOND,
        () => 8,
      ).map((s) => ({ ...s, pod: 'burst', podUid: 'u-burst' })),
    ];
    await writeHourly(store, clock, samples);
    for (const [from, to] of [
      [DAY0, DAY0 + DAY],
      [DAY0 - 5 * HOUR, DAY0 + 19 * HOUR], // a UTC-5 day, partly before the data
    ] as const) {
      const answer = await store.top({ metric: 'cpu', from, to, limit: 10 });
      expect(answer.items.map((i) => i.pod)).toEqual(['steady', 'burst']);
      const [first, second] = answer.items;
      const steadyHours = (Math.min(to, DAY0 + DAY) - Math.max(from, DAY0)) / HOUR;
      expectSame(first!.usage, 2 * steadyHours);
      expectSame(first!.avg, 2000);
      expectSame(first!.windowAvg, (2000 * steadyHours * HOUR) / (to - from));
      expect(first!.measuredMs).toBe(steadyHours * HOUR);
      expectSame(second!.usage, (8 * 10) / 60);
      expectSame(second!.avg, 8000);
      expectSame(second!.windowAvg, (8000 * 10 * MINUTE) / (to - from));
      expect(second!.measuredMs).toBe(10 * MINUTE);
    }
    await store.close();
  }, 600_000);
});
