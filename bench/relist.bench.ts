/**
 * A re-list of every pod, on the test cluster: kwok nodes with pods of two containers each
 * (default 1,000 nodes x 30 pods: 30,000 pods), watched by the operator's pod informer (its
 * list/watch, the PodIndex transform and handlers) in a process of its own, run with the Node
 * options of the Deployment (manifests/base/deployment.yaml) and --expose-gc. Printed: the heap
 * after GC before the informer starts and once it has synced (the live set), then for two
 * re-lists forced the way an expired watch forces them (the watch fails with 410), one where no
 * pod changed and one where every pod changed: the peak heap (used, and allocated) and RSS while
 * the re-list runs, beside the steady state, and the time it took; and what a re-list holds (the
 * heap after a full GC at each page boundary), apart from garbage not yet collected. The same is measured again with
 * the list gathered whole (every page held) before it is applied, for comparison.
 *
 * Sizes: KUO_BENCH_RELIST_NODES (1000), KUO_BENCH_RELIST_PODS_PER_NODE (30);
 * KUO_BENCH_RELIST_NODE_OPTIONS replaces the Deployment's Node options. The cluster is started
 * as for the integration tests (test/harness/servers.ts), or taken from KUBECONFIG.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { coreApi, createPods, deleteNamespace, newNamespace, waitFor } from '../test/harness/index.js';
import { ENV_KEYS } from '../test/harness/environment.js';
import { createNodes, deleteNodes } from '../test/harness/nodes.js';
import { startServers, stopServers } from '../test/harness/servers.js';

const CREATE_CONCURRENCY = 24;
/** Pods Running are waited for at most this long (a pod without its status is smaller). */
const RUNNING_TIMEOUT_MS = 20 * 60_000;

const run_ = promisify(execFile);
const MiB = 2 ** 20;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);
const pct = (value: number, base: number) =>
  `${value >= base ? '+' : ''}${(((value - base) / base) * 100).toFixed(0)}%`;

function size(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}=${text}: expected a positive integer`);
  return value;
}

interface Memory {
  heapUsed: number;
  heapTotal: number;
  rss: number;
}
interface Relist {
  heapUsed: number;
  heapTotal: number;
  rss: number;
  pages: number;
  live: number;
  ms: number;
  after: Memory;
}
interface Figures {
  pods: number;
  cached: number;
  baseline: Memory;
  initial: Relist;
  steady: Memory;
  unchanged: Relist;
  changed: Relist;
  held: Relist;
}

/** The Node options the Deployment gives the operator (its NODE_OPTIONS variable). */
async function deploymentNodeOptions(): Promise<string[]> {
  const manifest = await readFile(
    join(import.meta.dirname, '..', 'manifests', 'base', 'deployment.yaml'),
    'utf8',
  );
  const value = /- name: NODE_OPTIONS\s*\n\s*value: (.+)/.exec(manifest)?.[1];
  if (value === undefined) throw new Error('manifests/base/deployment.yaml sets no NODE_OPTIONS');
  return value.trim().split(/\s+/);
}

/** The informer bundled (esbuild) and run with plain node, as the image runs the operator. */
async function inOwnProcess(
  dir: string,
  kubeconfig: string,
  nodeOptions: string[],
  mode: 'paged' | 'gather',
): Promise<Figures> {
  const bundle = join(dir, 'relist-process.mjs');
  await build({
    entryPoints: [join(import.meta.dirname, 'relist-process.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    logLevel: 'silent',
    // client-node's CommonJS dependencies call require().
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
  const { stdout } = await run_(process.execPath, [...nodeOptions, '--expose-gc', bundle, kubeconfig, mode], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout) as Figures;
}

function report(f: Figures, nodeOptions: string[], title: string): void {
  const live = f.steady.heapUsed - f.baseline.heapUsed;
  console.log(
    `${title}: pod informer over ${f.pods.toLocaleString('en-US')} pods (${f.cached.toLocaleString('en-US')} in the pod index), ` +
      `node ${nodeOptions.join(' ')} --expose-gc:`,
  );
  console.log(
    `  heap after GC    ${mib(f.baseline.heapUsed)} MiB before the informer starts, ${mib(f.steady.heapUsed)} MiB synced ` +
      `(live set of the cache ${mib(live)} MiB, ${((live / f.pods) | 0).toLocaleString('en-US')} B per pod); RSS ${mib(f.steady.rss)} MiB`,
  );
  console.log(
    `  first list       ${(f.initial.ms / 1000).toFixed(1)} s, ${f.initial.pages} pages; peak heap used ${mib(f.initial.heapUsed)} MiB`,
  );
  for (const [name, r] of [
    ['re-list, no pod changed  ', f.unchanged],
    ['re-list, every pod changed', f.changed],
  ] as const)
    console.log(
      `  ${name} ${(r.ms / 1000).toFixed(1)} s, ${r.pages} pages: peak heap used ${mib(r.heapUsed)} MiB ` +
        `(${pct(r.heapUsed, f.steady.heapUsed)} over the steady state), heap allocated ${mib(r.heapTotal)} MiB ` +
        `(${pct(r.heapTotal, f.steady.heapTotal)}), RSS ${mib(r.rss)} MiB (${pct(r.rss, f.steady.rss)}); ` +
        `after GC ${mib(r.after.heapUsed)} MiB`,
    );
  const h = f.held;
  console.log(
    `  held by a re-list (every pod changed; full GC before and after each page): at most ${mib(h.live)} MiB of heap, ` +
      `${pct(h.live, f.steady.heapUsed)} over the steady state (${mib(h.live - f.steady.heapUsed)} MiB)`,
  );
}

export async function run(): Promise<void> {
  const nodesWanted = size('KUO_BENCH_RELIST_NODES', 1000);
  const podsPerNode = size('KUO_BENCH_RELIST_PODS_PER_NODE', 30);
  const nodeOptions =
    process.env.KUO_BENCH_RELIST_NODE_OPTIONS !== undefined
      ? process.env.KUO_BENCH_RELIST_NODE_OPTIONS.split(/\s+/).filter(Boolean)
      : await deploymentNodeOptions();
  const dir = await mkdtemp(join(tmpdir(), 'kuo-bench-relist-'));
  let startedCluster = false;
  let namespace: string | undefined;
  let nodes: string[] = [];
  try {
    console.log(`starting the test cluster; then ${nodesWanted} nodes x ${podsPerNode} pods`);
    await startServers();
    startedCluster = (globalThis.kuoStartedServers?.clusters.length ?? 0) > 0;
    const kubeconfig = process.env[ENV_KEYS.kubeconfig]!;
    namespace = await newNamespace('relist');
    nodes = Array.from({ length: nodesWanted }, (_, n) => `relist-node-${n}`);
    let t = performance.now();
    await createNodes(kubeconfig, nodes, CREATE_CONCURRENCY);
    console.log(`created ${nodes.length} nodes in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const pods = nodes.flatMap((node, n) =>
      Array.from({ length: podsPerNode }, (_, p) => ({
        name: `p-${n}-${p}`,
        node,
        labels: { app: 'relist', team: `team-${p % 5}` },
        usage: { cpu: '5m', memory: '16Mi' },
        containers: [0, 1].map((c) => ({ name: `c${c}`, requests: { cpu: '10m', memory: '32Mi' } })),
      })),
    );
    t = performance.now();
    await createPods(namespace, pods, CREATE_CONCURRENCY);
    const createS = (performance.now() - t) / 1000;
    console.log(
      `created ${pods.length.toLocaleString('en-US')} pods in ${createS.toFixed(1)} s (${(pods.length / createS).toFixed(0)}/s)`,
    );
    t = performance.now();
    const ns = namespace;
    let running = 0;
    await waitFor(
      `${pods.length} pods Running`,
      async () => {
        const list = await coreApi().listNamespacedPod({
          namespace: ns,
          fieldSelector: 'status.phase=Running',
        });
        running = list.items.length;
        return running === pods.length;
      },
      { timeoutMs: RUNNING_TIMEOUT_MS, intervalMs: 15_000 },
    ).catch(() => undefined);
    console.log(
      `${running.toLocaleString('en-US')} pods Running after ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    report(
      await inOwnProcess(dir, kubeconfig, nodeOptions, 'paged'),
      nodeOptions,
      'each page applied as it arrives',
    );
    report(
      await inOwnProcess(dir, kubeconfig, nodeOptions, 'gather'),
      nodeOptions,
      'for comparison, the list gathered whole before it is applied',
    );
  } finally {
    const kubeconfig = process.env[ENV_KEYS.kubeconfig];
    if (!startedCluster && kubeconfig) {
      if (namespace) await deleteNamespace(namespace).catch(() => undefined);
      await deleteNodes(kubeconfig, nodes, CREATE_CONCURRENCY).catch(() => undefined);
    }
    await stopServers();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
