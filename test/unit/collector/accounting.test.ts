/**
 * Exact accounting through the collector, against a simulated fleet with known constant usage:
 * a fake kubelet whose counters advance at a known rate and refresh every 15 s (as a kubelet's
 * stats do), a fake metrics.k8s.io with 15 s windows, and a fake clock. The ground truth is
 * computed from the simulation (rate x time), independently of the collector.
 */
import { describe, expect, it } from '@jest/globals';
import {
  PolicyCollector,
  type CollectionTarget,
  type CycleSink,
  type NodeUsageSource,
  type PolicyCollectionState,
} from '../../../operator/collector/collector.js';
import type { MetricsResult, MetricsSource } from '../../../operator/sources/metrics-api/metrics-source.js';
import type { PodInfo, PodLister } from '../../../operator/collector/pod-cache.js';
import type { SeriesBaseSource } from '../../../operator/collector/series-cursors.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import {
  containerSeriesKey,
  type CollectionCycle,
  type ContainerSample,
  type SeriesBase,
} from '../../../operator/model.js';
import type { PodLookup } from '../../../operator/sources/pod-lookup.js';
import type { ContainerReading, ReadingBatch } from '../../../operator/sources/readings.js';
import { captureLogger, type LogLine } from '../../harness/capture-logger.js';

const T0 = Date.UTC(2026, 10, 21, 10, 0, 0);
const RESOLUTION_MS = 15_000;
/** Every simulated node's CPU capacity, cores. */
const NODE_CORES = 4;
const MiB = 1024 * 1024;

/** One simulated container: constant usage, a life span, and restarts. */
interface Sim {
  pod: string;
  uid: string;
  node: string;
  cores: number;
  memoryBytes: number;
  /** When the pod (and its first container instance) started. */
  start: number;
  /** When the pod ended (gone from the cache and the endpoint). */
  stop?: number;
  /** When the container restarted (its counter starts again from zero). */
  restarts?: number[];
  namespace?: string;
  /** The pod's labels; `app: web` (what the test policies select) when absent. */
  labels?: Record<string, string>;
  /** The kubelet's counter at `t` instead of the true one (a glitch), when it gives one. */
  glitch?: (t: number) => number | undefined;
}

class Clock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}

class World implements PodLister {
  constructor(
    readonly clock: Clock,
    public sims: Sim[],
  ) {}

  alive(t: number): Sim[] {
    return this.sims.filter((s) => s.start <= t && (s.stop === undefined || t < s.stop));
  }

  /** The start of the instance running at `t`. */
  static instanceStart(sim: Sim, t: number): number {
    return Math.max(sim.start, ...(sim.restarts ?? []).filter((r) => r <= t));
  }

  list(namespace?: string): PodInfo[] {
    const t = this.clock.now();
    return this.alive(t)
      .filter((s) => namespace === undefined || (s.namespace ?? 'shop') === namespace)
      .map((s) => ({
        namespace: s.namespace ?? 'shop',
        name: s.pod,
        uid: s.uid,
        node: s.node,
        labels: s.labels ?? { app: 'web' },
        phase: 'Running',
        startTime: s.start,
        containers: [{ name: 'app', startedAt: World.instanceStart(s, t), cpuRequestMillicores: 500 }],
      }));
  }
}

/** The kubelets: counters as of the last 15 s refresh; nodes in `down` time out. */
class FakeKubelet implements NodeUsageSource {
  readonly down = new Set<string>();
  failing: Error | undefined;
  reads = 0;

  constructor(private readonly world: World) {}

  async read(request: { pods: PodLookup; nodes?: Iterable<string> }): Promise<ReadingBatch> {
    this.reads++;
    if (this.failing) throw this.failing;
    const now = this.world.clock.now();
    const t = Math.floor(now / RESOLUTION_MS) * RESOLUTION_MS;
    const nodes = [...(request.nodes ?? [])];
    const readings: ContainerReading[] = [];
    for (const sim of this.world.alive(t)) {
      if (!nodes.includes(sim.node) || this.down.has(sim.node)) continue;
      const namespace = sim.namespace ?? 'shop';
      const known = request.pods.pod(namespace, sim.pod);
      if (known?.uid !== sim.uid) continue;
      const instance = World.instanceStart(sim, t);
      readings.push({
        namespace,
        pod: sim.pod,
        podUid: sim.uid,
        container: 'app',
        node: sim.node,
        startTime: instance,
        cpu: {
          kind: 'counter',
          coreSecondsTotal: sim.glitch?.(t) ?? (sim.cores * (t - instance)) / 1000,
          time: t,
        },
        memoryWorkingSetBytes: { value: sim.memoryBytes, time: t },
      });
    }
    return {
      source: 'kubelet',
      readings,
      nodeCpuCores: new Map(nodes.map((node) => [node, NODE_CORES])),
      unreadableNodes: nodes
        .filter((n) => this.down.has(n))
        .map((node) => ({
          node,
          reason: 'timeout',
          detail: `https://${node}:10250/metrics/resource: timeout`,
        })),
    };
  }
}

/** metrics.k8s.io: the rate over the last complete 15 s window (exact for constant usage). */
class FakeMetricsApi implements MetricsSource {
  constructor(private readonly world: World) {}

  async listPodMetrics(): Promise<MetricsResult> {
    const end = Math.floor(this.world.clock.now() / RESOLUTION_MS) * RESOLUTION_MS;
    return {
      available: true,
      items: this.world
        .alive(end)
        .filter((s) => s.start <= end - RESOLUTION_MS)
        .map((s) => ({
          namespace: s.namespace ?? 'shop',
          name: s.pod,
          timestamp: end,
          windowSeconds: RESOLUTION_MS / 1000,
          containers: [{ name: 'app', cpuNanocores: s.cores * 1e9, memoryBytes: s.memoryBytes }],
        })),
    };
  }
}

class Recorder implements CycleSink {
  readonly cycles: CollectionCycle[] = [];
  onCycle(cycle: CollectionCycle): void {
    this.cycles.push(cycle);
  }
  samples(uid?: string): ContainerSample[] {
    return this.cycles.flatMap((c) => c.samples).filter((s) => uid === undefined || s.podUid === uid);
  }
}

function target(name: string, intervalSeconds: number): CollectionTarget {
  return {
    policy: `shop/${name}`,
    intervalSeconds,
    namespaces: ['shop'],
    selector: { matchLabels: { app: 'web' } },
    retention: { rawMs: 3_600_000, hourlyMs: 86_400_000, dailyMs: 30 * 86_400_000 },
  };
}

interface Run {
  world: World;
  clock: Clock;
  kubelet: FakeKubelet;
  recorder: Recorder;
  collector: PolicyCollector;
  logs: LogLine[];
}

function setup(
  sims: Sim[],
  options: { kubelet?: boolean; bases?: SeriesBaseSource; start?: number } = {},
): Run {
  const clock = new Clock(options.start ?? T0);
  const world = new World(clock, sims);
  const kubelet = new FakeKubelet(world);
  const recorder = new Recorder();
  const { logger, lines: logs } = captureLogger();
  const collector = new PolicyCollector({
    source: new FakeMetricsApi(world),
    ...(options.kubelet !== false && { kubelet }),
    ...(options.bases && { seriesBases: options.bases }),
    pods: world,
    sinks: [recorder],
    clock,
    logger,
    metrics: new OperatorMetrics(),
  });
  return { world, clock, kubelet, recorder, collector, logs };
}

/**
 * Runs the policies on their schedules (policy i first ticks at `offsets[i]` s) from the clock's
 * time for `seconds`, then once more each at the end. `each` runs before every second.
 */
async function run(
  r: Run,
  targets: CollectionTarget[],
  seconds: number,
  offsets: number[] = [],
  each?: (t: number) => void,
): Promise<Map<string, PolicyCollectionState | undefined>> {
  const start = r.clock.t;
  const states = new Map<string, PolicyCollectionState | undefined>();
  for (let s = 0; s < seconds; s++) {
    r.clock.t = start + s * 1000;
    each?.(r.clock.t);
    for (const [i, t] of targets.entries()) {
      const offset = offsets[i] ?? 0;
      if (s >= offset && (s - offset) % t.intervalSeconds === 0)
        states.set(t.policy, await r.collector.collect(t));
    }
  }
  r.clock.t = start + seconds * 1000;
  each?.(r.clock.t);
  for (const t of targets) states.set(t.policy, await r.collector.collect(t));
  return states;
}

const sum = (samples: ContainerSample[], field: 'cpuCoreSeconds' | 'memoryByteSeconds') =>
  samples.reduce((total, s) => total + (s[field] ?? 0), 0);

/** The accounted spans in time order; throws when two overlap. */
function spans(samples: ContainerSample[]): [number, number][] {
  const out = samples
    .filter((s) => s.from !== undefined && s.from < s.time)
    .map((s) => [s.from!, s.time] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < out.length; i++)
    if (out[i]![0] < out[i - 1]![1]) throw new Error(`spans overlap: ${JSON.stringify(out)}`);
  return out;
}

/** Covered time in seconds. */
const covered = (s: [number, number][]) => s.reduce((total, [a, b]) => total + (b - a) / 1000, 0);

/** |actual - expected| within float rounding of the sums (relative 1e-12). */
function expectExact(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.abs(expected) * 1e-12 + 1e-12);
}

/**
 * The store at the boundary, as a previous leader's samples leave it: each series' latest stored
 * reading, and the time of the newest one. `asked` records the series asked for.
 */
function storedBy(samples: readonly ContainerSample[], asked?: string[][]): SeriesBaseSource {
  const latest = new Map<string, SeriesBase>();
  for (const sample of samples) {
    const key = containerSeriesKey(sample.podUid!, sample.container);
    if ((latest.get(key)?.time ?? -Infinity) >= sample.time) continue;
    const base: SeriesBase = { time: sample.time };
    if (sample.cpuCoreSecondsTotal !== undefined) base.cpuCoreSecondsTotal = sample.cpuCoreSecondsTotal;
    if (sample.containerStartTime !== undefined) base.containerStartTime = sample.containerStartTime;
    if (sample.memoryBytes !== null) base.memoryBytes = sample.memoryBytes;
    latest.set(key, base);
  }
  return {
    latestReadings: async (keys) => {
      asked?.push([...keys]);
      return new Map([...latest].filter(([key]) => keys.includes(key)));
    },
    lastReadingTime: async () =>
      samples.length === 0 ? undefined : Math.max(...samples.map((sample) => sample.time)),
  };
}

const steady = (overrides: Partial<Sim> = {}): Sim => ({
  pod: 'web-1',
  uid: 'uid-1',
  node: 'node-1',
  cores: 0.25,
  memoryBytes: 128 * MiB,
  start: T0 - 3_600_000,
  ...overrides,
});

describe('exact accounting from kubelet counters', () => {
  it.each([10, 60])(
    'a %ss policy against 15 s counters bills rate x elapsed exactly, CPU and memory',
    async (interval) => {
      const r = setup([
        steady(),
        steady({ pod: 'web-2', uid: 'uid-2', cores: 0.75, memoryBytes: 384 * MiB }),
      ]);
      const states = await run(r, [target('web', interval)], 600);
      expect(states.get('shop/web')).toMatchObject({ metricsSource: 'kubelet' });
      expect(states.get('shop/web')).not.toHaveProperty('degraded');
      for (const [uid, cores, memory] of [
        ['uid-1', 0.25, 128 * MiB],
        ['uid-2', 0.75, 384 * MiB],
      ] as const) {
        const samples = r.recorder.samples(uid);
        // The series predates collection: its first reading is only a base.
        const first = Math.floor(T0 / RESOLUTION_MS) * RESOLUTION_MS;
        const last = Math.floor((T0 + 600_000) / RESOLUTION_MS) * RESOLUTION_MS;
        const s = spans(samples);
        expect(s[0]![0]).toBe(first);
        expect(s.at(-1)![1]).toBe(last);
        expect(covered(s)).toBe((last - first) / 1000); // contiguous: no gap, no overlap
        expectExact(sum(samples, 'cpuCoreSeconds'), (cores * (last - first)) / 1000);
        expectExact(sum(samples, 'memoryByteSeconds'), (memory * (last - first)) / 1000);
        // The current value shown is the rate, and every sample names its series and retention.
        expect(samples.at(-1)).toMatchObject({
          cpuMillicores: cores * 1000,
          podUid: uid,
          retention: { rawMs: 3_600_000 },
          intervalSeconds: interval,
        });
        expect(samples.at(-1)?.cpuCoreSecondsTotal).toBe((cores * (last - (T0 - 3_600_000))) / 1000);
      }
    },
  );

  it('bills a restarted container from its restart with its new counter', async () => {
    const restart = T0 + 107_000;
    const r = setup([steady({ restarts: [restart] })]);
    await run(r, [target('web', 10)], 300);
    const samples = r.recorder.samples('uid-1');
    const first = T0;
    const lastBefore = Math.floor(restart / RESOLUTION_MS) * RESOLUTION_MS; // last reading of the old instance
    const last = T0 + 300_000;
    const s = spans(samples);
    // The old instance's tail [lastBefore, restart] is unknowable: left uncovered, not invented.
    expect(s.find(([a]) => a === restart)).toBeDefined();
    expect(s.some(([a, b]) => a < restart && b > lastBefore)).toBe(false);
    expectExact(sum(samples, 'cpuCoreSeconds'), 0.25 * ((lastBefore - first + (last - restart)) / 1000));
    expect(samples.at(-1)?.containerStartTime).toBe(restart);
  });

  it('bills a pod started within collection from its start, and one that stops up to its last reading', async () => {
    const start = T0 + 37_000;
    const stop = T0 + 205_000;
    const r = setup([
      steady({ pod: 'new', uid: 'uid-new', start }),
      steady({ pod: 'leaving', uid: 'uid-leaving', stop }),
    ]);
    await run(r, [target('web', 30)], 300);
    const fresh = r.recorder.samples('uid-new');
    const last = T0 + 300_000;
    expect(spans(fresh)[0]![0]).toBe(start);
    expectExact(sum(fresh, 'cpuCoreSeconds'), (0.25 * (last - start)) / 1000);
    expectExact(sum(fresh, 'memoryByteSeconds'), (128 * MiB * (last - start)) / 1000);

    const leaving = r.recorder.samples('uid-leaving');
    const lastRead = spans(leaving).at(-1)![1];
    expect(lastRead).toBeLessThan(stop);
    expect(lastRead).toBeGreaterThan(stop - 30_000 - RESOLUTION_MS);
    expectExact(sum(leaving, 'cpuCoreSeconds'), (0.25 * (lastRead - T0)) / 1000);
  });

  it('bills the same container the same whether 1 or 3 policies select it', async () => {
    const fleet = () => [
      steady(),
      steady({ pod: 'web-2', uid: 'uid-2', cores: 1.5, start: T0 + 44_000, restarts: [T0 + 250_000] }),
    ];
    const one = setup(fleet());
    await run(one, [target('a', 10)], 600);
    const three = setup(fleet());
    await run(three, [target('a', 10), target('b', 30), target('c', 60)], 600, [0, 7, 23]);
    for (const uid of ['uid-1', 'uid-2']) {
      const single = one.recorder.samples(uid);
      const shared = three.recorder.samples(uid);
      expectExact(sum(shared, 'cpuCoreSeconds'), sum(single, 'cpuCoreSeconds'));
      expectExact(sum(shared, 'memoryByteSeconds'), sum(single, 'memoryByteSeconds'));
      expect(covered(spans(shared))).toBe(covered(spans(single)));
      // Every policy sees the current values each cycle, also when another took the reading
      // (once a rate is known: it takes two readings of one instance, so an instance's first
      // reading, a base or the first after a restart, has none).
      const firstOf = new Map<number | undefined, number>();
      for (const s of shared)
        if (!firstOf.has(s.containerStartTime) && s.cpuCoreSecondsTotal !== undefined)
          firstOf.set(s.containerStartTime, s.time);
      for (const policy of ['shop/b', 'shop/c']) {
        const later = shared.filter((s) => s.policy === policy && s.time >= T0 + 60_000);
        expect(later.length).toBeGreaterThan(0);
        const known = later.filter((s) => s.time !== firstOf.get(s.containerStartTime));
        expect(known.filter((s) => s.cpuMillicores === null)).toEqual([]);
      }
    }
    // The longest retention of the policies selecting it is on every sample.
    const retention = { rawMs: 7_200_000, hourlyMs: 86_400_000, dailyMs: 90 * 86_400_000 };
    three.collector.setTarget({ ...target('d', 60), retention });
    await three.collector.collect(target('a', 10));
    expect(three.recorder.cycles.at(-1)?.samples[0]?.retention).toEqual(retention);
  });

  it('names an unreadable node in Degraded for 2 minutes, bills nothing as zero, and loses no CPU', async () => {
    const r = setup([steady(), steady({ pod: 'web-2', uid: 'uid-2', node: 'node-2', cores: 0.5 })]);
    const during: (PolicyCollectionState | undefined)[] = [];
    await run(r, [target('web', 10)], 180);
    r.kubelet.down.add('node-2');
    const outage = await run(r, [target('web', 10)], 120);
    during.push(outage.get('shop/web'));
    const uptimeOnly = r.recorder.cycles.at(-1)?.samples.find((s) => s.podUid === 'uid-2');
    r.kubelet.down.delete('node-2');
    const after = await run(r, [target('web', 10)], 120);

    expect(during[0]).toMatchObject({
      metricsSource: 'kubelet',
      degraded: { reason: 'NodesUnreadable', nodes: ['node-2'] },
    });
    expect(during[0]?.degraded?.message).toContain('node-2 (timeout)');
    // While unreadable: no usage is claimed (null, a zero span), never a zero bill.
    expect(uptimeOnly).toMatchObject({ cpuMillicores: null, cpuCoreSeconds: null });
    expect(uptimeOnly?.from).toBe(uptimeOnly?.time);
    expect(after.get('shop/web')).not.toHaveProperty('degraded');

    const samples = r.recorder.samples('uid-2');
    const s = spans(samples);
    const last = T0 + 420_000;
    // The outage is covered by the first counter difference after it.
    expect(covered(s)).toBe((last - T0) / 1000);
    expectExact(sum(samples, 'cpuCoreSeconds'), (0.5 * (last - T0)) / 1000);
    // The working set during the outage is unknown: that span's memory is not measured.
    const gapSpan = s.find(([a, b]) => a <= T0 + 180_000 && b >= T0 + 300_000)!;
    expect(samples.find((x) => x.from === gapSpan[0] && x.time === gapSpan[1])?.memoryByteSeconds).toBeNull();
    const measured = (last - T0 - (gapSpan[1] - gapSpan[0])) / 1000;
    expectExact(sum(samples, 'memoryByteSeconds'), 128 * MiB * measured);
  });

  it('skips a counter reading that went down with the same start time, counts and logs it, and bills exactly', async () => {
    // Up 30 days at 2 cores; the reading of T0 + 60 s is 45 core-seconds low (below the one before).
    const start = T0 - 30 * 86_400_000;
    const glitchAt = T0 + 60_000;
    const r = setup([
      steady({
        start,
        cores: 2,
        glitch: (t) => (t === glitchAt ? (2 * (t - start)) / 1000 - 45 : undefined),
      }),
    ]);
    const metrics = new OperatorMetrics();
    const { logger, lines } = captureLogger();
    r.collector = new PolicyCollector({
      source: new FakeMetricsApi(r.world),
      kubelet: r.kubelet,
      pods: r.world,
      sinks: [r.recorder],
      clock: r.clock,
      logger,
      metrics,
    });
    await run(r, [target('web', 15)], 180);
    const samples = r.recorder.samples('uid-1');
    const s = spans(samples);
    const last = T0 + 180_000;
    expect(covered(s)).toBe((last - T0) / 1000);
    expectExact(sum(samples, 'cpuCoreSeconds'), (2 * (last - T0)) / 1000);
    // No span is billed more than the node's CPU could use in it.
    for (const x of samples)
      expect(x.cpuCoreSeconds ?? 0).toBeLessThanOrEqual((NODE_CORES * (x.time - x.from!)) / 1000);
    expect(samples.find((x) => x.time === glitchAt)).toMatchObject({ from: glitchAt, cpuCoreSeconds: null });
    expect((await metrics.readingsSkipped.get()).values).toEqual([
      expect.objectContaining({ labels: { reason: 'counter-decrease' }, value: 1 }),
    ]);
    expect(lines.filter((l) => l.message === 'CPU counter reading skipped')).toEqual([
      expect.objectContaining({
        level: 'debug',
        namespace: 'shop',
        pod: 'web-1',
        container: 'app',
        reason: 'counter-decrease',
        total: (2 * (glitchAt - start)) / 1000 - 45,
      }),
    ]);
  });

  it('bills a container from the later of its start and the moment a policy first selected it', async () => {
    // The term began at T0; the policy is created at T0 + 5 h.
    const created = T0 + 5 * 3_600_000;
    const unlabelled = { app: 'other' };
    const r = setup([
      steady({ pod: 'early', uid: 'uid-early', start: T0 + 3_600_000 }),
      steady({ pod: 'fresh', uid: 'uid-fresh', start: created + 5_000 }),
      steady({ pod: 'relabelled', uid: 'uid-relabelled', start: T0 + 3_600_000, labels: unlabelled }),
      steady({ pod: 'later', uid: 'uid-later', start: created + 400_000, labels: unlabelled }),
    ]);
    r.clock.t = created;
    const policy = { ...target('web', 30), createdAt: created };
    await run(r, [policy], 300, [], (t) => {
      // Selected from T0 + 5 h + 200 s on, by a label change.
      if (t === created + 200_000) r.world.sims[2]!.labels = { app: 'web' };
    });
    await run(r, [policy], 300, [], (t) => {
      if (t === created + 500_000) r.world.sims[3]!.labels = { app: 'web' };
    });
    const last = Math.floor((created + 600_000) / RESOLUTION_MS) * RESOLUTION_MS;
    const firstRead = (uid: string) => spans(r.recorder.samples(uid))[0]![0];
    // Started before the policy existed: billed from its first reading, nothing before.
    expect(firstRead('uid-early')).toBe(created);
    expectExact(sum(r.recorder.samples('uid-early'), 'cpuCoreSeconds'), (0.25 * (last - created)) / 1000);
    // Started after it: from its start.
    expect(firstRead('uid-fresh')).toBe(created + 5_000);
    expectExact(
      sum(r.recorder.samples('uid-fresh'), 'cpuCoreSeconds'),
      (0.25 * (last - created - 5_000)) / 1000,
    );
    // Selected by a label change hours after it started: from its first reading after that.
    expect(firstRead('uid-relabelled')).toBe(created + 210_000);
    // Started unselected and relabelled later: from its first reading too, not from its start.
    expect(firstRead('uid-later')).toBe(created + 510_000);
  });

  it('logs each cycle at debug level: its duration, source, samples and the unreadable nodes by reason', async () => {
    const r = setup([steady(), steady({ pod: 'web-2', uid: 'uid-2', node: 'node-2', cores: 0.5 })]);
    await r.collector.collect(target('web', 10));
    r.kubelet.down.add('node-2');
    await r.collector.collect(target('web', 10));
    const cycles = r.logs.filter((l) => l.message === 'collection cycle');
    const line = (unreadableNodes: Record<string, number>) =>
      expect.objectContaining({
        level: 'debug',
        namespace: 'shop',
        name: 'web',
        source: 'kubelet',
        samples: 2,
        unreadableNodes,
      });
    expect(cycles).toEqual([line({}), line({ timeout: 1 })]);
    expect(cycles.every((l) => typeof l.durationMs === 'number' && l.durationMs >= 0)).toBe(true);
  });

  it('continues the series of a previous leader from the stored base, losing nothing of the failover', async () => {
    const first = setup([steady()]);
    await run(first, [target('web', 10)], 120);
    const asked: string[][] = [];
    // The next leader starts 40 s later (the failover window).
    const second = setup([steady()], {
      start: T0 + 160_000,
      bases: storedBy(first.recorder.samples(), asked),
    });
    second.collector.beginTerm();
    await run(second, [target('web', 10), target('other', 30)], 120);
    expect(asked).toEqual([['uid-1/app']]); // once per series per term
    const all = [...first.recorder.samples('uid-1'), ...second.recorder.samples('uid-1')];
    const last = T0 + 270_000; // the last 15 s refresh before the run's end (T0 + 280 s)
    expect(covered(spans(all))).toBe((last - T0) / 1000);
    expectExact(sum(all, 'cpuCoreSeconds'), (0.25 * (last - T0)) / 1000);
  });

  it('bills a pod started during the failover from its start, and a restart during it from the restart', async () => {
    const first = setup([steady()]);
    await run(first, [target('web', 10)], 120);
    const stored = storedBy(first.recorder.samples());
    expect(await stored.lastReadingTime()).toBe(T0 + 120_000);
    // While no leader runs (the next term begins at T0 + 160 s): a new pod starts, web-1 restarts.
    const gapStart = T0 + 131_000;
    const restart = T0 + 137_000;
    // A pod started before the store's newest reading that the previous leader never read.
    const unreadStart = T0 + 100_000;
    const second = setup(
      [
        steady({ restarts: [restart] }),
        steady({ pod: 'web-2', uid: 'uid-2', cores: 0.5, memoryBytes: 64 * MiB, start: gapStart }),
        steady({ pod: 'web-3', uid: 'uid-3', start: unreadStart }),
      ],
      { start: T0 + 160_000, bases: stored },
    );
    second.collector.beginTerm();
    await run(second, [target('web', 10)], 120);
    const last = T0 + 270_000;

    const gap = second.recorder.samples('uid-2');
    expect(spans(gap)[0]![0]).toBe(gapStart);
    expect(covered(spans(gap))).toBe((last - gapStart) / 1000);
    expectExact(sum(gap, 'cpuCoreSeconds'), (0.5 * (last - gapStart)) / 1000);
    expectExact(sum(gap, 'memoryByteSeconds'), (64 * MiB * (last - gapStart)) / 1000);

    // The old instance's tail after the last stored reading is unknowable; the new one is billed whole.
    const restarted = [...first.recorder.samples('uid-1'), ...second.recorder.samples('uid-1')];
    expect(covered(spans(restarted))).toBe((120_000 + last - restart) / 1000);
    expectExact(sum(restarted, 'cpuCoreSeconds'), (0.25 * (120_000 + last - restart)) / 1000);

    // Started before what the store accounts up to, without a stored base: only a base.
    const unread = spans(second.recorder.samples('uid-3'));
    expect(unread[0]![0]).toBe(T0 + 150_000);
  });

  it("waits while the store cannot say what it accounts up to, then bills the failover's new pods from their first reading", async () => {
    const first = setup([steady()]);
    await run(first, [target('web', 10)], 120);
    const stored = storedBy(first.recorder.samples());
    let asked = 0;
    const gapStart = T0 + 131_000;
    const second = setup([steady(), steady({ pod: 'web-2', uid: 'uid-2', start: gapStart })], {
      start: T0 + 160_000,
      bases: {
        latestReadings: (keys) => stored.latestReadings(keys),
        lastReadingTime: async () => {
          asked++;
          throw new Error('connection refused');
        },
      },
    });
    second.collector.beginTerm();
    await run(second, [target('web', 10)], 120);
    const last = T0 + 270_000;
    // Three cycles ask (T0 + 160, 170, 180 s): the first two account for nothing, the third goes on.
    expect(asked).toBe(3);
    const waiting = second.recorder.samples().filter((x) => x.time < T0 + 180_000);
    expect(waiting.length).toBeGreaterThan(0);
    expect(waiting.every((x) => x.cpuCoreSeconds === null)).toBe(true);
    // The continuing series loses nothing; the pod of the failover is billed from its first reading.
    const all = [...first.recorder.samples('uid-1'), ...second.recorder.samples('uid-1')];
    expect(covered(spans(all))).toBe((last - T0) / 1000);
    expectExact(sum(all, 'cpuCoreSeconds'), (0.25 * (last - T0)) / 1000);
    const gap = spans(second.recorder.samples('uid-2'));
    expect(gap[0]![0]).toBe(T0 + 180_000);
    expectExact(sum(second.recorder.samples('uid-2'), 'cpuCoreSeconds'), (0.25 * (last - gap[0]![0])) / 1000);
  });

  it('does not bill a re-created pod the counter its name had (kwok keeps counters per pod name)', async () => {
    const r = setup([steady({ stop: T0 + 100_000 })]);
    await run(r, [target('web', 10)], 100);
    // kwok's counter for the name continues; the new pod's container starts at T0 + 100 s.
    r.world.sims.push({ ...steady(), uid: 'uid-1b', start: T0 + 100_000, restarts: [] });
    const kwokLike = r.world.sims[1]!;
    kwokLike.start = T0 - 3_600_000; // the counter runs from the old pod's start...
    const podStart = T0 + 100_000;
    const list = r.world.list.bind(r.world);
    r.world.list = (ns) =>
      list(ns).map((p) =>
        p.uid === 'uid-1b'
          ? { ...p, containers: p.containers.map((c) => ({ ...c, startedAt: podStart })) }
          : p,
      );
    const kubeletRead = r.kubelet.read.bind(r.kubelet);
    r.kubelet.read = async (request) => {
      const batch = await kubeletRead(request);
      // ...and kwok reports no start time (its value is the pod's age, dropped by the parser).
      return { ...batch, readings: batch.readings.map(({ startTime: _, ...reading }) => reading) };
    };
    r.clock.t = T0 + 110_000; // the new pod's first reading (T0 + 105 s) is after its start
    await run(r, [target('web', 10)], 100);
    const recreated = r.recorder.samples('uid-1b');
    const s = spans(recreated);
    // Its first reading is a base: the old pod's counter is not billed again.
    expect(s[0]![0]).toBeGreaterThan(podStart);
    expectExact(sum(recreated, 'cpuCoreSeconds'), (0.25 * (s.at(-1)![1] - s[0]![0])) / 1000);
  });
});

describe('the metrics.k8s.io fallback', () => {
  it.each([10, 60])(
    'a %ss policy against 15 s windows is time-weighted to rate x elapsed exactly',
    async (interval) => {
      const r = setup([steady()], { kubelet: false });
      const states = await run(r, [target('web', interval)], 600);
      expect(states.get('shop/web')).toMatchObject({ metricsSource: 'metrics.k8s.io' });
      expect(states.get('shop/web')).not.toHaveProperty('degraded');
      const samples = r.recorder.samples('uid-1');
      const firstEnd = T0;
      const last = T0 + 600_000;
      const s = spans(samples);
      // The first window counts for itself, each later one for the time since the previous.
      expect(s[0]).toEqual([firstEnd - RESOLUTION_MS, firstEnd]);
      expect(covered(s)).toBe((last - firstEnd + RESOLUTION_MS) / 1000);
      expectExact(sum(samples, 'cpuCoreSeconds'), (0.25 * (last - firstEnd + RESOLUTION_MS)) / 1000);
      expectExact(sum(samples, 'memoryByteSeconds'), (128 * MiB * (last - firstEnd + RESOLUTION_MS)) / 1000);
    },
  );

  it('takes over when no kubelet can be read, says so, and keeps the total exact across the switches', async () => {
    const r = setup([steady()]);
    await run(r, [target('web', 10)], 60);
    r.kubelet.failing = new Error('nodes is forbidden');
    const fallback = await run(r, [target('web', 10)], 90);
    expect(fallback.get('shop/web')).toMatchObject({
      metricsSource: 'metrics.k8s.io',
      degraded: { reason: 'KubeletUnavailable' },
    });
    expect(fallback.get('shop/web')?.degraded?.message).toContain('nodes is forbidden');
    // Not asked again every cycle: once, then after the retry delay (60 s).
    const readsDuring = r.kubelet.reads;
    r.kubelet.failing = undefined;
    const back = await run(r, [target('web', 10)], 90);
    expect(back.get('shop/web')).toMatchObject({ metricsSource: 'kubelet' });
    expect(back.get('shop/web')).not.toHaveProperty('degraded');
    expect(readsDuring).toBeLessThan(7 + 10);

    const samples = r.recorder.samples('uid-1');
    const last = T0 + 240_000;
    expect(covered(spans(samples))).toBe((last - T0) / 1000);
    expectExact(sum(samples, 'cpuCoreSeconds'), (0.25 * (last - T0)) / 1000);
  });
});
