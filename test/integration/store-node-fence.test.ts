/**
 * The fence per node on FerretDB: holders of one node each (a node pipeline's writer), two at
 * once on one node (an agent rollout with surge), a holder that crashes and the one that takes
 * the node after it, nodes with different holders and clocks, and the level watermarks readers
 * take buckets up to. Each holder here continues its series from the stored counter bases as a
 * collector does; every namespace's chargeback is compared with the containers' usage integrated
 * the plain way, and every bucket with the raw readings it holds.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import { silentLogger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import type { ContainerSample } from '../../operator/model.js';
import { MongoUsageStore } from '../../operator/store/mongo-store.js';
import { NodeStaleTermError } from '../../operator/store/node-fence.js';
import { ROLLUP_RESOLUTIONS } from '../../operator/store/resolutions.js';
import { toSnapshotDoc, type SnapshotDoc } from '../../operator/store/snapshots.js';
import type { NodeWriter, SummaryResult } from '../../operator/store/types.js';
import { readLevelWatermarks, type MetaDoc, type Watermarks } from '../../operator/store/watermarks.js';
import { testEnvironment } from '../harness/environment.js';
import { sample } from '../unit/store/fixtures.js';
import { expectRollupsMatchRaw, expectSame, rawDocs } from './store-fixtures.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const GIB = 2 ** 30;
/** The run starts at 00:00:07 UTC; readings every 30 s. */
const START = Date.UTC(2026, 10, 23) + 7 * SECOND;
const CYCLE = 30 * SECOND;

let client: MongoClient;
const databases: string[] = [];
const stores: MongoUsageStore[] = [];

beforeAll(async () => {
  client = await MongoClient.connect(testEnvironment().mongoUri, { serverSelectionTimeoutMS: 10_000 });
});
afterAll(async () => {
  for (const store of stores) await store.close().catch(() => undefined);
  for (const name of databases) await client.db(name).dropDatabase();
  await client.close();
});

function newDatabase(): string {
  const database = `node_fence_${randomBytes(4).toString('hex')}`;
  databases.push(database);
  return database;
}

/** A store process whose clock is the test's plus `offsetMs` (the clock of the node it runs on). */
function storeOn(database: string, clock: { now: number }, offsetMs = 0): MongoUsageStore {
  const store = new MongoUsageStore(
    { uri: testEnvironment().mongoUri, database },
    { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => clock.now + offsetMs } },
  );
  stores.push(store);
  return store;
}

/** A container with constant usage from `start` (test time), on a node. */
interface Container {
  namespace: string;
  pod: string;
  uid: string;
  node: string;
  start: number;
  cores: number;
  bytes: number;
}

const key = (c: Container) => `${c.uid}/app`;

/**
 * One node's pipeline as far as the store sees it: reads its containers' cumulative counters at
 * the node's clock (the test's plus `skewMs`), each span from the series' base (its previous
 * reading, or the container's start), and writes them through its NodeWriter.
 */
class Holder {
  readonly bases = new Map<string, { time: number; total: number }>();
  /** The readings the store accepted from this holder. */
  readonly written: ContainerSample[] = [];

  constructor(
    readonly writer: NodeWriter,
    readonly containers: readonly Container[],
    readonly skewMs = 0,
  ) {}

  /** Takes the node and continues every series from the stored counter bases. */
  async take(): Promise<number> {
    const term = await this.writer.take();
    await this.loadBases();
    return term;
  }

  async loadBases(): Promise<void> {
    const stored = await this.writer.latestReadings(this.containers.map(key));
    this.bases.clear();
    for (const [series, base] of stored)
      this.bases.set(series, { time: base.time, total: base.cpuCoreSecondsTotal! });
  }

  /** The readings at test time `at` of the containers started by then. */
  readAt(at: number): ContainerSample[] {
    const time = at + this.skewMs;
    return this.containers
      .filter((c) => c.start + this.skewMs < time)
      .map((c) => {
        const base = this.bases.get(key(c)) ?? { time: c.start + this.skewMs, total: 0 };
        const total = (c.cores * (time - (c.start + this.skewMs))) / SECOND;
        return sample({
          namespace: c.namespace,
          pod: c.pod,
          podUid: c.uid,
          node: c.node,
          policy: `${c.namespace}/all`,
          time,
          from: base.time,
          intervalSeconds: CYCLE / SECOND,
          cpuMillicores: c.cores * 1000,
          memoryBytes: c.bytes,
          cpuCoreSeconds: total - base.total,
          memoryByteSeconds: (c.bytes * (time - base.time)) / SECOND,
          cpuCoreSecondsTotal: total,
        });
      });
  }

  /** Reads and writes one cycle; the bases move on only when the store took the readings. */
  async cycle(at: number): Promise<void> {
    const batch = this.readAt(at);
    await this.writer.write(batch);
    for (const r of batch) this.bases.set(`${r.podUid}/app`, { time: r.time, total: r.cpuCoreSecondsTotal! });
    this.written.push(...batch);
  }
}

/**
 * What each namespace used over [a, b): every container's constant usage over the part of the
 * window between its start and its last stored reading (in its node's clock), the plain way.
 */
function truth(
  containers: readonly Container[],
  lastStored: Map<string, number>,
  skew: Map<string, number>,
  a: number,
  b: number,
) {
  const byNamespace = new Map<string, { coreHours: number; gibHours: number }>();
  for (const c of containers) {
    const last = lastStored.get(key(c));
    if (last === undefined) continue;
    const start = c.start + (skew.get(c.node) ?? 0);
    const ms = Math.max(0, Math.min(b, last) - Math.max(a, start));
    const entry = byNamespace.get(c.namespace) ?? { coreHours: 0, gibHours: 0 };
    entry.coreHours += (c.cores * ms) / HOUR;
    entry.gibHours += (c.bytes / GIB) * (ms / HOUR);
    byNamespace.set(c.namespace, entry);
  }
  return byNamespace;
}

function expectNamespaces(answer: SummaryResult, expected: ReturnType<typeof truth>): void {
  const groups = [...expected].filter(([, t]) => t.coreHours > 0).map(([g]) => g);
  expect(answer.items.map((e) => e.group).sort()).toEqual(groups.sort());
  for (const entry of answer.items) {
    const t = expected.get(entry.group)!;
    expectSame(entry.cpuCoreHours, t.coreHours);
    expectSame(entry.cpuCoreHoursBilled, t.coreHours);
    expectSame(entry.memoryGiBHours, t.gibHours);
  }
}

/** The last stored reading's time of each series, from what the holders had accepted. */
function lastStoredOf(...holders: Holder[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const h of holders)
    for (const r of h.written)
      last.set(`${r.podUid}/app`, Math.max(last.get(`${r.podUid}/app`) ?? -Infinity, r.time));
  return last;
}

const levels = (database: string): Promise<Watermarks> =>
  readLevelWatermarks(client.db(database).collection<MetaDoc>('meta'));

const NODE_A: Container[] = [
  {
    namespace: 'shop',
    pod: 'web-1',
    uid: 'u-web-1',
    node: 'node-a',
    start: START - HOUR,
    cores: 0.25,
    bytes: GIB / 8,
  },
  {
    namespace: 'shop',
    pod: 'web-2',
    uid: 'u-web-2',
    node: 'node-a',
    start: START - HOUR,
    cores: 1.5,
    bytes: 3 * GIB,
  },
  {
    namespace: 'bank',
    pod: 'db-0',
    uid: 'u-db-0',
    node: 'node-a',
    start: START - HOUR,
    cores: 3.2,
    bytes: 5 * GIB,
  },
];
const NODE_B: Container[] = [
  {
    namespace: 'bank',
    pod: 'db-1',
    uid: 'u-db-1',
    node: 'node-b',
    start: START - HOUR,
    cores: 0.7,
    bytes: 2 * GIB,
  },
  {
    namespace: 'ops',
    pod: 'cron-1',
    uid: 'u-cron-1',
    node: 'node-b',
    start: START - HOUR,
    cores: 0.1,
    bytes: GIB / 4,
  },
];

/** Windows with arbitrary edges over the first hour, and one holding everything. */
const WINDOWS: [number, number][] = [
  [START - HOUR, START + 3 * HOUR],
  [START + 12_345, START + 17 * MINUTE + 999],
  [START + 16 * MINUTE + 1, START + 31 * MINUTE + 20_001],
  [START + 30 * MINUTE, START + 45 * MINUTE],
];

describe('the fence per node on FerretDB', () => {
  it('refuses the older of two holders of one node (a rollout with surge): every span counted once', async () => {
    const database = newDatabase();
    const clock = { now: START };
    const old = new Holder(storeOn(database, clock).nodeWriter('node-a'), NODE_A);
    expect(await old.take()).toBe(1);
    for (let at = START; at < START + 17 * MINUTE; at += CYCLE) {
      clock.now = at;
      await old.cycle(at);
    }
    // The new agent starts beside the old one, takes the node and reads at its own phase (15 s later).
    const surge = new Holder(storeOn(database, clock).nodeWriter('node-a'), NODE_A);
    clock.now = START + 17 * MINUTE + 5 * SECOND;
    expect(await surge.take()).toBe(2);
    for (const c of NODE_A) expect(surge.bases.get(key(c))?.time).toBe(old.written.at(-1)?.time);
    const refusals: unknown[] = [];
    for (let at = START + 17 * MINUTE; at < START + 40 * MINUTE; at += CYCLE) {
      clock.now = at;
      // The old agent still reads and writes every cycle until it is stopped: refused, naming the node.
      await old.cycle(at).catch((err: unknown) => refusals.push(err));
      clock.now = at + 15 * SECOND;
      await surge.cycle(at + 15 * SECOND);
    }
    expect(refusals).toHaveLength(46);
    for (const err of refusals) {
      expect(err).toBeInstanceOf(NodeStaleTermError);
      expect(err).toMatchObject({ node: 'node-a', term: 1, current: 2 });
    }
    await expect(old.writer.release()).rejects.toBeInstanceOf(NodeStaleTermError);
    // Nothing of the old holder is stored after the new one took the node.
    const raw = await rawDocs(client.db(database));
    expect(raw.filter((d) => d.term === 1).length).toBe(old.written.length);
    expect(Math.max(...raw.filter((d) => d.term === 1).map((d) => d.time.getTime()))).toBeLessThan(
      START + 17 * MINUTE,
    );

    const lastStored = lastStoredOf(old, surge);
    const reader = storeOn(database, clock);
    // Mid-stream (open buckets: the tail from the raw readings), then with every bucket closed.
    for (const phase of ['open', 'closed']) {
      if (phase === 'closed') {
        clock.now = START + 3 * HOUR;
        await surge.writer.write([]);
      }
      for (const [a, b] of WINDOWS)
        expectNamespaces(
          await reader.summary({ from: a, to: b, groupBy: { kind: 'namespace' } }),
          truth(NODE_A, lastStored, new Map(), a, b),
        );
    }
    // The day's bucket is still open: the holder writes it when it stops.
    await surge.writer.release();
    await expectRollupsMatchRaw(client.db(database));
  }, 600_000);

  it('counts once a reading the older holder stored in the instant of the claim, in the raw readings and the buckets', async () => {
    const database = newDatabase();
    const clock = { now: START };
    const old = new Holder(storeOn(database, clock).nodeWriter('node-a'), NODE_A);
    await old.take();
    for (let at = START; at < START + 17 * MINUTE; at += CYCLE) {
      clock.now = at;
      await old.cycle(at);
    }
    const surge = new Holder(storeOn(database, clock).nodeWriter('node-a'), NODE_A);
    clock.now = START + 17 * MINUTE + 5 * SECOND;
    expect(await surge.writer.take()).toBe(2);
    // The old holder's write was past its fence check: its readings land after the new holder's
    // claim and recovery (its bucket parts are refused by its check after storing them) ...
    const late = old.readAt(START + 17 * MINUTE + 3 * SECOND);
    await client
      .db(database)
      .collection<SnapshotDoc>('snapshots')
      .insertMany(late.map((r) => toSnapshotDoc(r, 1)));
    old.written.push(...late);
    // ... and before the new holder asked for its bases: it continues from them.
    await surge.loadBases();
    for (const c of NODE_A) expect(surge.bases.get(key(c))?.time).toBe(START + 17 * MINUTE + 3 * SECOND);
    for (let at = START + 17 * MINUTE + 15 * SECOND; at < START + 30 * MINUTE; at += CYCLE) {
      clock.now = at;
      await surge.cycle(at);
    }
    const lastStored = lastStoredOf(old, surge);
    const reader = storeOn(database, clock);
    for (const phase of ['open', 'closed']) {
      if (phase === 'closed') {
        clock.now = START + 3 * HOUR;
        await surge.writer.release();
      }
      for (const [a, b] of WINDOWS)
        expectNamespaces(
          await reader.summary({ from: a, to: b, groupBy: { kind: 'namespace' } }),
          truth(NODE_A, lastStored, new Map(), a, b),
        );
    }
    await expectRollupsMatchRaw(client.db(database));
  }, 600_000);

  it('continues from the stored bases after a holder crashes: nothing counted twice or lost, a new container billed from its start', async () => {
    const database = newDatabase();
    const clock = { now: START };
    const first = new Holder(storeOn(database, clock).nodeWriter('node-a'), NODE_A);
    await first.take();
    // Killed without a word (no release) mid-bucket, at 00:12:37.
    for (let at = START; at <= START + 12 * MINUTE + 30 * SECOND; at += CYCLE) {
      clock.now = at;
      await first.cycle(at);
    }
    const crashedAt = first.written.at(-1)!.time;
    // While the node has no holder, readers still answer exactly what is stored; the node holds
    // every level's watermark where its holder left it.
    clock.now = crashedAt + 50 * SECOND;
    const marks = await levels(database);
    for (const resolution of ROLLUP_RESOLUTIONS) expect(marks[resolution]).toBeLessThanOrEqual(crashedAt);
    const reader = storeOn(database, clock);
    const early = truth(NODE_A, lastStoredOf(first), new Map(), START - HOUR, START + HOUR);
    expectNamespaces(
      await reader.summary({ from: START - HOUR, to: START + HOUR, groupBy: { kind: 'namespace' } }),
      early,
    );
    // A container starts during the failover, after the node's last stored reading.
    const late: Container = {
      namespace: 'ops',
      pod: 'late-1',
      uid: 'u-late-1',
      node: 'node-a',
      start: crashedAt + 20 * SECOND,
      cores: 2,
      bytes: GIB,
    };
    const next = new Holder(storeOn(database, clock).nodeWriter('node-a'), [...NODE_A, late]);
    clock.now = crashedAt + 70 * SECOND;
    expect(await next.take()).toBe(2);
    // Its horizon is the node's newest reading: the new container started after it, so it is
    // billed from its start (the holder reads it with no base).
    expect(await next.writer.lastReadingTime()).toBe(crashedAt);
    expect(next.bases.has(key(late))).toBe(false);
    for (const c of NODE_A) expect(next.bases.get(key(c))?.time).toBe(crashedAt);
    for (let at = crashedAt + 90 * SECOND; at < START + 45 * MINUTE; at += CYCLE) {
      clock.now = at;
      await next.cycle(at);
    }
    const containers = [...NODE_A, late];
    const lastStored = lastStoredOf(first, next);
    for (const phase of ['open', 'closed']) {
      if (phase === 'closed') {
        clock.now = START + 3 * HOUR;
        await next.writer.release();
      }
      for (const [a, b] of WINDOWS)
        expectNamespaces(
          await reader.summary({ from: a, to: b, groupBy: { kind: 'namespace' } }),
          truth(containers, lastStored, new Map(), a, b),
        );
    }
    await expectRollupsMatchRaw(client.db(database));
  }, 600_000);

  it('fences each node on its own: two nodes with different holders and clocks, one failing over', async () => {
    const database = newDatabase();
    const clock = { now: START };
    /** node-b's clock (its kubelet's, and the agent's on it) runs 200 s ahead. */
    const SKEW_B = 200 * SECOND;
    const skew = new Map([['node-b', SKEW_B]]);
    const a = new Holder(storeOn(database, clock).nodeWriter('node-a'), NODE_A);
    const b1 = new Holder(storeOn(database, clock, SKEW_B).nodeWriter('node-b'), NODE_B, SKEW_B);
    expect(await a.take()).toBe(1);
    expect(await b1.take()).toBe(1);
    for (let at = START; at < START + 20 * MINUTE; at += CYCLE) {
      clock.now = at;
      await a.cycle(at);
      await b1.cycle(at + 7 * SECOND);
    }
    // node-b's agent is replaced; node-a's holder never notices.
    const b2 = new Holder(storeOn(database, clock, SKEW_B).nodeWriter('node-b'), NODE_B, SKEW_B);
    clock.now = START + 20 * MINUTE + 3 * SECOND;
    expect(await b2.take()).toBe(2);
    // Each node's horizon is its own newest reading, in its own clock: node-b's is ahead of the
    // test's clock, and node-a's is not moved by it.
    expect(await b2.writer.lastReadingTime()).toBe(b1.written.at(-1)!.time);
    expect(b1.written.at(-1)!.time).toBeGreaterThan(clock.now);
    expect(await a.writer.lastReadingTime()).toBe(a.written.at(-1)!.time);
    for (let at = START + 20 * MINUTE; at < START + 45 * MINUTE; at += CYCLE) {
      clock.now = at;
      await a.cycle(at);
      await expect(b1.cycle(at + 7 * SECOND)).rejects.toMatchObject({ node: 'node-b', term: 1, current: 2 });
      await b2.cycle(at + 11 * SECOND);
    }
    const containers = [...NODE_A, ...NODE_B];
    const lastStored = lastStoredOf(a, b1, b2);
    const reader = storeOn(database, clock);
    for (const phase of ['open', 'closed']) {
      if (phase === 'closed') {
        clock.now = START + 3 * HOUR;
        await a.writer.write([]);
        await b2.writer.write([]);
      }
      for (const [from, to] of WINDOWS)
        expectNamespaces(
          await reader.summary({ from, to, groupBy: { kind: 'namespace' } }),
          truth(containers, lastStored, skew, from, to),
        );
    }
    // The day's bucket is still open: the holders write it when they stop.
    await a.writer.release();
    await b2.writer.release();
    await expectRollupsMatchRaw(client.db(database));
  }, 600_000);

  it('takes each level up to the lowest mark of the held nodes; a retired node holds it back no more', async () => {
    const database = newDatabase();
    const clock = { now: START };
    const a = new Holder(storeOn(database, clock).nodeWriter('node-a'), NODE_A);
    const b = new Holder(storeOn(database, clock).nodeWriter('node-b'), NODE_B);
    await a.take();
    await b.take();
    for (let at = START; at < START + 10 * MINUTE; at += CYCLE) {
      clock.now = at;
      await a.cycle(at);
      await b.cycle(at);
    }
    // node-b's holder dies; node-a's writes on for 40 minutes.
    for (let at = START + 10 * MINUTE; at < START + 50 * MINUTE; at += CYCLE) {
      clock.now = at;
      await a.cycle(at);
    }
    const nodeB = await client.db(database).collection<MetaDoc>('meta').findOne({ _id: 'fence:node-b' });
    const heldBack = await levels(database);
    // The 5-minute level waits where node-b's holder left it (it may hold a bucket open there).
    expect(heldBack['5m']).toBe((nodeB?.marks as Watermarks)['5m']);
    expect(heldBack['5m']).toBeLessThan(START + 10 * MINUTE);
    const containers = [...NODE_A, ...NODE_B];
    const reader = storeOn(database, clock);
    const check = async () => {
      const lastStored = lastStoredOf(a, b);
      for (const [from, to] of WINDOWS)
        expectNamespaces(
          await reader.summary({ from, to, groupBy: { kind: 'namespace' } }),
          truth(containers, lastStored, new Map(), from, to),
        );
    };
    await check();
    // The node is retired (its agent is gone): taken, its open buckets recomputed and written, released.
    const retirer = storeOn(database, clock).nodeWriter('node-b');
    expect(await retirer.take()).toBe(2);
    await retirer.release();
    // A released holder does not take the node back by writing.
    await expect(retirer.write(b.readAt(START + 50 * MINUTE))).rejects.toThrow('not taken');
    const after = await levels(database);
    const nodeA = await client.db(database).collection<MetaDoc>('meta').findOne({ _id: 'fence:node-a' });
    expect(after).toEqual(nodeA?.marks);
    expect(after['5m']).toBe(START - 7 * SECOND + 45 * MINUTE);
    await check();
    // The dead holder wakes up: refused.
    await expect(b.cycle(START + 50 * MINUTE)).rejects.toBeInstanceOf(NodeStaleTermError);
    // Every node released: every bucket is written; the levels are whole up to the furthest mark.
    clock.now = START + 3 * HOUR;
    await a.writer.release();
    const released = await levels(database);
    expect(released).toEqual(after);
    await check();
    await expectRollupsMatchRaw(client.db(database));
  }, 600_000);
});
