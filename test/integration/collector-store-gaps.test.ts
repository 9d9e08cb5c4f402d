/**
 * The collector's series cursors and the store together, off the happy path, on FerretDB: the
 * real PolicyCollector (sampler, cursors, seeding) writing every cycle to the real MongoUsageStore,
 * against a simulated kubelet with known constant usage and a fake clock. A node that cannot be
 * read for 10 minutes (with a leadership change in the middle of it), a new pod that the kubelet's
 * stats list only a minute after it started, and a counter reading 45 core-seconds low: chargeback
 * must equal usage x time, computed here the plain way, and the outage's unread memory must show
 * in the memory coverage.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import {
  PolicyCollector,
  type CollectionTarget,
  type NodeUsageSource,
} from '../../operator/collector/collector.js';
import type { PodInfo, PodLister } from '../../operator/collector/pod-cache.js';
import { silentLogger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { MongoUsageStore } from '../../operator/store/mongo-store.js';
import type { PodLookup } from '../../operator/sources/pod-lookup.js';
import type { ContainerReading, ReadingBatch } from '../../operator/sources/readings.js';
import { testEnvironment } from '../harness/environment.js';
import { expectSame } from './store-fixtures.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const T0 = Date.UTC(2026, 10, 24, 9, 0, 0);
const END = T0 + 30 * MINUTE;
const STEP = 15 * SECOND;
const GIB = 2 ** 30;

interface Sim {
  /** `shop` unless given. */
  namespace?: string;
  pod: string;
  node: string;
  cores: number;
  bytes: number;
  start: number;
  /** The kubelet's stats list the container from this time on. */
  listedFrom?: number;
  /** The counter the kubelet shows at `t` instead of the true one. */
  glitch?: (t: number) => number | undefined;
}

const OUTAGE = { node: 'node-2', from: T0 + 5 * MINUTE, to: T0 + 15 * MINUTE };
const FRESH_START = T0 + 3 * MINUTE + 7 * SECOND;
const GLITCH_AT = T0 + 20 * MINUTE;
const sims: Sim[] = [
  // In a namespace of its own: a summary of it has this container's coverage alone.
  { namespace: 'edge', pod: 'web', node: 'node-2', cores: 1, bytes: GIB, start: T0 - 86_400_000 },
  {
    pod: 'fresh',
    node: 'node-1',
    cores: 2,
    bytes: GIB / 2,
    start: FRESH_START,
    listedFrom: FRESH_START + MINUTE,
  },
  {
    pod: 'glitchy',
    node: 'node-1',
    cores: 2,
    bytes: GIB,
    start: T0 - 30 * 86_400_000,
    glitch: (t) => (t === GLITCH_AT ? (2 * (t - (T0 - 30 * 86_400_000))) / 1000 - 45 : undefined),
  },
];

const clock = { now: T0 };
const namespaceOf = (s: Sim) => s.namespace ?? 'shop';

class Pods implements PodLister {
  list(namespace?: string): PodInfo[] {
    return sims
      .filter((s) => s.start <= clock.now && (namespace === undefined || namespaceOf(s) === namespace))
      .map((s) => ({
        namespace: namespaceOf(s),
        name: s.pod,
        uid: `uid-${s.pod}`,
        node: s.node,
        labels: { app: 'web' },
        phase: 'Running',
        startTime: s.start,
        containers: [{ name: 'app', startedAt: s.start }],
      }));
  }
}

/** Counters as of the last 15 s refresh; OUTAGE.node times out during the outage. */
class Kubelet implements NodeUsageSource {
  async read(request: { pods: PodLookup; nodes?: Iterable<string> }): Promise<ReadingBatch> {
    const t = Math.floor(clock.now / STEP) * STEP;
    const down = (node: string) => node === OUTAGE.node && t > OUTAGE.from && t < OUTAGE.to;
    const nodes = [...(request.nodes ?? [])];
    const readings: ContainerReading[] = [];
    for (const s of sims) {
      if (s.start > t || (s.listedFrom ?? -Infinity) > t || down(s.node)) continue;
      readings.push({
        namespace: namespaceOf(s),
        pod: s.pod,
        podUid: `uid-${s.pod}`,
        container: 'app',
        node: s.node,
        startTime: s.start,
        cpu: {
          kind: 'counter',
          coreSecondsTotal: s.glitch?.(t) ?? (s.cores * (t - s.start)) / 1000,
          time: t,
        },
        memoryWorkingSetBytes: { value: s.bytes, time: t },
      });
    }
    return {
      source: 'kubelet',
      readings,
      nodeCpuCores: new Map(nodes.map((node) => [node, 4])),
      unreadableNodes: nodes.filter(down).map((node) => ({ node, reason: 'timeout' })),
    };
  }
}

let client: MongoClient;
let database: string;

beforeAll(async () => {
  client = await MongoClient.connect(testEnvironment().mongoUri, { serverSelectionTimeoutMS: 10_000 });
  database = `gaps_${randomBytes(4).toString('hex')}`;
});
afterAll(async () => {
  await client.db(database).dropDatabase();
  await client.close();
});

function leader(term: number) {
  const store = new MongoUsageStore(
    { uri: testEnvironment().mongoUri, database },
    { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => clock.now } },
  );
  store.beginTerm(term);
  const collector = new PolicyCollector({
    source: { listPodMetrics: async () => ({ available: false, reason: 'not served' }) },
    kubelet: new Kubelet(),
    seriesBases: store,
    pods: new Pods(),
    sinks: [{ onCycle: async (cycle) => void (await store.write(cycle.samples)) }],
    clock: { now: () => clock.now },
    logger: silentLogger(),
    metrics: new OperatorMetrics(),
  });
  collector.beginTerm();
  return { store, collector };
}

const policy: CollectionTarget = {
  policy: 'shop/web',
  intervalSeconds: 15,
  namespaces: ['shop', 'edge'],
  selector: { matchLabels: { app: 'web' } },
};

describe('chargeback off the happy path (collector and store on FerretDB)', () => {
  it('bills usage x time across a node outage with a failover in it, a pod late in the stats, and a counter glitch', async () => {
    // The first leader collects every 15 s up to the middle of the outage, then stops without a
    // word; the next one (term 2) takes over 30 s later.
    const first = leader(1);
    for (clock.now = T0; clock.now <= T0 + 10 * MINUTE; clock.now += STEP)
      await first.collector.collect(policy);
    await first.store.close();
    const second = leader(2);
    for (clock.now = T0 + 10 * MINUTE + 30 * SECOND; clock.now <= END; clock.now += STEP)
      await second.collector.collect(policy);
    clock.now = END + 1;

    const window = { from: T0, to: END, groupBy: { kind: 'pod' as const } };
    const answer = await second.store.summary(window);
    const entry = (pod: string) =>
      answer.items.find((e) => e.group === `${namespaceOf(sims.find((s) => s.pod === pod)!)}/${pod}`)!;
    const hours = (ms: number) => ms / 3_600_000;
    // web: the counter difference after the outage covers it whole; its working set is unknown
    // over the span from the last reading before the outage to the first after it.
    expectSame(entry('web').cpuCoreHours, 1 * hours(END - T0));
    expectSame(entry('web').memoryGiBHours, hours(END - T0 - (OUTAGE.to - OUTAGE.from)));
    // Its coverage says so: CPU measured over the whole window, memory short by the unread span.
    const web = await second.store.summary({ ...window, namespaces: ['edge'] });
    expect(web.coverage).toEqual({
      windowMs: END - T0,
      coveredMs: END - T0,
      ratio: 1,
      memoryCoveredMs: END - T0 - (OUTAGE.to - OUTAGE.from),
      memoryRatio: (END - T0 - (OUTAGE.to - OUTAGE.from)) / (END - T0),
      proratedMs: 0,
    });
    // fresh: billed from its start, though its first cycles found no reading of it.
    expectSame(entry('fresh').cpuCoreHours, 2 * hours(END - FRESH_START));
    // glitchy: the low reading is skipped; nothing more than the node's CPU is billed, nothing lost.
    expectSame(entry('glitchy').cpuCoreHours, 2 * hours(END - T0));
    // The first minute of the outage, alone: its CPU is there.
    const minute = await second.store.summary({
      from: OUTAGE.from + MINUTE,
      to: OUTAGE.from + 2 * MINUTE,
      groupBy: { kind: 'pod' },
    });
    expectSame(minute.items.find((e) => e.group === 'edge/web')!.cpuCoreHours, hours(MINUTE));
    await second.store.close();
  });
});
