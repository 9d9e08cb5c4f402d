/**
 * End to end at scale, on the test cluster: kwok nodes with pods of two containers each
 * (default 100 nodes x 50 pods: 5,000 pods, 10,000 containers), one UsagePolicy collecting them
 * every 15 s from the nodes' resource endpoints (the kubelet source; kwok serves them), for
 * KUO_BENCH_SCALE_MINUTES (default 10). The operator runs as a process of its own, so that its
 * CPU time and resident memory (/proc/<pid>/stat, /proc/<pid>/status) are its alone; it talks to
 * the apiserver through a request-counting proxy on 127.0.0.1. Printed: CPU seconds per minute,
 * peak RSS, cycle duration p50/p99, apiserver requests per cycle, node reads that failed per
 * cycle, and the per-node figures beside metrics-server's budget (about 1 millicore and 2 MB
 * per node), with the cluster's own metrics-server, kwok and kube-apiserver measured alongside.
 *
 * The operator runs with the Node options of the Deployment (manifests/base/deployment.yaml: its
 * heap capped below the container's memory limit), as it runs when installed;
 * KUO_BENCH_SCALE_NODE_OPTIONS replaces them (empty: Node's defaults, whose heap grows with the
 * machine's memory before the collector has to reclaim garbage).
 *
 * Sizes: KUO_BENCH_SCALE_NODES (100), KUO_BENCH_SCALE_PODS_PER_NODE (50). The cluster and
 * FerretDB are started as for the integration tests (test/harness/servers.ts), or taken from
 * KUBECONFIG / MONGODB_URI.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createPods,
  deleteNamespace,
  apply,
  coreApi,
  newNamespace,
  uniqueName,
  waitFor,
} from '../test/harness/index.js';
import { startApiserverProxy, type ApiserverProxy } from '../test/harness/apiserver-proxy.js';
import { ENV_KEYS } from '../test/harness/environment.js';
import { createNodes, deleteNodes } from '../test/harness/nodes.js';
import { spawnOperator, type OperatorProcess } from '../test/harness/operator.js';
import { startServers, stopServers } from '../test/harness/servers.js';
import { cpuSeconds, percentile, residentBytes } from './process-usage.js';

const INTERVAL_S = 15;
const CONTAINERS_PER_POD = 2;
const POLICY = 'scale';
/** API requests in flight while the nodes and pods are created. */
const CREATE_CONCURRENCY = 24;
/** metrics-server's documented budget per node. */
const BUDGET = { millicoresPerNode: 1, bytesPerNode: 2e6 };
/** Cluster components measured beside the operator (kwokctl's pid files). */
const COMPONENTS = ['metrics-server', 'kwok-controller', 'kube-apiserver', 'etcd'];

interface Sizes {
  minutes: number;
  nodes: number;
  podsPerNode: number;
}

function sizeFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${text}: expected a positive number`);
  return value;
}

function sizes(): Sizes {
  return {
    minutes: sizeFromEnv('KUO_BENCH_SCALE_MINUTES', 10),
    nodes: Math.round(sizeFromEnv('KUO_BENCH_SCALE_NODES', 100)),
    podsPerNode: Math.round(sizeFromEnv('KUO_BENCH_SCALE_PODS_PER_NODE', 50)),
  };
}

/** One 'collection cycle' line of the operator's debug log. */
interface CycleLog {
  message: string;
  name?: string;
  durationMs: number;
  source: string;
  samples: number;
  unreadableNodes: Record<string, number>;
}

function cyclesOf(operator: OperatorProcess, from = 0): CycleLog[] {
  return operator.logs
    .slice(from)
    .filter(
      (l): l is Record<string, unknown> & CycleLog => l.message === 'collection cycle' && l.name === POLICY,
    );
}

/** The pid of a kwokctl component of the test cluster, when it runs on this machine. */
function componentPid(cluster: string | undefined, component: string): number | undefined {
  if (cluster === undefined) return undefined;
  const cache =
    process.env.KUO_CACHE_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kube-usage-operator');
  try {
    const pid = Number(
      readFileSync(join(cache, 'kwok', 'clusters', cluster, 'pids', `${component}.pid`), 'utf8').trim(),
    );
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const MiB = 2 ** 20;
const fmt = (n: number, digits = 1) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function createFleet(kubeconfig: string, namespace: string, nodes: string[], s: Sizes): Promise<void> {
  let t = performance.now();
  await createNodes(kubeconfig, nodes, CREATE_CONCURRENCY);
  console.log(`created ${nodes.length} nodes in ${fmt((performance.now() - t) / 1000)} s`);
  const pods = nodes.flatMap((node, n) =>
    Array.from({ length: s.podsPerNode }, (_, p) => ({
      name: `p-${n}-${p}`,
      node,
      labels: { app: POLICY },
      usage: { cpu: `${5 + (p % 10)}m`, memory: `${16 + (p % 8)}Mi` },
      containers: Array.from({ length: CONTAINERS_PER_POD }, (_, c) => ({
        name: `c${c}`,
        requests: { cpu: '10m', memory: '32Mi' },
      })),
    })),
  );
  t = performance.now();
  await createPods(namespace, pods, CREATE_CONCURRENCY);
  console.log(
    `created ${pods.length.toLocaleString('en-US')} pods in ${fmt((performance.now() - t) / 1000)} s`,
  );
  t = performance.now();
  await waitFor(
    `${pods.length} pods Running`,
    async () => {
      const list = await coreApi().listNamespacedPod({ namespace, fieldSelector: 'status.phase=Running' });
      return list.items.length === pods.length;
    },
    { timeoutMs: 15 * 60_000, intervalMs: 5_000 },
  );
  console.log(`pods Running after ${fmt((performance.now() - t) / 1000)} s`);
}

/** The Node options the Deployment gives the operator (its NODE_OPTIONS variable). */
function deploymentNodeOptions(): string {
  const manifest = readFileSync(
    join(import.meta.dirname, '..', 'manifests', 'base', 'deployment.yaml'),
    'utf8',
  );
  const value = /- name: NODE_OPTIONS\s*\n\s*value: (.+)/.exec(manifest)?.[1];
  if (value === undefined) throw new Error('manifests/base/deployment.yaml sets no NODE_OPTIONS');
  return value.trim();
}

interface Measurement {
  seconds: number;
  cpuSeconds: number;
  peakRss: number;
  hwm: number;
  cycles: CycleLog[];
  requests: Map<string, number>;
  components: { name: string; cpuSeconds: number; rss: number }[];
}

async function measure(
  operator: OperatorProcess,
  proxy: ApiserverProxy,
  cluster: string | undefined,
  minutes: number,
): Promise<Measurement> {
  const pid = operator.child.pid!;
  const pids = COMPONENTS.map((name) => ({ name, pid: componentPid(cluster, name) }));
  pids.push({ name: 'ferretdb', pid: globalThis.kuoStartedServers?.ferretdb?.pid });
  const components = pids.flatMap(({ name, pid: p }) =>
    p === undefined ? [] : [{ name, pid: p, cpu0: cpuSeconds(p), rss: residentBytes(p).rss }],
  );
  const from = operator.logs.length;
  proxy.resetCounts();
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  let peakRss = residentBytes(pid).rss;
  const end = t0 + minutes * 60_000;
  while (performance.now() < end) {
    await sleep(Math.min(1_000, end - performance.now()));
    peakRss = Math.max(peakRss, residentBytes(pid).rss);
    for (const c of components) c.rss = Math.max(c.rss, residentBytes(c.pid).rss);
  }
  return {
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: cpuSeconds(pid) - cpu0,
    peakRss,
    hwm: residentBytes(pid).peak,
    cycles: cyclesOf(operator, from),
    requests: proxy.countsByRoute(),
    components: components.map((c) => ({ name: c.name, cpuSeconds: cpuSeconds(c.pid) - c.cpu0, rss: c.rss })),
  };
}

function report(s: Sizes, m: Measurement): void {
  const containers = s.nodes * s.podsPerNode * CONTAINERS_PER_POD;
  const cycles = m.cycles.length;
  const perMinute = (seconds: number) => (seconds / m.seconds) * 60;
  const millicores = (seconds: number) => (seconds / m.seconds) * 1000;
  const durations = m.cycles.map((c) => c.durationMs / 1000);
  const totalRequests = [...m.requests.values()].reduce((a, b) => a + b, 0);
  const failed = m.cycles.map((c) => Object.values(c.unreadableNodes).reduce((a, b) => a + b, 0));
  const byReason = new Map<string, number>();
  for (const c of m.cycles)
    for (const [reason, n] of Object.entries(c.unreadableNodes))
      byReason.set(reason, (byReason.get(reason) ?? 0) + n);
  const perCycle = (n: number) => (cycles === 0 ? NaN : n / cycles);

  console.log(
    `\n${s.nodes} nodes x ${s.podsPerNode} pods = ${(s.nodes * s.podsPerNode).toLocaleString('en-US')} pods, ` +
      `${containers.toLocaleString('en-US')} containers; interval ${INTERVAL_S} s; measured ${fmt(m.seconds / 60)} min: ` +
      `${cycles} cycles of ${Math.floor(m.seconds / INTERVAL_S)} ticks`,
  );
  const cpuPerMin = perMinute(m.cpuSeconds);
  console.log(
    `operator CPU          ${fmt(cpuPerMin, 2)} s/min = ${fmt(millicores(m.cpuSeconds))} millicores; ` +
      `${fmt(millicores(m.cpuSeconds) / s.nodes, 2)} millicores/node (metrics-server budget ~${BUDGET.millicoresPerNode})`,
  );
  console.log(
    `operator RSS          peak ${fmt(m.peakRss / MiB)} MiB while measured (VmHWM ${fmt(m.hwm / MiB)} MiB, start-up included); ` +
      `${fmt(m.peakRss / s.nodes / 1e6, 2)} MB/node (metrics-server budget ~${BUDGET.bytesPerNode / 1e6})`,
  );
  console.log(
    `cycle duration        p50 ${fmt(percentile(durations, 50), 2)} s, p99 ${fmt(percentile(durations, 99), 2)} s, ` +
      `max ${fmt(Math.max(...durations), 2)} s; sources: ${[...new Set(m.cycles.map((c) => c.source))].join(', ')}; ` +
      `samples/cycle ${fmt(perCycle(m.cycles.reduce((a, c) => a + c.samples, 0)), 0)}`,
  );
  const routes = [...m.requests.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([route, n]) => `${route} ${fmt(perCycle(n), 2)}`)
    .join(', ');
  console.log(
    `apiserver requests    ${fmt(perCycle(totalRequests), 2)} per cycle (${totalRequests} in all): ${routes || 'none'}`,
  );
  console.log(
    `node reads            ${s.nodes} per cycle; timed out or failed: mean ${fmt(perCycle(failed.reduce((a, b) => a + b, 0)), 2)}, ` +
      `max ${failed.length ? Math.max(...failed) : 0} per cycle` +
      (byReason.size ? ` (${[...byReason].map(([r, n]) => `${r}: ${n}`).join(', ')})` : ''),
  );
  for (const c of m.components)
    console.log(
      `alongside: ${c.name.padEnd(16)}${fmt(perMinute(c.cpuSeconds), 2)} s/min = ${fmt(millicores(c.cpuSeconds))} millicores, ` +
        `peak RSS ${fmt(c.rss / MiB)} MiB`,
    );
}

export async function run(): Promise<void> {
  const s = sizes();
  const containers = s.nodes * s.podsPerNode * CONTAINERS_PER_POD;
  let operator: OperatorProcess | undefined;
  let proxy: ApiserverProxy | undefined;
  let nodes: string[] = [];
  const namespaces: string[] = [];
  let startedCluster = false;
  let stopping: Promise<void> | undefined;
  const cleanup = () => (stopping ??= stopAll());
  const stopAll = async () => {
    await operator?.terminate().catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    const kubeconfig = process.env[ENV_KEYS.kubeconfig];
    // A cluster started here is deleted whole; a given one gets its objects removed.
    if (!startedCluster && kubeconfig) {
      for (const ns of namespaces) await deleteNamespace(ns);
      await deleteNodes(kubeconfig, nodes, CREATE_CONCURRENCY).catch(() => undefined);
    }
    await stopServers();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`${signal}: stopping the operator and the servers`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    console.log(
      `starting the test cluster and FerretDB; then ${s.nodes} nodes x ${s.podsPerNode} pods ` +
        `(${containers.toLocaleString('en-US')} containers), ${s.minutes} min at ${INTERVAL_S} s`,
    );
    await startServers();
    startedCluster = (globalThis.kuoStartedServers?.clusters.length ?? 0) > 0;
    const kubeconfig = process.env[ENV_KEYS.kubeconfig]!;
    const cluster = process.env[ENV_KEYS.clusterName] || undefined;
    const namespace = await newNamespace('scale');
    const operatorNamespace = await newNamespace('kuo-scale');
    namespaces.push(namespace, operatorNamespace);
    nodes = Array.from({ length: s.nodes }, (_, n) => `scale-node-${n}`);
    await createFleet(kubeconfig, namespace, nodes, s);

    proxy = await startApiserverProxy();
    const nodeOptions = process.env.KUO_BENCH_SCALE_NODE_OPTIONS ?? deploymentNodeOptions();
    console.log(`operator NODE_OPTIONS: ${nodeOptions || '(none: Node defaults)'}`);
    operator = spawnOperator(
      {
        namespace: operatorNamespace,
        database: uniqueName('scale'),
        kubeconfig: proxy.kubeconfig,
        args: ['--kubelet-certificate-authority', proxy.caFile],
      },
      { NODE_OPTIONS: nodeOptions },
    );
    const started = operator;
    await waitFor('the operator to start', () => started.logs.some((l) => l.message === 'operator started'), {
      timeoutMs: 120_000,
    });
    await apply(
      `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: ${POLICY}}
spec: {selector: {matchLabels: {app: ${POLICY}}}, interval: ${INTERVAL_S}s}
`,
      namespace,
    );
    // Warm-up: until a cycle has every container from the kubelet source.
    const t = performance.now();
    await waitFor(
      `a cycle with ${containers} samples from the kubelets`,
      () => cyclesOf(started).some((c) => c.samples === containers && c.source === 'kubelet'),
      { timeoutMs: 10 * 60_000, intervalMs: 1_000 },
    );
    console.log(
      `first full cycle after ${fmt((performance.now() - t) / 1000)} s; measuring ${s.minutes} min`,
    );
    report(s, await measure(started, proxy, cluster, s.minutes));
  } catch (err) {
    const tail = operator?.logs.slice(-20).map((l) => JSON.stringify(l));
    if (tail?.length) console.error(`the operator's last log lines:\n${tail.join('\n')}`);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
