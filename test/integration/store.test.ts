/**
 * The MongoDB store against the test FerretDB: rollups against raw samples, retention, history
 * granularity, top-N and chargeback on a fixed dataset, and recovery of open buckets.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MongoBulkWriteError, MongoClient } from 'mongodb';
import { silentLogger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import type { ContainerSample } from '../../operator/model.js';
import {
  COLLECTION_NAMES,
  detectFeatures,
  DROPPED_MINUTE_ROLLUPS,
  migrate,
  SCHEMA_VERSION,
} from '../../operator/store/connection.js';
import { MongoUsageStore } from '../../operator/store/mongo-store.js';
import { RESOLUTION_MS, ROLLUP_RESOLUTIONS } from '../../operator/store/resolutions.js';
import { mergeUpdate, type RollupDoc } from '../../operator/store/rollups.js';
import { WritePath } from '../../operator/store/write-path.js';
import { testEnvironment } from '../harness/environment.js';
import { arbitrarySamples, sample, T0 } from '../unit/store/fixtures.js';
import { expectRollupsMatchRaw, expectSame, rawDocs, rollupDocs } from './store-fixtures.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let client: MongoClient;
const databases: string[] = [];

beforeAll(async () => {
  client = await MongoClient.connect(testEnvironment().mongoUri, { serverSelectionTimeoutMS: 10_000 });
});
afterAll(async () => {
  for (const name of databases) await client.db(name).dropDatabase();
  await client.close();
});

/** A store on a database of its own, with a clock the test moves. */
function openStore(now = T0 + 30 * DAY) {
  const database = `store_${randomBytes(4).toString('hex')}`;
  databases.push(database);
  return openStoreOn(database, now);
}

/** A store on an existing database (a later process of the same installation). */
function openStoreOn(database: string, now: number) {
  const clock = { now: () => now };
  const store = new MongoUsageStore(
    { uri: testEnvironment().mongoUri, database },
    { logger: silentLogger(), metrics: new OperatorMetrics(), clock },
  );
  return { store, db: client.db(database), setNow: (t: number) => (now = t) };
}

describe('MongoUsageStore on FerretDB', () => {
  it('keeps rollups equal to count/sum/min/max of the raw samples, with duplicates, disorder and retried batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbitrarySamples(40),
        fc.integer({ min: 1, max: 15 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        async (samples, batchSize, retried) => {
          const { store, db } = openStore();
          const batches: ContainerSample[][] = [];
          for (let i = 0; i < samples.length; i += batchSize) batches.push(samples.slice(i, i + batchSize));
          for (const index of retried) batches.push(batches[index % batches.length] as ContainerSample[]);
          for (const batch of batches) await store.write(batch);
          await store.close();
          // A series takes readings later than its latest one only: what a batch repeats or
          // reaches back to is refused (nothing is counted twice).
          const latest = new Map<string, number>();
          let accepted = 0;
          for (const batch of batches) {
            const next = new Map(latest);
            for (const s of [...batch].sort((a, b) => a.time - b.time)) {
              const key = `${s.pod}|${s.container}`;
              if (s.time <= (next.get(key) ?? -Infinity)) continue;
              next.set(key, s.time);
              accepted++;
            }
            for (const [key, time] of next) latest.set(key, time);
          }
          expect(await rawDocs(db)).toHaveLength(accepted);
          await expectRollupsMatchRaw(db);
        },
      ),
      { numRuns: 6 },
    );
  }, 600_000); // FerretDB on SQLite is slow: give the property runs room on a busy machine

  it('recomputes the buckets a stopped process left open, without counting anything twice', async () => {
    const { store, db } = openStore(T0 + HOUR);
    const series = (from: number, to: number) =>
      Array.from({ length: (to - from) / 30 }, (_, i) =>
        sample({ time: T0 + (from + i * 30) * 1000, cpuMillicores: i }),
      );
    // A first process writes 15 minutes, then dies: its open buckets (the last minute, the last
    // 5 minutes, the hour, the day) are lost with it.
    const features = await detectFeatures(db);
    const crashed = new WritePath(
      await migrate(db, features),
      { now: () => T0 + HOUR },
      { graceMs: 120_000, uncertainCapacity: 10 },
    );
    await crashed.write(series(0, 900));
    expect(crashed.trackedSeries).toBe(1);
    await store.write(series(900, 1200));
    await store.write(series(600, 630)); // a batch the first process had written, retried
    await store.close();
    await expectRollupsMatchRaw(db);
    const day = (await rollupDocs(db, '1d')).find((d) => d.time.getTime() === T0);
    expect(day?.count).toBe(40);
  });

  it('rolls up the readings of a write whose majority did not confirm in time, when its retry finds them stored', async () => {
    const { db } = openStore(T0 + HOUR);
    const collections = await migrate(db, await detectFeatures(db));
    // The server stores the readings, then a majority does not confirm them in time (once), as a
    // replica set answers a write concern timeout: no write errors, a write concern error.
    let timeouts = 1;
    const snapshots = collections.snapshots;
    const flaky = new Proxy(snapshots, {
      get(target, property) {
        if (property === 'insertMany')
          return async (...args: Parameters<typeof snapshots.insertMany>) => {
            const result = await target.insertMany(...args);
            if (timeouts-- <= 0) return result;
            throw new MongoBulkWriteError(
              { message: 'waiting for replication timed out', code: 64, writeErrors: [] },
              {
                insertedCount: result.insertedCount,
                getWriteConcernError: () => ({ code: 64, errmsg: 'waiting for replication timed out' }),
              } as never,
            );
          };
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const path = new WritePath(
      { ...collections, snapshots: flaky },
      { now: () => T0 + HOUR },
      { graceMs: 120_000, uncertainCapacity: 10 },
    );
    const batch = [
      sample({ time: T0 + 30_000, from: T0, cpuCoreSeconds: 3 }),
      sample({ time: T0 + 60_000, from: T0 + 30_000, cpuCoreSeconds: 6 }),
    ];
    // A failed write: the collector keeps the batch and retries it.
    await expect(path.write(batch)).rejects.toBeInstanceOf(MongoBulkWriteError);
    expect(await rawDocs(db)).toHaveLength(2);
    expect(await path.write(batch)).toEqual({ inserted: 0, alreadyStored: 0 });
    await path.flush();
    await expectRollupsMatchRaw(db);
    const hour = (await rollupDocs(db, '1h')).find((d) => d.time.getTime() === T0);
    expectSame(hour?.cpu.integral ?? 0, 9_000);
  });

  it('adds memory sums past 2^31 bytes when a bucket written by one process is merged by the next', async () => {
    const { store, db } = openStore(T0 + HOUR);
    await store.write([sample({ time: T0, memoryBytes: 447_187_564 })]);
    await store.close(); // writes the open buckets as they are
    const { store: next } = openStoreOn(db.databaseName, T0 + HOUR);
    await next.write([sample({ time: T0 + 1000, memoryBytes: 1_700_296_084 })]);
    await next.close(); // the same buckets again: merged into the stored documents
    for (const resolution of ROLLUP_RESOLUTIONS) {
      // The first reading's span ends at T0: its piece is in the bucket before.
      const bucket = (await rollupDocs(db, resolution)).find((d) => d.time.getTime() === T0);
      expect(bucket?.memory.sum).toBe(2_147_483_648);
      expect(bucket?.memory.max).toBe(1_700_296_084);
    }
    await expectRollupsMatchRaw(db);
  });

  it('refuses a bucket merge or rewrite from an older term than the document', async () => {
    const { store, db } = openStore(T0 + HOUR);
    store.beginTerm(5);
    await store.write([sample({ time: T0 + 30_000, from: T0 })]);
    await store.close();
    const buckets = db.collection<RollupDoc>(COLLECTION_NAMES.rollups['5m']);
    const before = await buckets.findOne({ time: new Date(T0) });
    expect(before?.term).toBe(5);
    const part = { ...(before as RollupDoc), parts: ['stale:1'] };
    const { filter, update } = mergeUpdate(part, 4);
    await expect(buckets.updateOne(filter, update, { upsert: true })).rejects.toMatchObject({ code: 11000 });
    expect(await buckets.findOne({ time: new Date(T0) })).toEqual(before);
    // The same part from the current term is merged.
    const current = mergeUpdate(part, 5);
    await buckets.updateOne(current.filter, current.update, { upsert: true });
    expect((await buckets.findOne({ time: new Date(T0) }))?.count).toBe(2);
  });

  it('claims a report once across the stores of one database, until it has not come up for its keep time', async () => {
    const now = T0 + DAY;
    const { store: first, db } = openStore(now);
    const second = openStoreOn(db.databaseName, now).store;
    const keep = HOUR;
    expect(await first.reports.claim('oom/shop/web-1/u1/app/5', now, keep)).toBe(true);
    // Another replica, or the next leader: already claimed; asking again refreshes the claim.
    expect(await second.reports.claim('oom/shop/web-1/u1/app/5', now + 50 * 60_000, keep)).toBe(false);
    expect(await first.reports.claim('oom/shop/web-1/u1/app/5', now + 100 * 60_000, keep)).toBe(false);
    expect(await second.reports.claim('oom/shop/web-1/u1/app/9', now, keep)).toBe(true);
    // Given up (its report failed): claimed again by the next pass.
    await second.reports.release('oom/shop/web-1/u1/app/9');
    expect(await first.reports.claim('oom/shop/web-1/u1/app/9', now, keep)).toBe(true);
    // Forgotten a keep time after the last time it came up, not before.
    const later = now + 100 * 60_000 + keep;
    await first.reports.forgetExpired(later - 1);
    expect(await db.collection(COLLECTION_NAMES.reports).countDocuments()).toBe(1);
    await first.reports.forgetExpired(later);
    expect(await second.reports.claim('oom/shop/web-1/u1/app/5', later, keep)).toBe(true);
    expect(await db.collection(COLLECTION_NAMES.reports).countDocuments()).toBe(1);
    await first.close();
    await second.close();
  });

  it('answers the latest sample of each container of a pod', async () => {
    const { store } = openStore();
    await store.write([
      sample({ time: T0, container: 'app', cpuMillicores: 1 }),
      sample({ time: T0 + 30_000, container: 'app', cpuMillicores: 2 }),
      sample({ time: T0 + 30_000, container: 'sidecar', cpuMillicores: 3 }),
      sample({ time: T0 + 30_000, pod: 'web-2', container: 'app', cpuMillicores: 4 }),
    ]);
    const latest = await store.latest('shop', 'web-1');
    expect(latest.map((s) => [s.container, s.cpuMillicores])).toEqual([
      ['app', 2],
      ['sidecar', 3],
    ]);
    expect(await store.latest('shop', 'nothing')).toEqual([]);
    await store.close();
  });

  it("answers each series' I/O totals of its latest reading with I/O, at the agent reading's time", async () => {
    const now = T0 + HOUR;
    const { store } = openStore(now);
    const io = (to: number, written: number) => ({
      from: to - 15_000,
      to,
      inc: { blockWriteBytes: 1000 },
      totals: { blockWriteBytes: written },
    });
    const web = { podUid: 'uid-web', pod: 'web-1' };
    await store.write([
      sample({ ...web, time: now - 40_000, from: now - 70_000, io: io(now - 41_000, 5000) }),
      sample({ ...web, time: now - 10_000, from: now - 40_000, io: io(now - 12_000, 6000) }),
      // The newest reading had no agent reading joined: the one before it is the base.
      sample({ ...web, time: now - 1_000, from: now - 10_000 }),
      sample({ podUid: 'uid-db', pod: 'db-0', time: now - 5_000, from: now - 35_000 }),
      // Beyond the hour looked back.
      sample({
        podUid: 'uid-old',
        pod: 'old-0',
        time: now - 2 * HOUR,
        from: now - 2 * HOUR - 30_000,
        io: io(now - 2 * HOUR, 1),
      }),
    ]);
    const bases = await store.latestIoTotals(['uid-web/app', 'uid-db/app', 'uid-old/app', 'uid-none/app']);
    expect(Object.fromEntries(bases)).toEqual({
      'uid-web/app': { time: now - 12_000, totals: { blockWriteBytes: 6000 } },
    });
    await store.close();
  });

  it('removes exactly what is older than the policy keeps, per level, and nothing of other policies', async () => {
    const now = T0 + 20 * DAY;
    const { store, db } = openStore(now);
    const ages = [25 * HOUR, 24 * HOUR + 1, 24 * HOUR, 23 * HOUR, 5 * DAY, 12 * DAY, HOUR];
    await store.write(
      ages.flatMap((age) => [
        sample({ time: now - age }),
        sample({ time: now - age, policy: 'shop/other', pod: 'web-2' }),
      ]),
    );
    await store.close();
    const retention = { rawMs: DAY, hourlyMs: 3 * DAY, dailyMs: 10 * DAY };
    const { store: again } = {
      store: new MongoUsageStore(
        { uri: testEnvironment().mongoUri, database: db.databaseName, retentionLimits: { batchSize: 3 } },
        { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => now } },
      ),
    };
    const before = {
      raw: await rawDocs(db),
      ...Object.fromEntries(
        await Promise.all(ROLLUP_RESOLUTIONS.map(async (r) => [r, await rollupDocs(db, r)])),
      ),
    } as Record<string, { policy: string; time: Date }[]>;
    const { deleted } = await again.applyRetention('shop/web', retention, now);
    const keep: Record<string, { ms: number; width: number }> = {
      raw: { ms: DAY, width: 0 },
      '5m': { ms: DAY, width: RESOLUTION_MS['5m'] },
      '1h': { ms: 3 * DAY, width: RESOLUTION_MS['1h'] },
      '1d': { ms: 10 * DAY, width: RESOLUTION_MS['1d'] },
    };
    let expectedDeleted = 0;
    for (const [level, { ms, width }] of Object.entries(keep)) {
      const after = level === 'raw' ? await rawDocs(db) : await rollupDocs(db, level as never);
      const expired = (d: { policy: string; time: Date }) =>
        d.policy === 'shop/web' &&
        (width === 0 ? d.time.getTime() < now - ms : d.time.getTime() + width <= now - ms);
      const expected = (before[level] ?? []).filter((d) => !expired(d));
      expectedDeleted += (before[level] ?? []).length - expected.length;
      expect(after.map((d) => `${d.policy}@${d.time.toISOString()}`).sort()).toEqual(
        expected.map((d) => `${d.policy}@${d.time.toISOString()}`).sort(),
      );
    }
    expect(deleted).toBe(expectedDeleted);
    expect(deleted).toBeGreaterThan(10);
    expect(
      (await rawDocs(db))
        .filter((d) => d.policy === 'shop/web')
        .map((d) => now - d.time.getTime())
        .sort((a, b) => a - b),
    ).toEqual([HOUR, 23 * HOUR, 24 * HOUR]);
    await again.close();
  });

  it('picks the finest granularity that fits the points asked for and that retention still holds', async () => {
    const now = T0 + 2 * DAY;
    const { store } = openStore(now);
    const samples = Array.from({ length: (2 * DAY) / 30_000 }, (_, i) => sample({ time: T0 + i * 30_000 }));
    for (let i = 0; i < samples.length; i += 2000) await store.write(samples.slice(i, i + 2000));
    const ask = async (hours: number, maxPoints: number, endHoursAgo = 0) =>
      (
        await store.history({
          namespace: 'shop',
          pod: 'web-1',
          from: now - (endHoursAgo + hours) * HOUR,
          to: now - endHoursAgo * HOUR,
          granularity: 'auto',
          maxPoints,
        })
      ).granularity;
    expect(await ask(1, 150)).toBe('raw');
    expect(await ask(1, 100)).toBe('1m');
    expect(await ask(6, 400)).toBe('1m');
    expect(await ask(6, 300)).toBe('5m');
    expect(await ask(24, 300)).toBe('5m');
    expect(await ask(24, 200)).toBe('1h');
    expect(await ask(48, 10)).toBe('1d');
    await store.applyRetention('shop/web', { rawMs: HOUR, hourlyMs: 90 * DAY, dailyMs: 400 * DAY }, now);
    expect(await ask(1, 100, 6)).toBe('1h');
    const history = await store.history({
      namespace: 'shop',
      pod: 'web-1',
      from: now - 6 * HOUR,
      to: now,
      granularity: '1h',
      maxPoints: 100,
    });
    expect(history.containers.map((c) => [c.container, c.points.length])).toEqual([['app', 6]]);
    expect(history.containers[0]?.points[0]).toEqual({
      time: now - 6 * HOUR,
      count: 120,
      cpuMillicores: { min: 100, avg: 100, max: 100 },
      memoryBytes: { min: 256 * 2 ** 20, avg: 256 * 2 ** 20, max: 256 * 2 ** 20 },
      io: null, // no agent supplied any I/O
    });
    await store.close();
  }, 900_000); // writes two days of 30 s samples: minutes on FerretDB's SQLite

  it('answers 1m history from the raw readings, and 5m from its buckets, as the readings give them', async () => {
    const now = T0 + DAY;
    const { store } = openStore(now);
    // 40 minutes at 20 s, CPU and memory changing with every reading.
    const cpuAt = (i: number) => 100 + ((i * 37) % 400);
    const memoryAt = (i: number) => 2 ** 28 + ((i * 7919) % 1000) * 4096;
    const samples = Array.from({ length: 120 }, (_, i) =>
      sample({ time: T0 + i * 20_000, cpuMillicores: cpuAt(i), memoryBytes: memoryAt(i) }),
    );
    await store.write(samples.slice(0, 70));
    await store.write(samples.slice(70));
    await store.close(); // every bucket written, none open
    const reader = openStoreOn(databases.at(-1) as string, now).store;
    const pointsOf = async (granularity: '1m' | '5m', from: number, to: number) =>
      (await reader.history({ namespace: 'shop', pod: 'web-1', from, to, granularity, maxPoints: 1000 }))
        .containers;
    // The truth: the readings taken in each bucket of the window.
    const expected = (width: number, from: number, to: number) => {
      const points = new Map<number, ContainerSample[]>();
      for (const s of samples) {
        if (s.time < from || s.time >= to) continue;
        const start = Math.floor(s.time / width) * width;
        points.set(start, [...(points.get(start) ?? []), s]);
      }
      return [...points].map(([time, taken]) => {
        const of = (values: number[]) => ({
          min: Math.min(...values),
          avg: values.reduce((a, b) => a + b, 0) / values.length,
          max: Math.max(...values),
        });
        return {
          time,
          count: taken.length,
          cpuMillicores: of(taken.map((t) => t.cpuMillicores as number)),
          memoryBytes: of(taken.map((t) => t.memoryBytes as number)),
          io: null,
        };
      });
    };
    const plain = (containers: { container: string; points: object[] }[]) =>
      JSON.parse(JSON.stringify(containers)) as typeof containers;
    const close = (
      actual: { container: string; points: object[] }[],
      points: ReturnType<typeof expected>,
    ) => {
      expect(actual.map((c) => c.container)).toEqual(['app']);
      const got = plain(actual)[0]?.points as ReturnType<typeof expected>;
      expect(got.map((p) => [p.time, p.count, p.cpuMillicores.min, p.cpuMillicores.max])).toEqual(
        points.map((p) => [p.time, p.count, p.cpuMillicores.min, p.cpuMillicores.max]),
      );
      expect(got.map((p) => [p.memoryBytes.min, p.memoryBytes.max])).toEqual(
        points.map((p) => [p.memoryBytes.min, p.memoryBytes.max]),
      );
      got.forEach((p, i) => {
        expectSame(p.cpuMillicores.avg, points[i]?.cpuMillicores.avg ?? NaN);
        expectSame(p.memoryBytes.avg, points[i]?.memoryBytes.avg ?? NaN);
      });
    };
    // Edges inside minutes: whole minutes, as the stored levels give whole buckets.
    const from = T0 + 90_000;
    const to = T0 + 35 * 60_000 + 30_000;
    const minutes = await pointsOf('1m', from, to);
    expect(minutes[0]?.points).toHaveLength(35);
    close(minutes, expected(60_000, T0 + 60_000, T0 + 36 * 60_000));
    const fives = await pointsOf('5m', from, to);
    expect(fives[0]?.points).toHaveLength(8);
    close(fives, expected(300_000, T0, T0 + 40 * 60_000));
    await reader.close();
  });

  it('ranks top consumers and charges back core-hours and GiB-hours as computed by hand', async () => {
    const from = T0 + 10 * DAY;
    const to = from + 2 * HOUR;
    const { store } = openStore(to + HOUR);
    // Two hours at 30 s: 240 samples per container.
    const fleet = [
      {
        namespace: 'shop',
        pod: 'web-1',
        team: 'a',
        cpu: 500,
        cpuRequest: 1000,
        memory: 2 ** 30,
        memoryRequest: 2 * 2 ** 30,
      },
      {
        namespace: 'shop',
        pod: 'web-2',
        team: 'a',
        cpu: 1500,
        cpuRequest: 1000,
        memory: 2 * 2 ** 30,
        memoryRequest: undefined,
      },
      {
        namespace: 'bank',
        pod: 'db-0',
        team: 'b',
        cpu: 250,
        cpuRequest: undefined,
        memory: 4 * 2 ** 30,
        memoryRequest: 2 ** 30,
      },
    ];
    const samples = fleet.flatMap((c) =>
      Array.from({ length: 240 }, (_, i) =>
        sample({
          time: from + i * 30_000,
          policy: `${c.namespace}/all`,
          namespace: c.namespace,
          pod: c.pod,
          labels: [{ k: 'team', v: c.team }],
          cpuMillicores: i === 7 ? c.cpu * 2 : c.cpu,
          cpuRequestMillicores: c.cpuRequest,
          memoryBytes: c.memory,
          memoryRequestBytes: c.memoryRequest,
        }),
      ),
    );
    const byTime = [...samples].sort((a, b) => a.time - b.time);
    await store.write(byTime.slice(0, 360));
    await store.write(byTime.slice(360));
    await store.close();
    const reader = new MongoUsageStore(
      { uri: testEnvironment().mongoUri, database: databases.at(-1) },
      { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => to } },
    );

    const top = await reader.top({ metric: 'cpu', from, to, limit: 2 });
    expect(top.items.map((e) => [e.pod, e.samples, e.max])).toEqual([
      ['web-2', 240, 3000],
      ['web-1', 240, 1000],
    ]);
    // Reading i accounts for [from + 30(i-1) s, from + 30i s]: readings 1 to 239 lie in the window
    // (reading 0's span ends where it starts), the last 30 s of it have none yet.
    const measuredSeconds = 239 * 30;
    // Time-weighted: 238 spans at the rate, one (reading 7) at twice the rate.
    expect(top.items[0]?.avg).toBe((1500 * 240) / 239);
    expect(top.coverage).toEqual({
      windowMs: 2 * HOUR,
      coveredMs: measuredSeconds * 1000,
      ratio: 239 / 240,
      memoryCoveredMs: measuredSeconds * 1000,
      memoryRatio: 239 / 240,
      proratedMs: 0,
    });
    expect(
      (await reader.top({ metric: 'memory', from, to, limit: 5, namespaces: ['shop'] })).items.map(
        (e) => e.pod,
      ),
    ).toEqual(['web-2', 'web-1']);

    // core-hours = sum over the spans in the window of cores x span: 240 x 30 s x the rate.
    const coreHours = (cpu: number) => (cpu / 1000) * ((240 * 30) / 3600);
    const gibHours = (bytes: number) => (bytes / 2 ** 30) * (measuredSeconds / 3600);
    const byNamespace = await reader.summary({ from, to, groupBy: { kind: 'namespace' } });
    const shop = byNamespace.items.find((e) => e.group === 'shop');
    const bank = byNamespace.items.find((e) => e.group === 'bank');
    const exact = (actual: number | undefined, expected: number) => expectSame(actual ?? NaN, expected);
    exact(shop?.cpuCoreHours, coreHours(500) + coreHours(1500));
    // Billed: web-1 by its request (1 core) on every span (reading 7 is at the request exactly);
    // web-2 by its usage, above its request.
    exact(shop?.cpuCoreHoursBilled, (measuredSeconds / 3600) * 1 + coreHours(1500));
    exact(shop?.memoryGiBHours, gibHours(2 ** 30) + gibHours(2 * 2 ** 30));
    exact(shop?.memoryGiBHoursBilled, gibHours(2 * 2 ** 30) + gibHours(2 * 2 ** 30));
    exact(bank?.cpuCoreHours, coreHours(250));
    exact(bank?.cpuCoreHoursBilled, coreHours(250));
    exact(bank?.memoryGiBHoursBilled, gibHours(4 * 2 ** 30));
    expect(shop?.containers).toBe(2);
    expect(byNamespace.coverage.ratio).toBe(239 / 240);
    const byTeam = await reader.summary({ from, to, groupBy: { kind: 'label', key: 'team' } });
    expect(byTeam.items.map((e) => e.group).sort()).toEqual(['a', 'b']);
    const byPod = await reader.summary({ from, to, groupBy: { kind: 'pod' }, namespaces: ['bank'] });
    expect(byPod.items.map((e) => e.group)).toEqual(['bank/db-0']);
    await reader.close();
  });

  it('brings a version 2 database to the current schema, keeps its data counted once, and refuses a newer one', async () => {
    const { store, db } = openStore(T0 + 4 * HOUR);
    // What version 2 left: per-policy buckets (two policies selected the container; that layout
    // answered with the one with most readings), per-policy raw readings without spans.
    const legacyBucket = (resolution: '1h' | '1d', policy: string, count: number, integral: number) => ({
      _id: `${resolution}|${T0}|${policy}|shop|web-1|app`,
      time: new Date(T0),
      policy,
      namespace: 'shop',
      pod: 'web-1',
      container: 'app',
      labels: [{ k: 'team', v: 'a' }],
      count,
      cpu: { n: count, sum: 500 * count, min: 500, max: 500, integral, billedIntegral: integral },
      memory: { n: 0, sum: 0, integral: 0, billedIntegral: 0 },
      parts: ['v2:0'],
    });
    for (const resolution of ['1h', '1d'] as const) {
      const rollups = db.collection(COLLECTION_NAMES.rollups[resolution]);
      await rollups.insertMany([
        legacyBucket(resolution, 'shop/web', 120, 500 * 3600),
        legacyBucket(resolution, 'shop/slow', 60, 500 * 2400),
      ] as never[]);
      await rollups.createIndex({ namespace: 1, pod: 1, time: 1 });
    }
    await db.collection(COLLECTION_NAMES.snapshots).insertOne({
      _id: `shop/web|shop|web-1|app|${T0 + 3 * HOUR}`,
      series: 'shop/web|shop|web-1|app',
      time: new Date(T0 + 3 * HOUR),
      policy: 'shop/web',
      namespace: 'shop',
      pod: 'web-1',
      container: 'app',
      node: 'node-a',
      labels: [{ k: 'team', v: 'a' }],
      cpuMillicores: 500,
      memoryBytes: null,
      uptimeSeconds: 10_800,
      intervalSeconds: 30,
    } as never);
    await db.collection(COLLECTION_NAMES.meta).insertOne({ _id: 'schema' as never, version: 2 });

    // A start-up, then a restart: each step is idempotent.
    const features = await detectFeatures(db);
    await migrate(db, features);
    await migrate(db, features);
    const indexKeys = async (name: string) =>
      (await db.collection(name).listIndexes().toArray()).map((index) => JSON.stringify(index.key)).sort();
    for (const resolution of ROLLUP_RESOLUTIONS) {
      expect(await indexKeys(COLLECTION_NAMES.rollups[resolution])).toEqual(
        [
          '{"_id":1}',
          '{"namespace":1,"pod":1,"time":1}',
          '{"policy":1,"time":1}',
          '{"expireAt":1}',
          '{"time":1}',
        ].sort(),
      );
    }
    expect(await indexKeys(COLLECTION_NAMES.snapshots)).toEqual(
      [
        '{"_id":1}',
        '{"namespace":1,"pod":1,"time":-1}',
        '{"policy":1,"time":1}',
        '{"series":1,"time":-1}',
        '{"expireAt":1}',
        '{"long":1,"time":1}',
        '{"time":1}',
      ].sort(),
    );
    const meta = db.collection(COLLECTION_NAMES.meta);
    expect(await meta.findOne({ _id: 'schema' as never })).toEqual({
      _id: 'schema',
      version: SCHEMA_VERSION,
    });
    expect(await meta.findOne({ _id: 'legacy' as never })).toEqual({ _id: 'legacy', until: T0 + 3 * HOUR });

    // The version 2 hour is counted once (the bucket that layout answered with), fully covered.
    const hour = await store.summary({ from: T0, to: T0 + HOUR, groupBy: { kind: 'namespace' } });
    expect(hour.items.map((e) => [e.group, e.cpuCoreHours, e.containers])).toEqual([['shop', 0.5, 1]]);
    expect(hour.coverage.ratio).toBe(1);

    // A collector of this version that saw the container start at T0 sends a span from there:
    // only what lies after the previous layout's readings is counted.
    await store.write([
      sample({
        podUid: 'uid-1',
        time: T0 + 3 * HOUR + 60_000,
        from: T0,
        cpuCoreSeconds: 0.5 * (3 * 3600 + 60),
        cpuMillicores: 500,
        labels: [{ k: 'team', v: 'a' }],
      }),
    ]);
    const after = await store.summary({
      from: T0 + 3 * HOUR - 30_000,
      to: T0 + 3 * HOUR + 60_000,
      groupBy: { kind: 'namespace' },
    });
    // 30 s of the old layout's last reading, 60 s of the new one, at 0.5 cores.
    expectSame(after.items[0]?.cpuCoreHours ?? NaN, (0.5 * 90) / 3600);
    expect(after.coverage.ratio).toBe(1);
    await store.close();

    await meta.updateOne({ _id: 'schema' as never }, { $set: { version: SCHEMA_VERSION + 1 } });
    await expect(migrate(db, features)).rejects.toThrow(
      `has schema version ${SCHEMA_VERSION + 1}, newer than this operator's ${SCHEMA_VERSION}; upgrade the operator`,
    );
  });

  it('brings a version 3 database to the current schema: its 1m buckets dropped, every answer the same', async () => {
    const now = T0 + 2 * HOUR;
    const { store, db } = openStore(now);
    const samples = Array.from({ length: 200 }, (_, i) =>
      sample({ time: T0 + i * 30_000, cpuMillicores: 100 + (i % 9) * 50 }),
    );
    await store.write(samples);
    await store.close();
    const answers = async () => {
      const reader = openStoreOn(db.databaseName, now).store;
      const result = {
        summary: await reader.summary({ from: T0 + 45_000, to: T0 + 97 * 60_000, groupBy: { kind: 'pod' } }),
        minutes: await reader.history({
          namespace: 'shop',
          pod: 'web-1',
          from: T0,
          to: T0 + HOUR,
          granularity: '1m',
          maxPoints: 100,
        }),
      };
      await reader.close();
      return result;
    };
    const before = await answers();
    // What version 3 also had: a collection of 1m buckets, and its version in meta.
    await db.collection(DROPPED_MINUTE_ROLLUPS).insertOne({ _id: `1m|${T0}|shop|web-1|app` } as never);
    const meta = db.collection(COLLECTION_NAMES.meta);
    await meta.updateOne({ _id: 'schema' as never }, { $set: { version: 3 } });

    const features = await detectFeatures(db);
    await migrate(db, features);
    await migrate(db, features);
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    expect(names).not.toContain(DROPPED_MINUTE_ROLLUPS);
    expect(await meta.findOne({ _id: 'schema' as never })).toEqual({
      _id: 'schema',
      version: SCHEMA_VERSION,
    });
    expect(await answers()).toEqual(before);
    expect(before.minutes.containers[0]?.points).toHaveLength(60);
  });
});
