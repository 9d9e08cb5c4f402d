/**
 * The store's layout on FerretDB as docs/storage.md describes it: the indexes it creates are the
 * ones the page lists, and two clusters' stores share one server, each in its own database, at
 * once, with the same namespace names, pod names and pod UIDs and different usage: each
 * cluster's chargeback equals its own ground truth and nothing of one shows in the other.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient, type Db } from 'mongodb';
import { silentLogger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import type { ContainerSample } from '../../operator/model.js';
import { COLLECTION_NAMES } from '../../operator/store/connection.js';
import { MongoUsageStore } from '../../operator/store/mongo-store.js';
import { MongoNamespaceData, TOMBSTONE_COLLECTION } from '../../operator/store/namespace-purge.js';
import type { SummaryResult } from '../../operator/store/types.js';
import { StaleTermError } from '../../operator/store/write-path.js';
import { testEnvironment } from '../harness/environment.js';
import { documentedKeys } from '../unit/store/documented-indexes.js';
import { sample } from '../unit/store/fixtures.js';
import { expectRollupsMatchRaw, expectSame, rawDocs } from './store-fixtures.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const GIB = 2 ** 30;
const DAY0 = Date.UTC(2026, 10, 24);
/** Both clusters read from START to END; usage steps at STEP (a reading time of both). */
const START = DAY0 + 7 * SECOND;
const END = START + 40 * MINUTE;
const STEP = START + 20 * MINUTE;

let client: MongoClient;
const databases: string[] = [];

beforeAll(async () => {
  client = await MongoClient.connect(testEnvironment().mongoUri, { serverSelectionTimeoutMS: 10_000 });
});
afterAll(async () => {
  for (const name of databases) await client.db(name).dropDatabase();
  await client.close();
});

/** A cluster's database name, as an admin would give it (`kube_usage_<cluster>`), unique per run. */
function clusterDatabase(cluster: string): string {
  const name = `kube_usage_${cluster}_${randomBytes(3).toString('hex')}`;
  databases.push(name);
  return name;
}

function storeOn(database: string, clock: { now: number }): MongoUsageStore {
  return new MongoUsageStore(
    { uri: testEnvironment().mongoUri, database },
    { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => clock.now } },
  );
}

describe('the layout docs/storage.md describes, on FerretDB', () => {
  it('has exactly the indexes the page lists, in every collection', async () => {
    const database = clusterDatabase('layout');
    const store = storeOn(database, { now: START });
    await store.start();
    // The collections made on first use: a report claimed, a namespace deletion recorded.
    await store.reports.claim('oom/shop/web-1/u1/app/1', START, HOUR);
    const db = client.db(database);
    await new MongoNamespaceData(db).recordDeletion({
      namespace: 'shop',
      uid: 'u-shop',
      deletedAt: new Date(START),
    });
    await store.close();
    const names = [
      COLLECTION_NAMES.snapshots,
      ...Object.values(COLLECTION_NAMES.rollups),
      COLLECTION_NAMES.meta,
      COLLECTION_NAMES.reports,
      TOMBSTONE_COLLECTION,
    ];
    expect((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort()).toEqual(
      [...names].sort(),
    );
    for (const name of names) {
      const created = (await db.collection(name).listIndexes().toArray()).map((i) => JSON.stringify(i.key));
      expect({ name, keys: created.sort() }).toEqual({ name, keys: documentedKeys(name) });
    }
  }, 120_000);
});

/** A cluster: its pods (the same names and UIDs in both) and what each uses. */
interface Cluster {
  name: string;
  /** Reading period, ms (both clusters read at START + k x 60 s). */
  everyMs: number;
  /** Per pod: cores and bytes before and from STEP, and the CPU request (millicores). */
  pods: {
    namespace: string;
    pod: string;
    uid: string;
    cores: [number, number];
    bytes: number;
    request?: number;
  }[];
  /** Leadership terms: the first writes until the middle, the second from there. */
  terms: [number, number];
}

const PODS = [
  { namespace: 'shop', pod: 'web-1', uid: 'u-web-1' },
  { namespace: 'shop', pod: 'web-2', uid: 'u-web-2' },
  { namespace: 'bank', pod: 'db-0', uid: 'u-db-0' },
];

const CLUSTERS: [Cluster, Cluster] = [
  {
    name: 'eu',
    everyMs: 30 * SECOND,
    pods: [
      { ...PODS[0]!, cores: [0.25, 0.5], bytes: 128 * 2 ** 20, request: 400 },
      { ...PODS[1]!, cores: [1.5, 0.1], bytes: 3 * GIB },
      { ...PODS[2]!, cores: [0.05, 2.25], bytes: GIB, request: 1000 },
    ],
    terms: [2, 3],
  },
  {
    name: 'us',
    everyMs: 20 * SECOND,
    pods: [
      { ...PODS[0]!, cores: [3, 1], bytes: 2 * GIB },
      { ...PODS[1]!, cores: [0.2, 0.7], bytes: 256 * 2 ** 20, request: 500 },
      { ...PODS[2]!, cores: [0.75, 0.75], bytes: 5 * GIB },
    ],
    terms: [9, 10],
  },
];

const coresAt = (p: Cluster['pods'][number], t: number) => (t < STEP ? p.cores[0] : p.cores[1]);

/** The readings a collector of the cluster makes: one span from each reading to the next. */
function readingsOf(cluster: Cluster): ContainerSample[] {
  const samples: ContainerSample[] = [];
  for (const p of cluster.pods) {
    for (let from = START; from < END; from += cluster.everyMs) {
      const time = from + cluster.everyMs;
      // Every span lies on one side of STEP (a multiple of both periods from START).
      const cores = coresAt(p, from);
      samples.push(
        sample({
          time,
          from,
          policy: `${p.namespace}/all`,
          namespace: p.namespace,
          pod: p.pod,
          podUid: p.uid,
          container: 'app',
          labels: [{ k: 'cluster', v: cluster.name }],
          cpuMillicores: cores * 1000,
          memoryBytes: p.bytes,
          cpuCoreSeconds: (cores * (time - from)) / SECOND,
          memoryByteSeconds: (p.bytes * (time - from)) / SECOND,
          cpuRequestMillicores: p.request,
          intervalSeconds: cluster.everyMs / SECOND,
        }),
      );
    }
  }
  return samples;
}

interface Truth {
  coreHours: number;
  gibHours: number;
  billed: number;
}

/**
 * The cluster's usage over [a, b) per pod (`namespace/pod`) and per namespace, from its pods'
 * definitions alone: rate x time over the part of [START, END) inside the window.
 */
function truthOf(cluster: Cluster, a: number, b: number, by: 'pod' | 'namespace'): Map<string, Truth> {
  const result = new Map<string, Truth>();
  for (const p of cluster.pods) {
    const group = by === 'pod' ? `${p.namespace}/${p.pod}` : p.namespace;
    const entry = result.get(group) ?? { coreHours: 0, gibHours: 0, billed: 0 };
    for (const [from, to] of [
      [START, STEP],
      [STEP, END],
    ] as const) {
      const seconds = Math.max(0, Math.min(b, to) - Math.max(a, from)) / SECOND;
      const cores = coresAt(p, from);
      entry.coreHours += (cores * seconds) / 3600;
      entry.gibHours += ((p.bytes / GIB) * seconds) / 3600;
      entry.billed += (Math.max(cores, (p.request ?? 0) / 1000) * seconds) / 3600;
    }
    result.set(group, entry);
  }
  return result;
}

function expectTruth(answer: SummaryResult, truth: Map<string, Truth>): void {
  expect(answer.items.map((i) => i.group).sort()).toEqual([...truth.keys()].sort());
  for (const item of answer.items) {
    const t = truth.get(item.group) as Truth;
    expectSame(item.cpuCoreHours, t.coreHours);
    expectSame(item.memoryGiBHours, t.gibHours);
    expectSame(item.cpuCoreHoursBilled, t.billed);
  }
}

/** Windows with arbitrary millisecond edges, one across STEP, one around the whole run. */
const WINDOWS: [number, number][] = [
  [START + 12_345, START + 7 * MINUTE + 1],
  [START + 13 * MINUTE + 31_700, START + 33 * MINUTE + 59_999],
  [DAY0, DAY0 + HOUR],
  [DAY0 - 5.5 * HOUR, DAY0 + 18.5 * HOUR],
];

/** Writes the cluster's readings cycle by cycle, its leadership moving to a new store half-way. */
async function collect(cluster: Cluster, database: string, readings: ContainerSample[]): Promise<void> {
  const clock = { now: START };
  const first = storeOn(database, clock);
  first.beginTerm(cluster.terms[0]);
  // The next leader: its first write, half-way, claims its term.
  const second = storeOn(database, clock);
  second.beginTerm(cluster.terms[1]);
  const middle = START + 20 * MINUTE + cluster.everyMs / 2;
  for (let at = START + cluster.everyMs; at <= END; at += cluster.everyMs) {
    clock.now = at + 2 * SECOND;
    const batch = readings.filter((r) => r.time === at);
    await (at < middle ? first : second).write(batch);
  }
  // The first leader, stale in its own cluster only, is refused there.
  await expect(first.write(readings.slice(-1))).rejects.toBeInstanceOf(StaleTermError);
  await first.close().catch(() => undefined);
  await second.close();
}

async function expectChargeback(cluster: Cluster, database: string, now: number): Promise<void> {
  const reader = storeOn(database, { now });
  for (const [a, b] of WINDOWS) {
    for (const by of ['namespace', 'pod'] as const) {
      const answer = await reader.summary({ from: a, to: b, groupBy: { kind: by } });
      expectTruth(answer, truthOf(cluster, a, b, by));
    }
    // The label each cluster's readings carry: no span of the other cluster is in this one.
    const byLabel = await reader.summary({ from: a, to: b, groupBy: { kind: 'label', key: 'cluster' } });
    expect(byLabel.items.map((i) => i.group)).toEqual([cluster.name]);
  }
  const top = await reader.top({ metric: 'cpu', from: START, to: END, limit: 10 });
  const whole = truthOf(cluster, START, END, 'pod');
  expect(top.items).toHaveLength(cluster.pods.length);
  for (const item of top.items) expectSame(item.usage, whole.get(`${item.namespace}/${item.pod}`)!.coreHours);
  await reader.close();
}

describe('several clusters in one store, on FerretDB', () => {
  it("keeps each cluster's chargeback equal to its own ground truth, written at once with the same names and UIDs", async () => {
    const [eu, us] = CLUSTERS;
    const databaseOf = new Map(CLUSTERS.map((c) => [c, clusterDatabase(c.name)]));
    const readingsByCluster = new Map(CLUSTERS.map((c) => [c, readingsOf(c)]));
    // Both operators write at the same time, each through its own leadership change.
    await Promise.all(CLUSTERS.map((c) => collect(c, databaseOf.get(c)!, readingsByCluster.get(c)!)));

    for (const c of CLUSTERS) {
      const db: Db = client.db(databaseOf.get(c)!);
      // Each database holds its own readings, no other, and its own fence.
      expect(await rawDocs(db)).toHaveLength(readingsByCluster.get(c)!.length);
      expect((await db.collection(COLLECTION_NAMES.meta).findOne({ _id: 'fence' as never }))?.term).toBe(
        c.terms[1],
      );
    }
    // While buckets are open (the tail from the raw readings), and after they closed.
    for (const now of [END + SECOND, END + 2 * HOUR]) {
      for (const c of CLUSTERS) {
        if (now > END + SECOND) {
          const closer = storeOn(databaseOf.get(c)!, { now });
          closer.beginTerm(c.terms[1]);
          await closer.write([]);
          await closer.close();
        }
        await expectChargeback(c, databaseOf.get(c)!, now);
      }
    }
    for (const c of CLUSTERS) await expectRollupsMatchRaw(client.db(databaseOf.get(c)!));

    // A namespace deleted in one cluster is purged there only.
    const purged = await new MongoNamespaceData(client.db(databaseOf.get(eu)!)).purge(
      { namespace: 'shop', through: new Date(END + 3 * HOUR) },
      { batchSize: 1_000, maxBatches: 100 },
    );
    expect(purged.deleted).toBeGreaterThan(0);
    const now = END + 2 * HOUR;
    const euReader = storeOn(databaseOf.get(eu)!, { now });
    const euAfter = await euReader.summary({ from: START, to: END, groupBy: { kind: 'namespace' } });
    await euReader.close();
    expect(euAfter.items.map((i) => i.group)).toEqual(['bank']);
    expectTruth(euAfter, new Map([['bank', truthOf(eu, START, END, 'namespace').get('bank')!]]));
    await expectChargeback(us, databaseOf.get(us)!, now);
  }, 900_000);
});
