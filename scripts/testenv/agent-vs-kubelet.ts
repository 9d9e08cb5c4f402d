/**
 * make e2e-node: the node agent's figures for a real container against the kubelet's. The e2e
 * polls both endpoints for a while (scripts/testenv/node-e2e.sh) and saves every answer in one
 * folder: `kubelet-<ms>.prom` (`/metrics/resource`) and `agent-<ms>.json` (the agent's `/stats`),
 * each named by the time it was asked. Both read the same cgroup files (`cpuacct.usage` or
 * `cpu.stat usage_usec`; `memory.usage_in_bytes`/`memory.current` minus inactive file pages),
 * each at instants of its own that it stamps on the figure, so the comparison is of the two at
 * the kubelet's instants, with a bound that follows from the kernel's accounting:
 *
 * - CPU. The agent reads the counter about once a second (its --min-interval); at a kubelet
 *   instant t between two agent readings a <= t <= b the counter lies, as it never decreases
 *   and the container cannot use more than its CFS quota per period (nor more than every CPU
 *   of the node) in any stretch of time, within
 *     [max(C(a), C(b) - cap(b - t)), min(C(b), C(a) + cap(t - a))],
 *   each stretch lengthened by the stamping slack (both stamp a figure after reading its files).
 *   The kubelet's figure must lie in that interval at every instant, and its difference between
 *   the first and the last instant within the difference of the intervals.
 * - Working set. The agent's reading nearest in time to each kubelet instant: a container that
 *   allocates nothing reads the same up to the kernel's per-CPU batching, i.e. charges cached
 *   per CPU (up to MEMCG_CHARGE_BATCH = 64 pages each) in the usage counter, and as many pending
 *   updates per CPU in the inactive-file statistic before memory.stat is flushed: 2 x 64 pages
 *   per online CPU.
 *
 *   tsx scripts/testenv/agent-vs-kubelet.ts --dir DIR --cpus N --page-size BYTES
 *     --cpu NS/POD/CONTAINER --quota-us Q --period-us P [--memory NS/POD/CONTAINER]... [--io NS/POD]
 * prints the figures (`[e2e-node] ...`) and exits 1 when one is outside its bound.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { ContainerStats, NodeReport, PodStats } from '../../agent/types.js';
import { parseResourceMetrics } from '../../operator/sources/resource-metrics.js';

/** One reading of a counter or gauge: when it was taken (ms since epoch) and its value. */
export interface Reading {
  time: number;
  value: number;
}

/** What bounds a container's CPU use: the node's CPUs and the container's CFS bandwidth. */
export interface CpuBandwidth {
  cpus: number;
  /** `cpu.cfs_quota_us` (or the first field of `cpu.max`); absent without a limit. */
  quotaUs?: number;
  periodUs?: number;
}

/** Pages the kernel charges or counts per CPU before the totals catch up (MEMCG_CHARGE_BATCH). */
export const MEMCG_CHARGE_BATCH = 64;

/**
 * How long after reading a file each side stamps its figure, at most: the agent stamps a
 * container after the asynchronous reads of all its files, cAdvisor after all of its own.
 */
export const STAMP_SLACK_MS = 10;

/** The most core-seconds a container can use in `ms` milliseconds. */
export function cpuCap(bandwidth: CpuBandwidth, ms: number): number {
  const byCpus = (bandwidth.cpus * Math.max(0, ms)) / 1000;
  if (bandwidth.quotaUs === undefined || bandwidth.periodUs === undefined || bandwidth.quotaUs <= 0)
    return byCpus;
  // A stretch of time overlaps at most ceil(ms / period) + 1 periods, each worth one quota.
  const periods = Math.ceil((Math.max(0, ms) * 1000) / bandwidth.periodUs) + 1;
  return Math.min(byCpus, (periods * bandwidth.quotaUs) / 1e6);
}

/** The working-set difference the kernel's per-CPU batching allows between two reads. */
export function workingSetTolerance(cpus: number, pageSize: number): number {
  return 2 * MEMCG_CHARGE_BATCH * cpus * pageSize;
}

/** Readings sorted by time, one per time (an endpoint that answers from a cache repeats them). */
export function distinct(readings: readonly Reading[]): Reading[] {
  const sorted = [...readings].sort((x, y) => x.time - y.time);
  return sorted.filter((r, i) => i === 0 || r.time !== sorted[i - 1]!.time);
}

/** What the agent's readings say a counter was at time t. */
export interface CounterBounds {
  /** The agent's readings on either side of t. */
  before: Reading;
  after: Reading;
  /** Linear between them. */
  estimate: number;
  low: number;
  high: number;
}

/** The counter at t from the agent's readings around it; undefined when none are on both sides. */
export function counterAt(
  agent: readonly Reading[],
  t: number,
  bandwidth: CpuBandwidth,
  slackMs = STAMP_SLACK_MS,
): CounterBounds | undefined {
  const sorted = distinct(agent);
  const after = sorted.find((r) => r.time >= t);
  const before = sorted.findLast((r) => r.time <= t);
  if (!before || !after) return undefined;
  const span = after.time - before.time;
  const estimate =
    span === 0 ? before.value : before.value + ((after.value - before.value) * (t - before.time)) / span;
  // The stamps are up to slackMs after the reads: each stretch may be that much longer, and the
  // reads on either side may be that much out of order.
  const high = Math.min(
    after.value + cpuCap(bandwidth, slackMs),
    before.value + cpuCap(bandwidth, t - before.time + slackMs),
  );
  const low = Math.max(
    before.value - cpuCap(bandwidth, slackMs),
    after.value - cpuCap(bandwidth, after.time - t + slackMs),
  );
  return { before, after, estimate, low, high };
}

/** One kubelet instant against the agent's bounds there. */
export interface CpuInstant {
  kubelet: Reading;
  agent: CounterBounds;
  within: boolean;
}

export interface CpuComparison {
  instants: CpuInstant[];
  from: CpuInstant;
  to: CpuInstant;
  kubeletDelta: number;
  /** The agent's estimate of the same difference, and the interval the bounds allow. */
  agentDelta: number;
  deltaLow: number;
  deltaHigh: number;
  /** Every instant and the difference within their bounds. */
  ok: boolean;
}

/**
 * The kubelet's CPU counter against the agent's at every kubelet instant the agent's readings
 * surround, and over the longest such interval; undefined with fewer than two such instants
 * `minSpanMs` apart.
 */
export function compareCpu(
  kubelet: readonly Reading[],
  agent: readonly Reading[],
  bandwidth: CpuBandwidth,
  minSpanMs: number,
  slackMs = STAMP_SLACK_MS,
): CpuComparison | undefined {
  const instants: CpuInstant[] = [];
  for (const k of distinct(kubelet)) {
    const bounds = counterAt(agent, k.time, bandwidth, slackMs);
    if (bounds)
      instants.push({ kubelet: k, agent: bounds, within: bounds.low <= k.value && k.value <= bounds.high });
  }
  const from = instants[0];
  const to = instants.at(-1);
  if (!from || !to || to.kubelet.time - from.kubelet.time < minSpanMs) return undefined;
  const kubeletDelta = to.kubelet.value - from.kubelet.value;
  const deltaLow = to.agent.low - from.agent.high;
  const deltaHigh = to.agent.high - from.agent.low;
  return {
    instants,
    from,
    to,
    kubeletDelta,
    agentDelta: to.agent.estimate - from.agent.estimate,
    deltaLow,
    deltaHigh,
    ok: instants.every((i) => i.within) && deltaLow <= kubeletDelta && kubeletDelta <= deltaHigh,
  };
}

export interface WorkingSetPair {
  kubelet: Reading;
  agent: Reading;
  difference: number;
}

export interface WorkingSetComparison {
  pairs: WorkingSetPair[];
  /** The pair with the largest difference. */
  worst: WorkingSetPair;
  tolerance: number;
  ok: boolean;
}

/**
 * Each kubelet working set against the agent's reading nearest in time, among the kubelet
 * instants the agent's readings surround; undefined when there is none.
 */
export function compareWorkingSet(
  kubelet: readonly Reading[],
  agent: readonly Reading[],
  tolerance: number,
): WorkingSetComparison | undefined {
  const sorted = distinct(agent);
  const first = sorted[0];
  const last = sorted.at(-1);
  if (!first || !last) return undefined;
  const pairs: WorkingSetPair[] = [];
  for (const k of distinct(kubelet)) {
    if (k.time < first.time || k.time > last.time) continue;
    const nearest = sorted.reduce((n, r) => (Math.abs(r.time - k.time) < Math.abs(n.time - k.time) ? r : n));
    pairs.push({ kubelet: k, agent: nearest, difference: k.value - nearest.value });
  }
  const worst = pairs.reduce<WorkingSetPair | undefined>(
    (w, p) => (!w || Math.abs(p.difference) > Math.abs(w.difference) ? p : w),
    undefined,
  );
  if (!worst) return undefined;
  return { pairs, worst, tolerance, ok: pairs.every((p) => Math.abs(p.difference) <= tolerance) };
}

// ---- the saved answers ------------------------------------------------------------------

/** `namespace/pod/container`. */
export interface ContainerRef {
  namespace: string;
  pod: string;
  container: string;
}

export function parseContainerRef(text: string): ContainerRef {
  const [namespace, pod, container, ...rest] = text.split('/');
  if (!namespace || !pod || !container || rest.length > 0)
    throw new Error(`"${text}" is not NAMESPACE/POD/CONTAINER`);
  return { namespace, pod, container };
}

export interface ContainerSeries {
  cpu: Reading[];
  workingSet: Reading[];
}

export interface SavedAnswers {
  kubelet: { time: number; text: string }[];
  agent: { time: number; report: NodeReport }[];
}

/** The answers saved in DIR, by the time in their names. */
export function readAnswers(dir: string): SavedAnswers {
  const answers: SavedAnswers = { kubelet: [], agent: [] };
  for (const name of readdirSync(dir).sort()) {
    const m = /^(kubelet|agent)-(\d+)\.(prom|json)$/.exec(name);
    if (!m) continue;
    const text = readFileSync(join(dir, name), 'utf8');
    const time = Number(m[2]);
    if (m[1] === 'kubelet') answers.kubelet.push({ time, text });
    else answers.agent.push({ time, report: JSON.parse(text) as NodeReport });
  }
  return answers;
}

/** The kubelet's figures for one container, each with the kubelet's own stamp. */
export function kubeletSeries(answers: SavedAnswers, ref: ContainerRef): ContainerSeries {
  const series: ContainerSeries = { cpu: [], workingSet: [] };
  for (const { time, text } of answers.kubelet) {
    const c = parseResourceMetrics(text, time).containers.find(
      (x) => x.namespace === ref.namespace && x.pod === ref.pod && x.container === ref.container,
    );
    if (c?.cpu) series.cpu.push({ time: c.cpu.time, value: c.cpu.coreSecondsTotal });
    if (c?.memoryWorkingSet)
      series.workingSet.push({ time: c.memoryWorkingSet.time, value: c.memoryWorkingSet.bytes });
  }
  return series;
}

export function podOf(report: NodeReport, namespace: string, pod: string): PodStats | undefined {
  return report.pods.find((p) => p.namespace === namespace && p.name === pod);
}

function containerOf(report: NodeReport, ref: ContainerRef): ContainerStats | undefined {
  return podOf(report, ref.namespace, ref.pod)?.containers.find((c) => c.name === ref.container);
}

/** The agent's figures for one container, each with the time the agent read it. */
export function agentSeries(answers: SavedAnswers, ref: ContainerRef): ContainerSeries {
  const series: ContainerSeries = { cpu: [], workingSet: [] };
  for (const { report } of answers.agent) {
    const c = containerOf(report, ref);
    if (c?.cpu) series.cpu.push({ time: c.time, value: c.cpu.usageCoreSeconds });
    if (c?.memory) series.workingSet.push({ time: c.time, value: c.memory.workingSetBytes });
  }
  return series;
}

// ---- printing ---------------------------------------------------------------------------

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 23);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(3);
const kib = (bytes: number) => (bytes / 1024).toFixed(0);
const msOf = (seconds: number) => (seconds * 1000).toFixed(1);

export function describeCpu(label: string, c: CpuComparison): string[] {
  const span = (c.to.kubelet.time - c.from.kubelet.time) / 1000;
  const error = c.kubeletDelta - c.agentDelta;
  const lines = [
    `${label}: CPU    kubelet ${c.kubeletDelta.toFixed(4)} core-s, agent ${c.agentDelta.toFixed(4)} core-s over the kubelet's ${span.toFixed(3)} s ` +
      `(${clock(c.from.kubelet.time)} .. ${clock(c.to.kubelet.time)}): difference ${msOf(error)} ms ` +
      `(${((100 * error) / c.agentDelta).toFixed(3)}%), allowed ${msOf(c.deltaLow - c.agentDelta)} .. +${msOf(c.deltaHigh - c.agentDelta)} ms`,
  ];
  // Every instant: how far the kubelet is from the agent's estimate, and how wide the bounds are.
  const offsets = c.instants.map((i) => Math.abs(i.kubelet.value - i.agent.estimate));
  const widths = c.instants.map((i) => i.agent.high - i.agent.low);
  const gaps = c.instants.map((i) => i.agent.after.time - i.agent.before.time);
  lines.push(
    `${label}: CPU    at each of the kubelet's ${c.instants.length} instants: ${c.instants.filter((i) => i.within).length} within the bounds, ` +
      `kubelet - agent's estimate at most ${msOf(Math.max(...offsets))} ms (bounds ${msOf(Math.min(...widths))} .. ${msOf(Math.max(...widths))} ms wide, ` +
      `agent readings ${Math.min(...gaps)} .. ${Math.max(...gaps)} ms apart)`,
  );
  for (const i of c.instants.filter((x) => !x.within))
    lines.push(
      `${label}:   OUTSIDE at ${clock(i.kubelet.time)}: kubelet ${i.kubelet.value.toFixed(6)} core-s, agent ${i.agent.estimate.toFixed(6)}, ` +
        `bounds ${i.agent.low.toFixed(6)} .. ${i.agent.high.toFixed(6)} (readings at ${clock(i.agent.before.time)}, ${clock(i.agent.after.time)})`,
    );
  return lines;
}

export function describeWorkingSet(label: string, w: WorkingSetComparison): string {
  const apart = Math.abs(w.worst.kubelet.time - w.worst.agent.time);
  return (
    `${label}: memory kubelet working set ${mib(w.worst.kubelet.value)} MiB, agent ${mib(w.worst.agent.value)} MiB ` +
    `${apart} ms apart: difference ${w.worst.difference} B, the largest of ${w.pairs.length} instants ` +
    `(allowed ${kib(w.tolerance)} KiB)`
  );
}

/** The agent's I/O figures of a pod (network, block I/O, processes); the absent ones named. */
export function describeIo(pod: PodStats): { lines: string[]; absent: string[] } {
  const lines: string[] = [];
  const absent: string[] = [];
  const n = pod.network;
  if (n)
    lines.push(
      `network rx ${n.rxBytes} B ${n.rxPackets} packets (${n.rxErrors} errors, ${n.rxDrops} drops), ` +
        `tx ${n.txBytes} B ${n.txPackets} packets (${n.txErrors} errors, ${n.txDrops} drops) on ${n.interfaces.map((i) => i.name).join(', ')}`,
    );
  else absent.push('network');
  for (const c of pod.containers) {
    const name = c.name ?? c.id.slice(0, 12);
    const b = c.blockIo;
    if (b)
      lines.push(
        `${name}: block I/O read ${b.readBytes} B (${b.readOps} ops), written ${b.writeBytes} B (${b.writeOps} ops) on ${b.devices.length} device(s)`,
      );
    else absent.push(`${name}.blockIo`);
    const top = c.processes.top[0];
    lines.push(
      `${name}: ${c.processes.count} process(es)` +
        (top
          ? `, top ${top.command} (pid ${top.pid}) ${top.cpuSeconds.toFixed(2)} CPU s, RSS ${kib(top.rssBytes)} KiB`
          : ''),
    );
    if (c.memory)
      lines.push(
        `${name}: memory usage ${mib(c.memory.usageBytes)} MiB, RSS ${c.memory.rssBytes ?? '?'} B, cache ${c.memory.cacheBytes ?? '?'} B, OOM kills ${c.memory.oomKills ?? '?'}; ` +
          `throttled ${c.cpu?.throttledPeriods ?? '?'} of ${c.cpu?.periods ?? '?'} periods`,
      );
  }
  return { lines, absent };
}

// ---- the command ------------------------------------------------------------------------

const MIN_SPAN_MS = 10_000;

function main(): number {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      cpus: { type: 'string' },
      'page-size': { type: 'string' },
      cpu: { type: 'string' },
      'quota-us': { type: 'string' },
      'period-us': { type: 'string' },
      memory: { type: 'string', multiple: true },
      io: { type: 'string' },
    },
  });
  if (!values.dir || !values.cpus || !values['page-size'] || !values.cpu)
    throw new Error(
      'usage: agent-vs-kubelet.ts --dir DIR --cpus N --page-size BYTES --cpu NS/POD/CONTAINER ...',
    );
  const print = (line: string) => process.stdout.write(`[e2e-node] ${line}\n`);
  const failures: string[] = [];
  const answers = readAnswers(values.dir);
  const cpus = Number(values.cpus);
  print(`agent vs kubelet: ${answers.agent.length} agent and ${answers.kubelet.length} kubelet answers`);

  const busy = parseContainerRef(values.cpu);
  const bandwidth: CpuBandwidth = { cpus };
  if (values['quota-us'] && Number(values['quota-us']) > 0) {
    bandwidth.quotaUs = Number(values['quota-us']);
    bandwidth.periodUs = Number(values['period-us']);
  }
  const k = kubeletSeries(answers, busy);
  const a = agentSeries(answers, busy);
  const cpu = compareCpu(k.cpu, a.cpu, bandwidth, MIN_SPAN_MS);
  if (!cpu)
    failures.push(
      `${busy.container}: no two kubelet CPU readings ${MIN_SPAN_MS / 1000} s apart between the agent's ` +
        `(kubelet ${distinct(k.cpu).length}, agent ${distinct(a.cpu).length} distinct readings)`,
    );
  else {
    describeCpu(busy.container, cpu).forEach(print);
    if (!cpu.ok) failures.push(`${busy.container}: the kubelet's CPU counter is outside the agent's bounds`);
  }

  const tolerance = workingSetTolerance(cpus, Number(values['page-size']));
  for (const ref of [busy, ...(values.memory ?? []).map(parseContainerRef)]) {
    const ws = compareWorkingSet(
      kubeletSeries(answers, ref).workingSet,
      agentSeries(answers, ref).workingSet,
      tolerance,
    );
    if (!ws) failures.push(`${ref.container}: no kubelet working set between the agent's readings`);
    else {
      print(describeWorkingSet(ref.container, ws));
      if (!ws.ok)
        failures.push(
          `${ref.container}: working sets differ by ${ws.worst.difference} B (allowed ${tolerance} B)`,
        );
    }
  }

  if (values.io) {
    const [namespace = '', name = ''] = values.io.split('/');
    const last = answers.agent.at(-1);
    const pod = last && podOf(last.report, namespace, name);
    if (!pod) failures.push(`the agent's last answer has no pod ${values.io}`);
    else {
      const io = describeIo(pod);
      io.lines.forEach((line) => print(`${name}: ${line}`));
      if (io.absent.length > 0) failures.push(`${name}: the agent has no ${io.absent.join(', ')}`);
    }
  }
  for (const f of failures) process.stderr.write(`[e2e-node] agent vs kubelet: ${f}\n`);
  return failures.length === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main();
