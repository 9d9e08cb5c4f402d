/**
 * Labels are part of the history, on FerretDB: a pod relabelled at noon bills each span under the
 * labels it ran with, so label groups add up across windows (the day equals its halves, its hours
 * and any split of it); and a database of schema 4, whose open buckets have ids without a label
 * set, is migrated without counting anything twice.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient, type Db } from 'mongodb';
import { silentLogger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import type { ContainerSample } from '../../operator/model.js';
import { COLLECTION_NAMES, detectFeatures, migrate } from '../../operator/store/connection.js';
import { MongoUsageStore } from '../../operator/store/mongo-store.js';
import { ROLLUP_RESOLUTIONS } from '../../operator/store/resolutions.js';
import { seriesOfDoc, type RollupDoc } from '../../operator/store/rollups.js';
import type { SummaryResult } from '../../operator/store/types.js';
import { testEnvironment } from '../harness/environment.js';
import { sample, T0 } from '../unit/store/fixtures.js';
import { expectRollupsMatchRaw, expectSame } from './store-fixtures.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const NOON = T0 + 12 * HOUR;

let client: MongoClient;
const databases: string[] = [];

beforeAll(async () => {
  client = await MongoClient.connect(testEnvironment().mongoUri, { serverSelectionTimeoutMS: 10_000 });
});
afterAll(async () => {
  for (const name of databases) await client.db(name).dropDatabase();
  await client.close();
});

function storeOn(database: string, clock: { now: number }) {
  return new MongoUsageStore(
    { uri: testEnvironment().mongoUri, database },
    { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => clock.now } },
  );
}

function newDatabase(): { name: string; db: Db } {
  const name = `labels_${randomBytes(4).toString('hex')}`;
  databases.push(name);
  return { name, db: client.db(name) };
}

const team = (v: string) => [
  { k: 'app', v: 'web' },
  { k: 'team', v },
];

/** The pod at 2 cores, read every 30 s from 00:00 to `to`; labelled team=a until noon, b after. */
function readings(to: number): ContainerSample[] {
  const samples: ContainerSample[] = [];
  for (let time = T0 + 30 * SECOND; time <= to; time += 30 * SECOND)
    samples.push(
      sample({
        time,
        from: time - 30 * SECOND,
        podUid: 'pod-web-1',
        namespaceUid: 'ns-shop',
        cpuMillicores: 2000,
        cpuCoreSeconds: 60,
        labels: team(time <= NOON ? 'a' : 'b'),
      }),
    );
  return samples;
}

/** Writes the samples an hour at a time, the clock at the last of each batch. */
async function writeHourly(store: MongoUsageStore, clock: { now: number }, samples: ContainerSample[]) {
  for (let i = 0; i < samples.length; i += 120) {
    const batch = samples.slice(i, i + 120);
    clock.now = batch[batch.length - 1]!.time;
    await store.write(batch);
  }
}

/** Core-hours by group of a summary. */
const byGroup = (result: SummaryResult) =>
  Object.fromEntries(result.items.map((item) => [item.group, item.cpuCoreHours]));

/** The truth, the plain way: 2 cores over the part of [from, to) under each label (a until noon). */
function truth(from: number, to: number): Record<string, number> {
  const hours = (a: number, b: number) => Math.max(0, Math.min(b, to) - Math.max(a, from)) / HOUR;
  const result: Record<string, number> = {};
  if (hours(T0, NOON) > 0) result.a = 2 * hours(T0, NOON);
  if (hours(NOON, T0 + 24 * HOUR) > 0) result.b = 2 * hours(NOON, T0 + 24 * HOUR);
  return result;
}

/**
 * Equal to the truth group by group (a group may show with nothing: the reading at noon, under a,
 * is taken at the start of the afternoon and accounts for the minute before it).
 */
function expectGroups(actual: Record<string, number>, expected: Record<string, number>): void {
  for (const group of new Set([...Object.keys(actual), ...Object.keys(expected)]))
    expectSame(actual[group] ?? 0, expected[group] ?? 0);
  expect(Object.keys(actual).every((group) => group === 'a' || group === 'b')).toBe(true);
}

describe('label grouping on FerretDB', () => {
  it('bills a pod relabelled at noon to each team for its own time: the day is a=24, b=24 and its parts add up', async () => {
    const { name, db } = newDatabase();
    const clock = { now: T0 };
    const store = storeOn(name, clock);
    try {
      await writeHourly(store, clock, readings(T0 + 24 * HOUR + 10 * MINUTE));
      const summary = async (from: number, to: number) =>
        byGroup(await store.summary({ from, to, groupBy: { kind: 'label', key: 'team' } }));

      // The day from its stored day buckets (one per label set).
      const day = await summary(T0, T0 + 24 * HOUR);
      expectGroups(day, { a: 24, b: 24 });
      // Its halves, its hours and windows with arbitrary edges add up to it, each equal to the truth.
      const halves = [await summary(T0, NOON), await summary(NOON, T0 + 24 * HOUR)];
      expectGroups(halves[0]!, truth(T0, NOON));
      expectGroups(halves[1]!, truth(NOON, T0 + 24 * HOUR));
      const sums: Record<string, number> = {};
      for (let h = 0; h < 24; h++)
        for (const [group, value] of Object.entries(await summary(T0 + h * HOUR, T0 + (h + 1) * HOUR)))
          sums[group] = (sums[group] ?? 0) + value;
      expectGroups(sums, day);
      for (const [from, to] of [
        [T0 + 11 * HOUR + 17 * SECOND, T0 + 13 * HOUR + 43 * SECOND],
        [T0 + 11 * HOUR + 59 * MINUTE + 45 * SECOND, NOON + 15 * SECOND],
        [T0 + 3 * HOUR + 7 * MINUTE, T0 + 21 * HOUR + 2 * MINUTE + 500],
      ] as const)
        expectGroups(await summary(from, to), truth(from, to));

      // The pod is one container: one entry, per pod and per team, and one in the ranking.
      const pods = await store.summary({ from: T0, to: T0 + 24 * HOUR, groupBy: { kind: 'pod' } });
      expect(pods.items.map((i) => [i.group, i.containers])).toEqual([['shop/web-1', 1]]);
      expectSame(pods.items[0]!.cpuCoreHours, 48);
      expect(pods.coverage.ratio).toBe(1);
      const teams = await store.summary({
        from: T0,
        to: T0 + 24 * HOUR,
        groupBy: { kind: 'label', key: 'team' },
      });
      expect(teams.items.map((i) => i.containers)).toEqual([1, 1]);
      expect(teams.coverage.ratio).toBe(1);
      const top = await store.top({ metric: 'cpu', from: T0, to: T0 + 24 * HOUR, limit: 10 });
      expect(top.items.map((i) => [i.pod, i.container])).toEqual([['web-1', 'app']]);
      expectSame(top.items[0]!.avg, 2000);

      // Every stored bucket (the open ones written at shutdown) holds exactly the readings of its label set.
      await store.flush();
      await expectRollupsMatchRaw(db);
    } finally {
      await store.close();
    }
  });

  it('migrates a schema 4 database: open buckets get label-set ids and nothing is counted twice', async () => {
    const { name, db } = newDatabase();
    const clock = { now: T0 };
    const samples = readings(T0 + 14 * HOUR);
    // Schema 4 until 10:30 (before the relabel), this version after.
    const first = storeOn(name, clock);
    await writeHourly(first, clock, samples.slice(0, 21 * 60));
    // Shutdown: every open bucket (the day, the hour, the 5 minutes) is written past its watermark.
    await first.close();
    // What schema 4 stored: bucket ids without a label set, and its version.
    for (const resolution of ROLLUP_RESOLUTIONS) {
      const rollups = db.collection<RollupDoc>(COLLECTION_NAMES.rollups[resolution]);
      for (const doc of await rollups.find().toArray()) {
        await rollups.deleteOne({ _id: doc._id });
        await rollups.insertOne({ ...doc, _id: `${resolution}|${doc.time.getTime()}|${seriesOfDoc(doc)}` });
      }
    }
    await db
      .collection(COLLECTION_NAMES.meta)
      .updateOne({ _id: 'schema' as never }, { $set: { version: 4 } });
    const features = await detectFeatures(db);
    await migrate(db, features);
    await migrate(db, features);

    const second = storeOn(name, clock);
    try {
      await writeHourly(second, clock, samples.slice(21 * 60));
      clock.now = T0 + 48 * HOUR;
      await second.flush();
      const day = byGroup(
        await second.summary({ from: T0, to: T0 + 14 * HOUR, groupBy: { kind: 'label', key: 'team' } }),
      );
      expectGroups(day, truth(T0, T0 + 14 * HOUR));
      const pods = await second.summary({ from: T0, to: T0 + 14 * HOUR, groupBy: { kind: 'pod' } });
      expectSame(pods.items[0]!.cpuCoreHours, 28);
    } finally {
      await second.close();
    }
  });
});
