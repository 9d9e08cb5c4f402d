/**
 * Crash rebuilds with clocks that disagree, on FerretDB: a kubelet whose clock runs ahead of (or
 * behind) the operator's, and a leader whose own clock ran ahead of the next one's. Leaders are
 * killed without a word (no flush) every few minutes, at the cycle before a bucket boundary; the
 * next leader rebuilds the open buckets from the database. Whatever the skew, every bucket holds
 * exactly its raw readings and the summaries equal the readings' usage.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import { silentLogger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import type { ContainerSample } from '../../operator/model.js';
import { MongoUsageStore } from '../../operator/store/mongo-store.js';
import { testEnvironment } from '../harness/environment.js';
import { sample } from '../unit/store/fixtures.js';
import { expectRollupsMatchRaw, expectSame } from './store-fixtures.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** The run: 50 minutes from 00:00:07 UTC, a cycle every 30 s. */
const START = Date.UTC(2026, 10, 23) + 7 * SECOND;
const END = START + 50 * MINUTE;
const CYCLE = 30 * SECOND;

let client: MongoClient;
const databases: string[] = [];

beforeAll(async () => {
  client = await MongoClient.connect(testEnvironment().mongoUri, { serverSelectionTimeoutMS: 10_000 });
});
afterAll(async () => {
  for (const name of databases) await client.db(name).dropDatabase();
  await client.close();
});

/** A store process whose clock is the test's plus `offsetMs` (its own clock's error). */
function storeOn(database: string, clock: { now: number }, offsetMs = 0) {
  return new MongoUsageStore(
    { uri: testEnvironment().mongoUri, database },
    { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => clock.now + offsetMs } },
  );
}

/** Two containers: `on-time` on a node with the right time, `skewed` on a node `skewMs` off. */
const CONTAINERS = [
  { pod: 'on-time', uid: 'u-on-time', node: 'node-a', cores: 0.5, bytes: 2 ** 30 },
  { pod: 'skewed', uid: 'u-skewed', node: 'node-b', cores: 0.25, bytes: 2 ** 29 },
] as const;

/** The readings a cycle at `at` takes: the kubelet's timestamps, each span from the series' previous reading. */
function readingsAt(at: number, skewMs: number, previous: Map<string, number>): ContainerSample[] {
  return CONTAINERS.map((c) => {
    const time = at - SECOND + (c.pod === 'skewed' ? skewMs : 0);
    const from = previous.get(c.uid) ?? time - CYCLE;
    previous.set(c.uid, time);
    return sample({
      time,
      from,
      pod: c.pod,
      podUid: c.uid,
      node: c.node,
      cpuMillicores: c.cores * 1000,
      memoryBytes: c.bytes,
      cpuCoreSeconds: (c.cores * (time - from)) / SECOND,
      memoryByteSeconds: (c.bytes * (time - from)) / SECOND,
      cpuCoreSecondsTotal: (c.cores * (time - START)) / SECOND,
    });
  });
}

/** Core-hours of a pod's readings over [a, b), each span pro-rated to its overlap: the plain way. */
function coreHours(readings: readonly ContainerSample[], pod: string, a: number, b: number): number {
  let total = 0;
  for (const r of readings) {
    if (r.pod !== pod) continue;
    const from = r.from as number;
    const overlap = Math.max(0, Math.min(b, r.time) - Math.max(a, from));
    total += ((r.cpuCoreSeconds as number) * overlap) / (r.time - from);
  }
  return total / 3600;
}

const CASES = [
  { name: 'a kubelet 200 s ahead', kubeletSkewMs: 200 * SECOND, leaderClocks: [0] },
  { name: 'a kubelet 200 s behind', kubeletSkewMs: -200 * SECOND, leaderClocks: [0] },
  {
    name: 'leaders whose clocks alternate 200 s ahead and right',
    kubeletSkewMs: 0,
    leaderClocks: [200 * SECOND, 0],
  },
];

describe('crash rebuilds with skewed clocks on FerretDB', () => {
  it.each(CASES)(
    'bills exactly what was read with $name',
    async ({ kubeletSkewMs, leaderClocks }) => {
      const database = `skew_${randomBytes(4).toString('hex')}`;
      databases.push(database);
      const clock = { now: START };
      const previous = new Map<string, number>();
      const readings: ContainerSample[] = [];
      let term = 1;
      const stores: MongoUsageStore[] = [];
      const leaderOf = (t: number) => {
        const store = storeOn(database, clock, leaderClocks[(t - 1) % leaderClocks.length]);
        stores.push(store);
        store.beginTerm(t);
        return store;
      };
      let leader = leaderOf(term);
      try {
        for (let at = START; at <= END; at += CYCLE) {
          clock.now = at;
          const batch = readingsAt(at, kubeletSkewMs, previous);
          readings.push(...batch);
          await leader.write(batch);
          // Killed (no flush) at the two cycles before every 5-minute boundary: the next leader
          // rebuilds the open buckets, and is killed in its turn before it closes them.
          const toBoundary = 5 * MINUTE - (at % (5 * MINUTE));
          if (toBoundary <= 2 * CYCLE && at + CYCLE <= END) leader = leaderOf(++term);
        }
        // Long after: every bucket is closed and written.
        clock.now = END + 2 * HOUR;
        await leader.write([]);
        for (const [a, b] of [
          [START, END + HOUR],
          [START + 4 * MINUTE + 12_345, START + 27 * MINUTE + 1],
          [START + 33 * MINUTE, START + 44 * MINUTE + 999],
        ] as const) {
          const answer = await leader.summary({ from: a, to: b, groupBy: { kind: 'pod' } });
          for (const c of CONTAINERS) {
            expect(answer.items.map((e) => e.group)).toContain(`shop/${c.pod}`);
            const entry = answer.items.find((e) => e.group === `shop/${c.pod}`);
            expectSame(entry?.cpuCoreHours ?? 0, coreHours(readings, c.pod, a, b));
          }
        }
      } finally {
        // The killed leaders' last words (their flush) are refused: a later term wrote.
        for (const store of stores) await store.close();
      }
      await expectRollupsMatchRaw(client.db(database));
    },
    300_000,
  );

  it("takes what the store accounts up to from readings not ahead of the new leader's clock", async () => {
    const database = `skew_${randomBytes(4).toString('hex')}`;
    databases.push(database);
    const clock = { now: START };
    const previous = new Map<string, number>();
    const leader = storeOn(database, clock);
    leader.beginTerm(1);
    const standby = storeOn(database, clock);
    const written: ContainerSample[] = [];
    try {
      for (let at = START; at <= START + 5 * MINUTE; at += CYCLE) {
        clock.now = at;
        const batch = readingsAt(at, 200 * SECOND, previous);
        written.push(...batch);
        await leader.write(batch);
      }
      // The leader dies; the standby takes over a cycle later. The skewed node's newest readings
      // are stamped up to 200 s ahead of it: what the store accounts up to is the newest reading
      // stamped at or before the new leader's clock, never a time still to come.
      clock.now = START + 5 * MINUTE + CYCLE;
      standby.beginTerm(2);
      const newest = Math.max(...written.map((r) => r.time));
      expect(newest).toBeGreaterThan(clock.now);
      expect(await standby.lastReadingTime()).toBe(
        Math.max(...written.filter((r) => r.time <= clock.now).map((r) => r.time)),
      );
    } finally {
      await leader.close();
      await standby.close();
    }
  });
});
