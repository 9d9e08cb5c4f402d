/**
 * The peer comparison with VPA, through the real pieces: the VPA recommender (built from
 * k8s.io/autoscaler/vertical-pod-autoscaler, scripts/testenv/vpa.ts) and our operator watch the
 * same kwok pods side by side, VPA through metrics-server and VerticalPodAutoscaler objects with
 * updateMode "Off", ours through a UsagePolicy and GET /api/v1/namespaces/{ns}/recommendations
 * (strategy vpa). Only VPA's public status is read.
 *
 * Four Deployments with known usage (kwok's usage annotations, changed by the test on a
 * schedule; a compressed "day" of DAY_MS):
 * - steady: two containers (app, proxy) at constant CPU and memory;
 * - daily: CPU and memory at a daytime level half of each compressed day, a night level the
 *   other half;
 * - spike: one of five pods at 2 cores and 1200Mi for SPIKE_MS, the others at a baseline;
 * - leak: constant CPU, memory growing by a step every LEAK_STEP_MS.
 *
 * The truth for steady is exact: a constant v gives a P90 at the end of v's histogram bucket
 * (5% wide buckets, from 0.01 core and 10 MB), times 1.15 (VPA's default safety margin); VPA's
 * target is checked against it, and ours must agree with VPA's within 10% for CPU and memory.
 * The other patterns are printed side by side with the reason they differ (or do not).
 *
 * Time: VPA's defaults assume days of history. The recommender runs every RECOMMENDER_INTERVAL_S
 * instead of every minute; everything else keeps its default, so both sides use the same
 * parameters: target P90 of CPU samples and of memory peaks (one per container per 24h interval,
 * so a few minutes of history give one peak per pod) x 1.15, bounds widened by the confidence
 * of a 24h interval (huge on a workload minutes old, on both sides). The test waits, on public
 * status only, until both have seen the leak's last memory step (readings arrive in order, so
 * everything before it is in too), which bounds it to about PLAY_MS plus a minute.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseCpuMillicores, parseMemoryBytes } from '../../api/quantity.js';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import {
  installVpaCrds,
  startVpaRecommender,
  uninstallVpaCrds,
  type VpaRecommender,
} from '../../scripts/testenv/vpa.js';
import {
  apply,
  createDeployment,
  deleteNamespace,
  getObject,
  listPods,
  namespaceViewerToken,
  newNamespace,
  setPodUsage,
  testEnvironment,
  uniqueName,
  waitFor,
  type SimulatedContainer,
  type Usage,
} from '../harness/index.js';
import { startTestOperator } from '../harness/operator.js';
import { endOfBucketHolding } from '../support/bucket-ends.js';

const MI = 2 ** 20;
const RECOMMENDER_INTERVAL_S = 5;
/** A compressed day: DAY_MS / 2 at the daytime level, then DAY_MS / 2 at night. */
const DAY_MS = 40_000;
const PLAY_MS = 120_000;
const SPIKE_AT_MS = 50_000;
const SPIKE_MS = 10_000;
const LEAK_STEP_MS = 10_000;
const LEAK_START_MI = 300;
const LEAK_STEP_MI = 40;
const LEAK_FINAL_MI = LEAK_START_MI + LEAK_STEP_MI * Math.floor(PLAY_MS / LEAK_STEP_MS);
/** VPA's defaults (recommendation-margin-fraction; pod minimums split across containers). */
const MARGIN = 1.15;
const TOLERANCE = 0.1;

// Histogram bucket ends as VPA and our store define them.
const cpuBucketEnd = (cores: number) => endOfBucketHolding(0.01, cores);
const memoryBucketEnd = (bytes: number) => endOfBucketHolding(1e7, bytes);

interface Workload {
  name: string;
  replicas: number;
  containers: SimulatedContainer[];
  /** Usage of pod `index` (of the Deployment's pods sorted by name) at `ms` into the play; undefined: unchanged. */
  usageAt?: (index: number, ms: number) => Usage;
  explain: string;
}

const requests = (cpu: string, memory: string) => ({ cpu, memory });
const WORKLOADS: Workload[] = [
  {
    name: 'steady',
    replicas: 2,
    containers: [
      { name: 'app', requests: requests('500m', '512Mi'), usage: { cpu: '320m', memory: '410Mi' } },
      { name: 'proxy', requests: requests('100m', '256Mi'), usage: { cpu: '60m', memory: '160Mi' } },
    ],
    explain:
      'constant usage: P90 of identical samples is the end of their bucket on both sides (same 5% buckets), x 1.15.',
  },
  {
    name: 'daily',
    replicas: 2,
    containers: [{ name: 'app', requests: requests('1', '512Mi'), usage: { cpu: '600m', memory: '450Mi' } }],
    usageAt: (_index, ms) =>
      ms % DAY_MS < DAY_MS / 2 ? { cpu: '600m', memory: '450Mi' } : { cpu: '150m', memory: '300Mi' },
    explain:
      'half of each compressed day at 600m/450Mi, half at 150m/300Mi: the P90 is the daytime level on both sides ' +
      '(VPA: share of samples, ours: share of time). VPA reads 15 s averages from metrics-server, so a window ' +
      'straddling dusk or dawn is a sample between the levels; our readings split at the collection interval. ' +
      'Memory: the day peak on both (one 24h interval).',
  },
  {
    name: 'spike',
    replicas: 5,
    containers: [
      { name: 'app', requests: requests('500m', '512Mi'), usage: { cpu: '200m', memory: '300Mi' } },
    ],
    usageAt: (index, ms) =>
      index === 0 && ms >= SPIKE_AT_MS && ms < SPIKE_AT_MS + SPIKE_MS
        ? { cpu: '2', memory: '1200Mi' }
        : { cpu: '200m', memory: '300Mi' },
    explain:
      'one pod of five at 2 cores / 1200Mi for 10 s: under 10% of the CPU samples (or container-time), so the CPU ' +
      'P90 stays at the 200m baseline; memory is one peak per pod per 24h interval, each of equal weight, so the ' +
      "spiking pod's peak is 1 of 5 and the P90 is the spike.",
  },
  {
    name: 'leak',
    replicas: 2,
    containers: [
      {
        name: 'app',
        requests: requests('500m', '1Gi'),
        usage: { cpu: '250m', memory: `${LEAK_START_MI}Mi` },
      },
    ],
    usageAt: (_index, ms) => ({
      cpu: '250m',
      memory: `${LEAK_START_MI + LEAK_STEP_MI * Math.min(Math.floor(ms / LEAK_STEP_MS), PLAY_MS / LEAK_STEP_MS)}Mi`,
    }),
    explain:
      `memory growing by ${LEAK_STEP_MI}Mi every 10 s: the one peak per pod so far is the latest value, so both ` +
      'recommend the last reading x 1.15 and neither extrapolates the growth; they differ by how recent the last reading is.',
  },
];

interface Resources {
  cpu?: string;
  memory?: string;
}
interface VpaView {
  status?: {
    recommendation?: {
      containerRecommendations?: {
        containerName: string;
        target: Resources;
        lowerBound?: Resources;
        upperBound?: Resources;
      }[];
    };
  };
}
/** One side's numbers for a container: CPU in cores, memory in bytes. */
interface Numbers {
  cpu: { target: number; lowerBound?: number; upperBound?: number };
  memory: { target: number; lowerBound?: number; upperBound?: number };
}
interface OurItem {
  workload: { kind: string; name: string };
  container: string;
  strategy: string;
  history: { seconds: number; samples: number };
  confidence: number;
  cpu: { target: number | null; lowerBound: number | null; upperBound: number | null };
  memory: { target: number | null; lowerBound: number | null; upperBound: number | null };
}

const cores = (q: string | undefined) => (q === undefined ? undefined : parseCpuMillicores(q) / 1000);
const bytes = (q: string | undefined) => (q === undefined ? undefined : parseMemoryBytes(q));

function vpaNumbers(vpa: VpaView | undefined): Map<string, Numbers> {
  const out = new Map<string, Numbers>();
  for (const c of vpa?.status?.recommendation?.containerRecommendations ?? []) {
    const cpu = cores(c.target.cpu);
    const memory = bytes(c.target.memory);
    if (cpu === undefined || memory === undefined) continue;
    out.set(c.containerName, {
      cpu: { target: cpu, lowerBound: cores(c.lowerBound?.cpu), upperBound: cores(c.upperBound?.cpu) },
      memory: {
        target: memory,
        lowerBound: bytes(c.lowerBound?.memory),
        upperBound: bytes(c.upperBound?.memory),
      },
    });
  }
  return out;
}

function ourNumbers(item: OurItem | undefined): Numbers | undefined {
  if (!item || item.cpu.target === null || item.memory.target === null) return undefined;
  return {
    cpu: {
      target: item.cpu.target,
      lowerBound: item.cpu.lowerBound ?? undefined,
      upperBound: item.cpu.upperBound ?? undefined,
    },
    memory: {
      target: item.memory.target,
      lowerBound: item.memory.lowerBound ?? undefined,
      upperBound: item.memory.upperBound ?? undefined,
    },
  };
}

const fmtCpu = (v: number | undefined) => (v === undefined ? '-' : `${(v * 1000).toFixed(0)}m`);
const fmtMem = (v: number | undefined) => (v === undefined ? '-' : `${(v / MI).toFixed(1)}Mi`);
const diff = (ours: number, vpa: number) => `${(((ours - vpa) / vpa) * 100).toFixed(1)}%`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')).join('\n');
}

describe('right-sizing: our vpa strategy beside the VPA recommender on the same pods', () => {
  let operatorNamespace: string;
  let ns: string;
  let operator: OperatorHandle | undefined;
  let recommender: VpaRecommender | undefined;
  let token: string;
  const kubeconfig = () => testEnvironment().kubeconfig;

  beforeAll(async () => {
    await installVpaCrds(kubeconfig());
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('rightsizing');
    recommender = await startVpaRecommender({
      kubeconfig: kubeconfig(),
      intervalSeconds: RECOMMENDER_INTERVAL_S,
      namespace: ns,
    });
    operator = await startTestOperator({ namespace: operatorNamespace, database: uniqueName('rightsizing') });
    token = await namespaceViewerToken(ns);
    await apply(
      `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: rightsizing}
spec: {selector: {matchLabels: {rightsizing: "true"}}, interval: 10s}
`,
      ns,
    );
  });
  afterAll(async () => {
    await recommender?.stop();
    await operator?.stop();
    if (ns) await deleteNamespace(ns);
    if (operatorNamespace) await deleteNamespace(operatorNamespace);
    await uninstallVpaCrds(kubeconfig()).catch(() => undefined);
  });

  const ours = async (): Promise<OurItem[]> => {
    const response = await fetch(
      `${operator!.url}/api/v1/namespaces/${ns}/recommendations?window=8d&strategy=vpa`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    if (response.status !== 200)
      throw new Error(`recommendations: HTTP ${response.status} ${await response.text()}`);
    return ((await response.json()) as { items: OurItem[] }).items;
  };
  const ourItem = (items: OurItem[], workload: string, container: string) =>
    items.find(
      (i) => i.workload.kind === 'Deployment' && i.workload.name === workload && i.container === container,
    );

  it('agrees with VPA on steady workloads within 10%, and shows and explains the others', async () => {
    for (const w of WORKLOADS) {
      await createDeployment(ns, {
        name: w.name,
        replicas: w.replicas,
        labels: { rightsizing: 'true' },
        containers: w.containers,
      });
      await apply(
        JSON.stringify({
          apiVersion: 'autoscaling.k8s.io/v1',
          kind: 'VerticalPodAutoscaler',
          metadata: { name: w.name },
          spec: {
            targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: w.name },
            updatePolicy: { updateMode: 'Off' },
          },
        }),
        ns,
      );
    }
    const pods = new Map<string, string[]>();
    for (const w of WORKLOADS) {
      const running = await waitFor(
        `${w.replicas} running pods of ${w.name}`,
        async () => {
          const list = (await listPods(ns, `app=${w.name}`)).filter((p) => p.status?.phase === 'Running');
          return list.length === w.replicas ? list.map((p) => p.metadata!.name!).sort() : undefined;
        },
        { timeoutMs: 60_000 },
      );
      pods.set(w.name, running);
    }

    // Play the schedule: each tick sets the usage each pod should have by now (when it changed).
    const started = Date.now();
    const current = new Map<string, string>();
    for (let tick = 0; ; tick++) {
      const ms = Math.min(tick * 5_000, PLAY_MS);
      const due = started + ms - Date.now();
      if (due > 0) await new Promise((r) => setTimeout(r, due));
      for (const w of WORKLOADS) {
        if (!w.usageAt) continue;
        const names = pods.get(w.name) ?? [];
        for (const [index, pod] of names.entries()) {
          const usage = w.usageAt(index, ms);
          const key = JSON.stringify(usage);
          if (current.get(pod) === key) continue;
          // The containers' own annotations (the template's) win over the pod's: set the container's.
          if (ms > 0) await setPodUsage(ns, pod, usage, w.containers[0]!.name);
          current.set(pod, key);
        }
      }
      if (ms >= PLAY_MS) break;
    }

    // Both have seen the leak's last step once their leak memory target covers it (readings
    // are taken in order, so everything before it is in as well).
    const leakFinal = memoryBucketEnd(LEAK_FINAL_MI * MI) * MARGIN;
    const vpa = await waitFor(
      "VPA's recommendations including the leak's last step",
      async () => {
        const all = new Map<string, Map<string, Numbers>>();
        for (const w of WORKLOADS) all.set(w.name, vpaNumbers(await getObject<VpaView>('vpa', ns, w.name)));
        const complete = WORKLOADS.every((w) => w.containers.every((c) => all.get(w.name)?.has(c.name)));
        const leak = all.get('leak')?.get('app');
        return complete && leak && leak.memory.target >= leakFinal * 0.999 ? all : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    const items = await waitFor(
      "our recommendations including the leak's last step",
      async () => {
        const list = await ours();
        const leak = ourNumbers(ourItem(list, 'leak', 'app'));
        const complete = WORKLOADS.every((w) =>
          w.containers.every((c) => ourNumbers(ourItem(list, w.name, c.name))),
        );
        return complete && leak && leak.memory.target >= leakFinal * 0.999 ? list : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );

    const rows: string[][] = [
      [
        'workload/container',
        'resource',
        'VPA target',
        'ours target',
        'ours-VPA',
        'VPA lower..upper',
        'ours lower..upper',
      ],
    ];
    const failures: string[] = [];
    for (const w of WORKLOADS) {
      for (const c of w.containers) {
        const theirs = vpa.get(w.name)!.get(c.name)!;
        const item = ourItem(items, w.name, c.name);
        const mine = ourNumbers(item) ?? { cpu: { target: NaN }, memory: { target: NaN } };
        for (const resource of ['cpu', 'memory'] as const) {
          const fmt = resource === 'cpu' ? fmtCpu : fmtMem;
          const t = theirs[resource];
          const o = mine[resource];
          rows.push([
            `${w.name}/${c.name}`,
            resource,
            fmt(t.target),
            fmt(o.target),
            diff(o.target, t.target),
            `${fmt(t.lowerBound)}..${fmt(t.upperBound)}`,
            `${fmt(o.lowerBound)}..${fmt(o.upperBound)}`,
          ]);
          if (w.name === 'steady') {
            const usage = resource === 'cpu' ? cores(c.usage!.cpu)! : bytes(c.usage!.memory)!;
            const truth = (resource === 'cpu' ? cpuBucketEnd(usage) : memoryBucketEnd(usage)) * MARGIN;
            // VPA keeps whole millicores and bytes, truncating the percentile and then the
            // percentile x 1.15: below the truth by less than 2.15 units.
            const unit = resource === 'cpu' ? 0.001 : 1;
            const short = truth - t.target;
            const vpaOk = short > -truth * 1e-9 && short < (MARGIN + 1) * unit;
            if (!vpaOk)
              failures.push(
                `VPA's ${w.name}/${c.name} ${resource} target ${t.target} is not the truth ${truth}`,
              );
            if (Math.abs(o.target - t.target) > TOLERANCE * t.target)
              failures.push(
                `our ${w.name}/${c.name} ${resource} target ${o.target} is not within 10% of VPA's ${t.target}`,
              );
          }
        }
        rows.push([
          `  history: ${item?.history.seconds ?? '-'} s, ${item?.history.samples ?? '-'} samples, confidence ${item?.confidence ?? '-'}`,
        ]);
      }
    }
    const explanations = WORKLOADS.map((w) => `- ${w.name}: ${w.explain}`).join('\n');
    console.log(
      `Recommendations side by side (VPA ${recommender!.args.join(' ')}; ours: strategy vpa, window 8d)\n` +
        `${table(rows)}\n\nWhy they differ (or not):\n${explanations}\n` +
        '- bounds: VPA multiplies its upper bound by (1 + 1/c), c = min(days of history, samples / 1440): minutes ' +
        'of history make it thousands of times the target (autoscaler#1182); ours stay within a few times the ' +
        'target (docs/rightsizing.md). The targets do not depend on the confidence.',
    );
    expect(failures).toEqual([]);
  });
});
