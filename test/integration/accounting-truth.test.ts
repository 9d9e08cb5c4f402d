/**
 * Chargeback against its ground truth, end to end through the real pieces: kwok pods with known constant
 * usage in three namespaces (some started and some deleted mid-run), two overlapping admin
 * UsagePolicies at 10 s and 30 s plus a namespaced one at 20 s (one container is selected by
 * all three), two operator processes electing a leader on a Lease, FerretDB, the leader killed
 * with SIGKILL while it writes a cycle, and a pod created while no leader runs (after the killed
 * leader's last stored reading, before its successor's term: billed from its start; see
 * docs/accounting.md, "Containers started during a failover"). Per-namespace core-hours and
 * GiB-hours of /api/v1/usage/summary over windows with millisecond edges (one spanning the
 * failover) must equal the truth within 0.1%, and both live replicas must answer the same.
 *
 * The truth is computed without the operator:
 * - CPU: kwok's counter of a container is its rate x the time since kwok first evaluated it
 *   (kwok integrates from its first evaluation, whoever asks). The test reads every node's
 *   /metrics/resource itself each second and derives that origin from the counter; the rate
 *   is the annotation's.
 * - Memory: the annotation's constant working set x the time the container ran (from its
 *   status' start time).
 * - The period a container is measured over: from its start (pods created mid-run, and the one
 *   created during the failover) or from collection's first reading (pods that were there
 *   before), to its last reading before it was deleted (the usage after the last reading of a
 *   deleted container cannot be known; docs/collection.md). That last reading's time is the
 *   only figure taken from the store.
 *
 * The one uncertainty: kwok writes no timestamps on /metrics/resource, so a reading is stamped
 * with the time its request was sent, and kwok evaluates the counter later, while the request is
 * in flight (a few ms; hundreds on a loaded machine). The test measures that lag for every stored
 * reading (its counter / rate + the origin - its time; the origin's own uncertainty cancels
 * between two readings of one container) and prints it. The operator splits a span at a window
 * edge in proportion to time, so at each edge a container's counter is off by rate x a lag
 * between those of the two readings around the edge: a window's CPU may differ from the truth by
 * rate x (the largest - the smallest of those lags at its two edges), summed over its containers,
 * besides the 0.1% (a real kubelet stamps its own readings). Memory has no such uncertainty and
 * must be exact to rounding.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient, type Collection } from 'mongodb';
import { DEFAULT_TOKEN_AUDIENCE } from '../../operator/config.js';
import {
  apply,
  conditionOf,
  coreApi,
  createPod,
  deleteNamespace,
  getObject,
  kubectlOk,
  listPods,
  newNamespace,
  SIMULATED_NODES,
  testEnvironment,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { KubeletRecorder } from '../harness/kubelet-recorder.js';
import { spawnOperator, type OperatorProcess } from '../harness/operator.js';
import { overlap } from '../harness/usage-truth.js';

const MI = 2 ** 20;
const GI = 2 ** 30;
/** The accuracy the design allows end to end (0.1%). */
const TOLERANCE = 1e-3;
/**
 * Memory has no uncertainty at all here (a constant gauge over spans whose ends are the readings'
 * own times): it must be exact to floating-point rounding.
 */
const MEMORY_TOLERANCE = 1e-9;

type Ns = 'a' | 'b' | 'c';
interface ContainerPlan {
  name: string;
  cpu: string;
  cores: number;
  memory: string;
  bytes: number;
}
interface PodPlan {
  ns: Ns;
  name: string;
  node: string;
  /** Selected by the 10 s admin policy, the 30 s admin policy, the 20 s policy of namespace a. */
  fast?: boolean;
  slow?: boolean;
  third?: boolean;
  containers: ContainerPlan[];
  late?: boolean;
  /** Created while no leader runs: after the killed leader's last reading, before the next term. */
  gap?: boolean;
  deleted?: boolean;
}

const c = (name: string, cpuMilli: number, memoryMi: number): ContainerPlan => ({
  name,
  cpu: `${cpuMilli}m`,
  cores: cpuMilli / 1000,
  memory: `${memoryMi}Mi`,
  bytes: memoryMi * MI,
});
const [NODE0, NODE1] = SIMULATED_NODES as [string, string];

const PLAN: PodPlan[] = [
  // a1 (three policies) and b1 (one policy) use the same: they must bill the same.
  { ns: 'a', name: 'a1', node: NODE0, fast: true, slow: true, third: true, containers: [c('app', 250, 128)] },
  { ns: 'a', name: 'a2', node: NODE1, fast: true, deleted: true, containers: [c('app', 500, 256)] },
  { ns: 'a', name: 'a3', node: NODE1, slow: true, containers: [c('app', 400, 200), c('side', 100, 50)] },
  { ns: 'b', name: 'b1', node: NODE1, fast: true, containers: [c('app', 250, 128)] },
  { ns: 'b', name: 'b2', node: NODE0, fast: true, slow: true, containers: [c('app', 700, 512)] },
  { ns: 'b', name: 'b3', node: NODE1, fast: true, slow: true, late: true, containers: [c('app', 350, 96)] },
  { ns: 'c', name: 'c1', node: NODE0, fast: true, slow: true, containers: [c('app', 150, 32)] },
  { ns: 'c', name: 'c2', node: NODE1, slow: true, deleted: true, containers: [c('app', 1000, 1024)] },
  { ns: 'c', name: 'c3', node: NODE0, fast: true, late: true, containers: [c('app', 600, 300)] },
  { ns: 'b', name: 'b4', node: NODE0, fast: true, slow: true, gap: true, containers: [c('app', 300, 160)] },
];

interface SnapshotView {
  podUid: string;
  container: string;
  time: Date;
  from?: Date;
  cpuCoreSecondsTotal?: number;
}

interface SummaryItem {
  group: string;
  cpuCoreHours: number;
  cpuCoreHoursBilled: number;
  memoryGiBHours: number;
  memoryGiBHoursBilled: number;
  containers: number;
}
interface SummaryBody {
  from: string;
  to: string;
  coverage: { windowMs: number; coveredMs: number; ratio: number };
  items: SummaryItem[];
}

/** An instant as RFC 3339 with milliseconds, in the given offset (minutes east of UTC). */
function rfc3339(ms: number, offsetMinutes = 0): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 23);
  if (offsetMinutes === 0) return `${local}Z`;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

const LEASE_ARGS = [
  '--leader-elect-lease-duration',
  '6s',
  '--leader-elect-renew-deadline',
  '4s',
  '--leader-elect-retry-period',
  '1s',
];

describe('exact accounting against the ground truth, across pod churn and a SIGKILLed leader', () => {
  let operatorNamespace: string;
  const ns = {} as Record<Ns, string>;
  const tokens = {} as Record<Ns, string>;
  const database = uniqueName('truth');
  const processes: OperatorProcess[] = [];
  let mongo: MongoClient;
  let snapshots: Collection<SnapshotView>;
  let recorder: KubeletRecorder | undefined;

  const lease = () =>
    getObject<{ spec?: { holderIdentity?: string } }>('lease', operatorNamespace, 'kube-usage-operator');
  const start = (identity: string) => {
    const p = spawnOperator({
      namespace: operatorNamespace,
      database,
      identity,
      leaderElection: true,
      args: LEASE_ARGS,
    });
    processes.push(p);
    return p;
  };
  const urlOf = (p: OperatorProcess) =>
    waitFor(
      'the operator to serve',
      () => p.logs.find((l) => l.message === 'operator started')?.url as string | undefined,
      { timeoutMs: 90_000 },
    );

  beforeAll(async () => {
    mongo = await MongoClient.connect(testEnvironment().mongoUri);
    snapshots = mongo.db(database).collection<SnapshotView>('snapshots');
    operatorNamespace = await newNamespace('kuo-system');
    for (const key of ['a', 'b', 'c'] as const) ns[key] = await newNamespace(`truth-${key}`);
    for (const key of ['a', 'b', 'c'] as const) {
      const sa = 'reader';
      await coreApi().createNamespacedServiceAccount({
        namespace: ns[key],
        body: { metadata: { name: sa } },
      });
      await kubectlOk([
        '-n',
        ns[key],
        'create',
        'rolebinding',
        'reader-view',
        '--clusterrole=view',
        `--serviceaccount=${ns[key]}:${sa}`,
      ]);
      tokens[key] = (
        await kubectlOk(['-n', ns[key], 'create', 'token', sa, '--audience', DEFAULT_TOKEN_AUDIENCE])
      ).trim();
    }
  });

  afterAll(async () => {
    recorder?.stop();
    await Promise.all(processes.map((p) => p.kill()));
    await mongo
      ?.db(database)
      .dropDatabase()
      .catch(() => undefined);
    await mongo?.close();
    for (const key of ['a', 'b', 'c'] as const) if (ns[key]) await deleteNamespace(ns[key]);
    await deleteNamespace(operatorNamespace);
  });

  async function createPlanned(pod: PodPlan): Promise<void> {
    const labels: Record<string, string> = { pod: pod.name };
    if (pod.fast) labels.fast = 'yes';
    if (pod.slow) labels.slow = 'yes';
    await createPod(ns[pod.ns], {
      name: pod.name,
      labels,
      node: pod.node,
      containers: pod.containers.map((x) => ({ name: x.name, usage: { cpu: x.cpu, memory: x.memory } })),
    });
  }

  /** Start time of each container from its status, ms (whole seconds, as the collector sees it). */
  async function startTimes(pod: PodPlan): Promise<Map<string, number>> {
    return waitFor(`${pod.name} running`, async () => {
      const found = (await listPods(ns[pod.ns])).find((p) => p.metadata?.name === pod.name);
      if (found?.status?.phase !== 'Running') return undefined;
      const out = new Map<string, number>();
      for (const s of found.status.containerStatuses ?? []) {
        const at = s.state?.running?.startedAt ?? found.status.startTime;
        if (at === undefined) return undefined;
        out.set(s.name, new Date(at).getTime());
      }
      return out.size === pod.containers.length ? out : undefined;
    });
  }

  async function uidOf(pod: PodPlan): Promise<string> {
    const found = (await listPods(ns[pod.ns])).find((p) => p.metadata?.name === pod.name);
    return found!.metadata!.uid!;
  }

  /** The readings the store has of a series (counter readings only). */
  const readings = (podUid: string, container: string) =>
    snapshots
      .find(
        { podUid, container, cpuCoreSecondsTotal: { $exists: true } },
        { projection: { time: 1, from: 1, cpuCoreSecondsTotal: 1 } },
      )
      .sort({ time: 1 })
      .toArray();

  async function summary(url: string, key: Ns, from: number, to: number, offset = 0, groupBy = 'namespace') {
    const query = new URLSearchParams({
      namespace: ns[key],
      groupBy,
      from: rfc3339(from, offset),
      to: rfc3339(to, offset),
    });
    const response = await fetch(`${url}/api/v1/usage/summary?${query}`, {
      headers: { authorization: `Bearer ${tokens[key]}` },
    });
    const body = (await response.json()) as SummaryBody;
    if (response.status !== 200) throw new Error(`summary: ${response.status} ${JSON.stringify(body)}`);
    return body;
  }

  it('bills every namespace its exact usage over arbitrary windows, through churn and a failover', async () => {
    const startedAt = Date.now();
    const initial = PLAN.filter((p) => !p.late && !p.gap);
    for (const pod of initial) await createPlanned(pod);
    for (const pod of initial) await startTimes(pod);
    recorder = new KubeletRecorder(new Set(Object.values(ns)));
    await recorder.start();

    await apply(
      `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: fast}
spec:
  selector: {matchLabels: {fast: "yes"}}
  namespaceSelector: {matchNames: [${ns.a}, ${ns.b}, ${ns.c}]}
  interval: 10s
---
apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: slow}
spec:
  selector: {matchLabels: {slow: "yes"}}
  namespaceSelector: {matchNames: [${ns.a}, ${ns.b}, ${ns.c}]}
  interval: 30s
`,
      operatorNamespace,
    );
    await apply(
      `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: third}
spec: {selector: {matchLabels: {pod: a1}}, interval: 20s}
`,
      ns.a,
    );

    const a = start('replica-a');
    await waitFor('replica-a leads', async () => (await lease())?.spec?.holderIdentity === 'replica-a', {
      timeoutMs: 90_000,
    });
    const b = start('replica-b');
    const [urlA, urlB] = [await urlOf(a), await urlOf(b)];

    for (const [namespace, name] of [
      [operatorNamespace, 'fast'],
      [operatorNamespace, 'slow'],
      [ns.a, 'third'],
    ] as const) {
      await waitFor(
        `policy ${name} Ready on the kubelet source`,
        async () => {
          const p = await getObject<{ status?: { metricsSource?: string } }>('usagepolicy', namespace, name);
          return conditionOf(p, 'Ready')?.status === 'True' && p?.status?.metricsSource === 'kubelet';
        },
        { timeoutMs: 90_000 },
      );
    }

    // Every container of the initial pods has a first (base) reading: billing starts there.
    const series = new Map<string, { pod: PodPlan; container: ContainerPlan; uid: string }>();
    for (const pod of initial)
      for (const container of pod.containers)
        series.set(`${pod.name}/${container.name}`, { pod, container, uid: await uidOf(pod) });
    const t0 = await waitFor(
      'a first reading of every initial container',
      async () => {
        let latestFirst = 0;
        for (const { uid, container } of series.values()) {
          const first = (await readings(uid, container.name))[0];
          if (!first) return undefined;
          latestFirst = Math.max(latestFirst, first.time.getTime());
        }
        return latestFirst;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );

    // Pods started mid-run (and during the failover), billed from their start.
    const starts = new Map<string, number>();
    const startPlanned = async (pods: PodPlan[]) => {
      for (const pod of pods) await createPlanned(pod);
      for (const pod of pods) {
        const times = await startTimes(pod);
        for (const container of pod.containers) {
          starts.set(`${pod.name}/${container.name}`, times.get(container.name)!);
          series.set(`${pod.name}/${container.name}`, { pod, container, uid: await uidOf(pod) });
        }
      }
    };
    const untilT0 = async (offsetMs: number) =>
      waitFor(`T0 + ${offsetMs} ms`, () => Date.now() >= t0 + offsetMs, { timeoutMs: offsetMs + 60_000 });
    /**
     * The latest first reading of the pods' containers: the first span [start, first reading]
     * is pro-rated by time while kwok's counter starts at its origin, so the windows' edges keep
     * out of it (edges after the pods start are placed after this).
     */
    const firstReadingOf = (pods: PodPlan[]) =>
      waitFor(
        `a first reading of every container of ${pods.map((p) => p.name).join(', ')}`,
        async () => {
          let latest = 0;
          for (const pod of pods)
            for (const container of pod.containers) {
              const { uid } = series.get(`${pod.name}/${container.name}`)!;
              const first = (await readings(uid, container.name))[0];
              if (!first) return undefined;
              latest = Math.max(latest, first.time.getTime());
            }
          return latest;
        },
        { timeoutMs: 90_000, intervalMs: 1000 },
      );
    await untilT0(62_000);
    await startPlanned(PLAN.filter((p) => p.late));
    const lateFirst = await firstReadingOf(PLAN.filter((p) => p.late));
    const deletionsFrom = Math.max(t0 + 82_123, lateFirst + 123);

    // Pods deleted mid-run: billed to their last reading.
    await untilT0(Math.max(85_000, deletionsFrom + 2_877 - t0));
    /** When each deletion was sent: kwok and the operator see it some time after. */
    const deleteSentAt = new Map<string, number>();
    for (const pod of PLAN.filter((p) => p.deleted)) {
      deleteSentAt.set(pod.name, Date.now());
      await coreApi().deleteNamespacedPod({ name: pod.name, namespace: ns[pod.ns], gracePeriodSeconds: 0 });
    }

    // Before the failover: both replicas answer the same, and the truth.
    // (The windows' edges keep out of the first spans of the pods started mid-run: checked below.)
    const checks: { label: string; from: number; to: number; offset: number }[] = [];
    checks.push({ label: 'before the failover', from: t0 + 1_517, to: t0 + 60_093, offset: 0 });

    // SIGKILL the leader while it writes a cycle: the moment a reading of a new cycle is stored.
    await untilT0(Math.max(100_000, lateFirst + 17_789 - t0));
    const latestTime = async () =>
      (
        await snapshots
          .find({}, { projection: { time: 1 } })
          .sort({ time: -1 })
          .limit(1)
          .toArray()
      )[0]?.time.getTime() ?? 0;
    await waitFor(
      'the readings of the cycles before the kill',
      async () => {
        const expected = checks[0]!.to;
        for (const { uid, container, pod } of series.values()) {
          if (pod.late || pod.deleted) continue;
          const last = (await readings(uid, container.name)).at(-1);
          if (!last || last.time.getTime() <= expected) return undefined;
        }
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    const beforeKill = await Promise.all(
      (['a', 'b', 'c'] as const).map(async (key) => [
        await summary(urlA, key, checks[0]!.from, checks[0]!.to),
        await summary(urlB, key, checks[0]!.from, checks[0]!.to),
      ]),
    );
    for (const [fromA, fromB] of beforeKill) expect(fromB).toEqual(fromA);
    const seen = await latestTime();
    await waitFor('a new cycle being written', async () => (await latestTime()) > seen, {
      timeoutMs: 40_000,
      intervalMs: 20,
    });
    // While no leader runs, a pod is created. replica-b is held (SIGSTOP) until that pod runs, so
    // that it starts before the next term however slow the machine; then it takes the expired lease.
    b.child.kill('SIGSTOP');
    await a.kill();
    const killedAt = Date.now();
    const gapPods = PLAN.filter((p) => p.gap);
    try {
      await startPlanned(gapPods);
    } finally {
      b.child.kill('SIGCONT');
    }
    await waitFor('replica-b leads', async () => (await lease())?.spec?.holderIdentity === 'replica-b', {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    // The pod of the failover started after the killed leader's last stored reading and before
    // replica-b's term began, which continued after that reading (docs/accounting.md).
    const killedTerm = a.logs.find((l) => l.message === 'became leader')!.fencingToken as number;
    const killedLast = (
      await snapshots
        .find({ term: killedTerm } as object, { projection: { time: 1 } })
        .sort({ time: -1 })
        .limit(1)
        .toArray()
    )[0]!.time.getTime();
    const continued = await waitFor(
      'replica-b to look up what the store accounts up to',
      () => b.logs.find((l) => l.message === "collection continues after the store's newest reading"),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(new Date(continued.lastReadingTime as string).getTime()).toBe(killedLast);
    const becameLeader = b.logs.find((l) => l.message === 'became leader')!;
    for (const pod of gapPods)
      for (const container of pod.containers) {
        const started = starts.get(`${pod.name}/${container.name}`)!;
        expect(started).toBeGreaterThanOrEqual(Math.floor(killedLast / 1000) * 1000);
        expect(started).toBeLessThan(new Date(becameLeader.timestamp as string).getTime());
      }
    // A second live replica again, as a standby, to compare with the new leader.
    const replicaC = start('replica-c');
    const urlC = await urlOf(replicaC);

    // Collection goes on for a while under the new leader (the edges after the failover also
    // after the first reading of the pod it started).
    const gapFirst = await firstReadingOf(gapPods);
    const later = Math.max(0, gapFirst + 1 - (killedAt + 44_451));
    const end = killedAt + 65_000 + later;
    checks.push(
      { label: 'the whole run', from: t0 + 3_217, to: end - 4_561, offset: 0 },
      { label: 'across the failover', from: killedAt - 17_789, to: killedAt + 44_451 + later, offset: 330 },
      { label: 'deletions, failover', from: deletionsFrom, to: killedAt + 47_891 + later, offset: -420 },
    );
    const lastEdge = Math.max(...checks.map((x) => x.to));
    await waitFor(
      'readings of every live container after the last window edge',
      async () => {
        for (const { uid, container, pod } of series.values()) {
          if (pod.deleted) continue;
          const last = (await readings(uid, container.name)).at(-1);
          if (!last || last.time.getTime() <= lastEdge) return undefined;
        }
        return true;
      },
      { timeoutMs: 150_000, intervalMs: 2_000 },
    );
    recorder.stop();

    // Both leadership terms wrote readings: the killed leader's and its successor's.
    const terms = new Set(
      (
        await mongo
          .db(database)
          .collection<{ term?: number }>('snapshots')
          .find({}, { projection: { term: 1 } })
          .toArray()
      ).map((d) => d.term),
    );
    expect(terms.size).toBeGreaterThanOrEqual(2);

    // The measured period of each container.
    const period = new Map<
      string,
      { cpuFrom: number; cpuFromUncertaintyMs: number; memoryFrom: number; to: number }
    >();
    const edges = checks.flatMap((x) => [x.from, x.to]);
    for (const [key, { pod, container, uid }] of series) {
      const stored = await readings(uid, container.name);
      let cpuFrom = -Infinity;
      let cpuFromUncertaintyMs = 0;
      let memoryFrom = -Infinity;
      if (pod.late || pod.gap) {
        memoryFrom = starts.get(key)!;
        const origin = recorder.origin(`${ns[pod.ns]}/${pod.name}/${container.name}`, container.cores);
        cpuFrom = origin.origin;
        cpuFromUncertaintyMs = origin.uncertaintyMs;
        // The first span [start, first reading] is pro-rated by time, kwok's counter starts at
        // its origin: no window edge may fall inside it (the windows are chosen so).
        const first = stored.find((s) => s.from !== undefined && s.from.getTime() < s.time.getTime())!;
        expect(first.from!.getTime()).toBe(memoryFrom);
        for (const edge of edges)
          expect(edge <= first.from!.getTime() || edge >= first.time.getTime()).toBe(true);
      }
      let to = Infinity;
      if (pod.deleted) {
        to = stored.at(-1)!.time.getTime();
        // The deleted container was read until the deletion: a pod of the same node and
        // policies is read in the same requests, and the last of its readings that kwok
        // evaluated before the deletion was sent is no newer than this container's last.
        // (Later ones may hold the deleted pod too: kwok and the operator see the deletion late.)
        const sibling = [...series.values()].find(
          (s) =>
            s.pod !== pod &&
            s.pod.node === pod.node &&
            !s.pod.deleted &&
            !s.pod.late &&
            !s.pod.gap &&
            !!s.pod.fast === !!pod.fast &&
            !!s.pod.slow === !!pod.slow &&
            !!s.pod.third === !!pod.third,
        )!;
        const at = recorder.origin(
          `${ns[sibling.pod.ns]}/${sibling.pod.name}/${sibling.container.name}`,
          sibling.container.cores,
        );
        const evaluatedBefore = (await readings(sibling.uid, sibling.container.name)).filter(
          (r) =>
            (r.cpuCoreSecondsTotal! / sibling.container.cores) * 1000 + at.origin + at.uncertaintyMs <
            deleteSentAt.get(pod.name)!,
        );
        expect(to).toBeGreaterThanOrEqual(evaluatedBefore.at(-1)!.time.getTime());
      }
      period.set(key, { cpuFrom, cpuFromUncertaintyMs, memoryFrom, to });
    }
    // How much later than its stored time kwok evaluated each stored counter (ms), per series.
    const lagsOf = new Map<string, { time: number; lag: number }[]>();
    for (const [key, { pod, container, uid }] of series) {
      const { origin } = recorder.origin(`${ns[pod.ns]}/${pod.name}/${container.name}`, container.cores);
      const list: { time: number; lag: number }[] = [];
      for (const r of await readings(uid, container.name))
        if (r.cpuCoreSecondsTotal! > 0)
          list.push({
            time: r.time.getTime(),
            lag: (r.cpuCoreSecondsTotal! / container.cores) * 1000 + origin - r.time.getTime(),
          });
      lagsOf.set(key, list);
    }
    const lags = [...lagsOf.values()].flatMap((list) => list.map((r) => r.lag)).sort((x, y) => x - y);
    /**
     * The lags the operator's counter of a series has at an instant: that of a reading taken at
     * it, else those of the readings around it; before the first, none (its counter starts at
     * zero at its origin, where the truth starts it).
     */
    const lagsAround = (key: string, at: number): number[] => {
      const list = lagsOf.get(key)!;
      const next = list.findIndex((r) => r.time >= at);
      if (next === -1) return [list.at(-1)!.lag];
      if (list[next]!.time === at) return [list[next]!.lag];
      return next === 0 ? [0] : [list[next - 1]!.lag, list[next]!.lag];
    };
    /**
     * How far the readings' stamps may put the CPU of the selected pods over a window from the
     * truth (core-hours); for a window from before a counter's origin, also how well the test
     * knows that origin (the truth starts there).
     */
    const stampBound = (selected: (pod: PodPlan) => boolean, from: number, to: number) => {
      let coreMs = 0;
      for (const [name, { pod, container }] of series) {
        if (!selected(pod)) continue;
        const p = period.get(name)!;
        const [a, b] = [Math.max(from, p.cpuFrom), Math.min(to, p.to)];
        if (b <= a) continue;
        const around = [...lagsAround(name, a), ...lagsAround(name, b)];
        coreMs += container.cores * (Math.max(...around) - Math.min(...around));
        if (a === p.cpuFrom) coreMs += container.cores * p.cpuFromUncertaintyMs;
      }
      return coreMs / 1000 / 3600;
    };
    const lagLine = `reading lag ms: min ${lags[0]!.toFixed(1)} p50 ${lags[lags.length >> 1]!.toFixed(1)} p90 ${lags[Math.floor(lags.length * 0.9)]!.toFixed(1)} max ${lags.at(-1)!.toFixed(1)} (n ${lags.length})`;
    const truth = (key: Ns, from: number, to: number) => {
      let coreSeconds = 0;
      let byteSeconds = 0;
      for (const [name, { pod, container }] of series) {
        if (pod.ns !== key) continue;
        const p = period.get(name)!;
        coreSeconds += (container.cores * overlap(from, to, p.cpuFrom, p.to)) / 1000;
        byteSeconds += (container.bytes * overlap(from, to, p.memoryFrom, p.to)) / 1000;
      }
      return { cpuCoreHours: coreSeconds / 3600, memoryGiBHours: byteSeconds / 3600 / GI };
    };

    const report: string[] = [];
    const failures: string[] = [];
    for (const check of checks) {
      expect(check.from).toBeGreaterThan(t0);
      for (const key of ['a', 'b', 'c'] as const) {
        const answers = [];
        for (const url of [urlB, urlC])
          answers.push(await summary(url, key, check.from, check.to, check.offset));
        // Every replica gives the same answer.
        expect(answers[1]).toEqual(answers[0]);
        const answer = answers[0]!;
        expect(answer.coverage.ratio).toBe(1);
        expect(answer.items).toHaveLength(1);
        const item = answer.items[0]!;
        const expected = truth(key, check.from, check.to);
        const cpuError = item.cpuCoreHours / expected.cpuCoreHours - 1;
        const cpuAllowed =
          TOLERANCE + stampBound((pod) => pod.ns === key, check.from, check.to) / expected.cpuCoreHours;
        const memoryError = item.memoryGiBHours / expected.memoryGiBHours - 1;
        report.push(
          `${check.label.padEnd(20)} ns ${key}: cpu ${item.cpuCoreHours.toFixed(6)} vs ${expected.cpuCoreHours.toFixed(6)} core-h (${(cpuError * 100).toExponential(2)}%, allowed ${(cpuAllowed * 100).toExponential(2)}%), ` +
            `memory ${item.memoryGiBHours.toFixed(6)} vs ${expected.memoryGiBHours.toFixed(6)} GiB-h (${(memoryError * 100).toExponential(2)}%)`,
        );
        if (Math.abs(cpuError) > cpuAllowed || Math.abs(memoryError) > MEMORY_TOLERANCE)
          failures.push(report.at(-1)!);
        // No requests: billed is usage.
        expect(item.cpuCoreHoursBilled).toBeCloseTo(item.cpuCoreHours, 12);
      }
    }
    // The figures of the run (every window and namespace), then the verdict.
    console.log(
      `accounting truth (wall ${((Date.now() - startedAt) / 1000).toFixed(0)} s, killed at T0+${((killedAt - t0) / 1000).toFixed(1)} s; ${lagLine}):\n${report.join('\n')}`,
    );
    expect(failures).toEqual([]);

    // The same container selected by three policies (a1) and by one (b1) bills the same: its usage.
    const whole = checks[1]!;
    const [podA1] = (await summary(urlB, 'a', whole.from, whole.to, 0, 'pod')).items.filter((i) =>
      i.group.endsWith('/a1'),
    );
    const [podB1] = (await summary(urlB, 'b', whole.from, whole.to, 0, 'pod')).items.filter((i) =>
      i.group.endsWith('/b1'),
    );
    const alone = (0.25 * (whole.to - whole.from)) / 1000 / 3600;
    for (const [item, name] of [
      [podA1!, 'a1'],
      [podB1!, 'b1'],
    ] as const)
      expect(Math.abs(item.cpuCoreHours / alone - 1)).toBeLessThanOrEqual(
        TOLERANCE + stampBound((pod) => pod.name === name, whole.from, whole.to) / alone,
      );
    expect(Math.abs(podA1!.memoryGiBHours / podB1!.memoryGiBHours - 1)).toBeLessThan(MEMORY_TOLERANCE);
  }, 600_000);
});
