/**
 * The kubelet source's per-cycle work: the `/metrics/resource` answers of 100 nodes with 50
 * pods x 2 containers each (10,000 containers, as a kubelet writes them: HELP/TYPE lines, node
 * and pod metrics, stats timestamps) parsed and joined with the pod cache into readings.
 */
import { performance } from 'node:perf_hooks';
import { readingsOfNode } from '../operator/sources/kubelet/kubelet-readings.js';
import { podLookup } from '../operator/sources/pod-lookup.js';
import { parseResourceMetrics } from '../operator/sources/kubelet/resource-metrics.js';

const NODES = 100;
const PODS_PER_NODE = 50;
const CONTAINERS_PER_POD = 2;
const ROUNDS = 30;
const NOW = Date.UTC(2026, 11, 2, 1, 0, 0);

interface Pod {
  namespace: string;
  name: string;
  uid: string;
  node: string;
}

function header(name: string, type: string, help: string): string {
  return `# HELP ${name} [STABLE] ${help}\n# TYPE ${name} ${type}\n`;
}

/** One node's answer, in the kubelet's order (one metric family after the other). */
function nodeAnswer(node: number, pods: Pod[]): string {
  const stamp = NOW - 1_234 + node;
  const series = pods.flatMap((p, i) =>
    Array.from({ length: CONTAINERS_PER_POD }, (_, c) => ({
      labels: `{container="c${c}",namespace="${p.namespace}",pod="${p.name}"}`,
      cpu: (1234.567891 + i * 0.37 + c).toString(),
      memory: (22_244 * 1024 + i * 4096 + c).toString(),
      start: (1_764_600_000 + i + c / 1000).toString(),
    })),
  );
  let text = header(
    'container_cpu_usage_seconds_total',
    'counter',
    'Cumulative cpu time consumed by the container in core-seconds',
  );
  for (const s of series) text += `container_cpu_usage_seconds_total${s.labels} ${s.cpu} ${stamp}\n`;
  text += header(
    'container_memory_working_set_bytes',
    'gauge',
    'Current working set of the container in bytes',
  );
  for (const s of series) text += `container_memory_working_set_bytes${s.labels} ${s.memory} ${stamp}\n`;
  text += header(
    'container_start_time_seconds',
    'gauge',
    'Start time of the container since unix epoch in seconds',
  );
  for (const s of series) text += `container_start_time_seconds${s.labels} ${s.start} ${stamp}\n`;
  text += header(
    'node_cpu_usage_seconds_total',
    'counter',
    'Cumulative cpu time consumed by the node in core-seconds',
  );
  text += `node_cpu_usage_seconds_total 35641.871306 ${stamp}\n`;
  text += header('node_memory_working_set_bytes', 'gauge', 'Current working set of the node in bytes');
  text += `node_memory_working_set_bytes 1.175588864e+09 ${stamp}\n`;
  text += header(
    'pod_cpu_usage_seconds_total',
    'counter',
    'Cumulative cpu time consumed by the pod in core-seconds',
  );
  for (const p of pods)
    text += `pod_cpu_usage_seconds_total{namespace="${p.namespace}",pod="${p.name}"} 2469.1 ${stamp}\n`;
  text += header('pod_memory_working_set_bytes', 'gauge', 'Current working set of the pod in bytes');
  for (const p of pods)
    text += `pod_memory_working_set_bytes{namespace="${p.namespace}",pod="${p.name}"} 45555712 ${stamp}\n`;
  text += header(
    'resource_scrape_error',
    'gauge',
    '1 if there was an error while getting container metrics, 0 otherwise',
  );
  text += 'resource_scrape_error 0\n';
  return text;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function measure(label: string, containers: number, bytes: number, once: () => void): void {
  for (let i = 0; i < 5; i++) once(); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const startCpu = process.cpuUsage();
    const start = performance.now();
    once();
    wall.push(performance.now() - start);
    const used = process.cpuUsage(startCpu);
    cpu.push((used.user + used.system) / 1000);
  }
  const perSecond = (ms: number) => Math.round((containers / ms) * 1000).toLocaleString('en-US');
  const mbPerSecond = (ms: number) => (bytes / 2 ** 20 / (ms / 1000)).toFixed(0);
  console.log(
    `${label.padEnd(36)} wall ${median(wall).toFixed(1).padStart(6)} ms` +
      `  cpu ${median(cpu).toFixed(1).padStart(6)} ms (${perSecond(median(cpu)).padStart(9)} containers/s,` +
      ` ${mbPerSecond(median(cpu)).padStart(4)} MiB/s)`,
  );
}

export async function run(): Promise<void> {
  const nodes: { name: string; text: string }[] = [];
  const pods: Pod[] = [];
  for (let n = 0; n < NODES; n++) {
    const node = `node-${n}`;
    const onNode = Array.from({ length: PODS_PER_NODE }, (_, p) => ({
      namespace: `team-${(n * PODS_PER_NODE + p) % 50}`,
      name: `web-${n}-${p}`,
      uid: `0e6b1c4e-${n}-${p}`,
      node,
    }));
    pods.push(...onNode);
    // Flat strings, as a decoded HTTP body is (not the ropes that += builds).
    nodes.push({ name: node, text: Buffer.from(nodeAnswer(n, onNode)).toString() });
  }
  const containers = NODES * PODS_PER_NODE * CONTAINERS_PER_POD;
  const bytes = nodes.reduce((sum, n) => sum + n.text.length, 0);
  const lines = nodes.reduce((sum, n) => sum + n.text.split('\n').length - 1, 0);
  const lookup = podLookup(pods);
  let readings = 0;

  console.log(
    `kubelet /metrics/resource, ${NODES} nodes, ${containers.toLocaleString('en-US')} containers per cycle ` +
      `(${(bytes / 2 ** 20).toFixed(1)} MiB, ${lines.toLocaleString('en-US')} lines; median of ${ROUNDS})`,
  );
  measure('parse', containers, bytes, () => {
    for (const n of nodes) parseResourceMetrics(n.text, NOW);
  });
  measure('parse + join with pods -> readings', containers, bytes, () => {
    readings = 0;
    for (const n of nodes)
      readings += readingsOfNode(n.name, parseResourceMetrics(n.text, NOW).containers, lookup).readings
        .length;
  });
  measure('pod lookup index (once per cycle)', containers, bytes, () => podLookup(pods));
  if (readings !== containers) throw new Error(`expected ${containers} readings, got ${readings}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
