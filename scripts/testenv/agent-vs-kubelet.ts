/**
 * make e2e-node: the node agent's figures for a real container against the kubelet's. The e2e
 * polls both endpoints for a while (scripts/testenv/node-e2e.sh) and saves every answer in one
 * folder, named by when it was asked and when the answer was in: `kubelet-<asked>-<in>.prom`
 * (`/metrics/resource`) and `agent-<asked>-<in>.json` (the agent's `/stats`), ms since epoch.
 * Both read the same cgroup files (`cpuacct.usage` or `cpu.stat usage_usec`;
 * `memory.usage_in_bytes`/`memory.current` minus inactive file pages), each at instants of its
 * own, and neither stamp is the instant of the read:
 *
 * - containerd stamps a container's CRI stats before it asks the container's shim to read the
 *   cgroup (its task service takes the time, then calls the shim), and the kubelet passes that
 *   stamp on: the kubelet's value was read at some instant between its stamp and the moment the
 *   answer was in. The stamp itself must lie within the request (a fresh figure per scrape);
 *   otherwise this premise does not hold and the comparison says so.
 * - The agent stamps a container's figures with `readStart`, taken before it reads the files,
 *   and `time`, taken once all of them are read: its value was read at some instant in between
 *   (a CPU-limited agent may be throttled between the two, so they can be far apart).
 *
 * So every read of the CPU counter is a value and an interval of time that holds the read. The
 * counter never decreases, and in any stretch of time a container can use at most every CPU of
 * the node, and at most one CFS quota per period the stretch overlaps, plus per CPU what the
 * kernel lets a CPU's run queue hold over or overrun: one bandwidth slice
 * (`sched_cfs_bandwidth_slice_us`) taken from the pool earlier and one scheduler tick run past
 * the quota before the throttle takes effect (paid back later, so it shows at a stretch's end),
 * plus the group's burst (`cpu.cfs_burst_us`). From every agent read the counter at the
 * kubelet's read is therefore within
 *   [agent - cap(agent's latest instant - kubelet's earliest), agent + cap(kubelet's latest - agent's earliest)]
 * (cap of a negative stretch is 0), and the kubelet's value must be within the intersection of
 * those at every kubelet read the agent's reads surround (one done before it began, one begun
 * after it was done), and its difference between the first and the last such read within the
 * difference of their bounds. Nothing in these bounds is a chosen margin.
 *
 * Working set: the agent's reading nearest in time to each kubelet read: a container that
 * allocates nothing reads the same up to the kernel's per-CPU batching, i.e. charges cached per
 * CPU (up to MEMCG_CHARGE_BATCH = 64 pages each) in the usage counter, and as many pending
 * updates per CPU in the inactive-file statistic before memory.stat is flushed: 2 x 64 pages per
 * online CPU.
 *
 *   tsx scripts/testenv/agent-vs-kubelet.ts --dir DIR --cpus N --page-size BYTES
 *     --cpu NS/POD/CONTAINER --quota-us Q --period-us P --slice-us S --tick-us T [--burst-us B]
 *     [--memory NS/POD/CONTAINER]... [--io NS/POD]
 * prints the figures (`[e2e-node] ...`) and exits 1 when one is outside its bound.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { ContainerStats, NodeReport, PodStats } from '../../agent/types.js';
import { parseResourceMetrics } from '../../operator/sources/kubelet/resource-metrics.js';

/** One reading of a gauge: when it was taken (ms since epoch) and its value. */
export interface Reading {
  time: number;
  value: number;
}

/** One read of a counter: its value, read at some instant in [from, to] (ms since epoch). */
export interface CounterRead {
  from: number;
  to: number;
  value: number;
}

/** What bounds a container's CPU use: the node's CPUs and the container's CFS bandwidth. */
export interface CpuBandwidth {
  cpus: number;
  /** `cpu.cfs_quota_us` (or the first field of `cpu.max`); absent without a limit. */
  quotaUs?: number;
  periodUs?: number;
  /** Runtime a CPU's run queue takes from the pool at a time (`sched_cfs_bandwidth_slice_us`). */
  sliceUs?: number;
  /** The scheduler tick (1 s / CONFIG_HZ): how long a CPU may run past its runtime. */
  tickUs?: number;
  /** `cpu.cfs_burst_us` (or `cpu.max.burst`): runtime saved from earlier periods. */
  burstUs?: number;
}

/** Pages the kernel charges or counts per CPU before the totals catch up (MEMCG_CHARGE_BATCH). */
export const MEMCG_CHARGE_BATCH = 64;

/** The most core-seconds a container can use in `ms` milliseconds (0 for none or less). */
export function cpuCap(bandwidth: CpuBandwidth, ms: number): number {
  if (!(ms > 0)) return 0;
  const byCpus = (bandwidth.cpus * ms) / 1000;
  if (bandwidth.quotaUs === undefined || bandwidth.periodUs === undefined || bandwidth.quotaUs <= 0)
    return byCpus;
  // A stretch of time overlaps at most ceil(ms / period) + 1 periods, each worth one quota; each
  // CPU may also spend a slice it took earlier and overrun by a tick; the burst is saved runtime.
  const periods = Math.ceil((ms * 1000) / bandwidth.periodUs) + 1;
  const perCpu = (bandwidth.sliceUs ?? 0) + (bandwidth.tickUs ?? 0);
  const us = periods * bandwidth.quotaUs + bandwidth.cpus * perCpu + (bandwidth.burstUs ?? 0);
  return Math.min(byCpus, us / 1e6);
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

/**
 * Reads sorted by their start, one per read: an endpoint that answers from a cache repeats a
 * read, and the same read seen in two answers keeps the narrower interval.
 */
export function distinctReads(reads: readonly CounterRead[]): CounterRead[] {
  const byStart = new Map<string, CounterRead>();
  for (const r of reads) {
    const key = `${r.from}:${r.value}`;
    const seen = byStart.get(key);
    if (!seen || r.to < seen.to) byStart.set(key, r);
  }
  return [...byStart.values()].sort((x, y) => x.from - y.from || x.to - y.to);
}

/** What the agent's reads say the counter was at a kubelet read. */
export interface CounterBounds {
  /** The agent's last read done before the kubelet's began, and its first begun after it. */
  before: CounterRead;
  after: CounterRead;
  /** Linear between them, at the middle of the kubelet read's interval (for the figures). */
  estimate: number;
  low: number;
  high: number;
}

const middle = (r: CounterRead) => (r.from + r.to) / 2;

/**
 * The counter at a read done within [at.from, at.to] from the agent's reads; undefined unless an
 * agent read was done before it began and another begun after it was done.
 */
export function counterAt(
  agent: readonly CounterRead[],
  at: Pick<CounterRead, 'from' | 'to'>,
  bandwidth: CpuBandwidth,
): CounterBounds | undefined {
  const reads = distinctReads(agent);
  const before = reads
    .filter((r) => r.to <= at.from)
    .sort((x, y) => x.to - y.to)
    .at(-1);
  const after = reads.find((r) => r.from >= at.to);
  if (!before || !after) return undefined;
  let low = -Infinity;
  let high = Infinity;
  for (const r of reads) {
    high = Math.min(high, r.value + cpuCap(bandwidth, at.to - r.from));
    low = Math.max(low, r.value - cpuCap(bandwidth, r.to - at.from));
  }
  const span = middle(after) - middle(before);
  const t = (at.from + at.to) / 2;
  const estimate =
    span <= 0 ? before.value : before.value + ((after.value - before.value) * (t - middle(before))) / span;
  return { before, after, estimate, low, high };
}

/** One kubelet read against the agent's bounds there. */
export interface CpuInstant {
  kubelet: CounterRead;
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
 * The kubelet's CPU counter against the agent's at every kubelet read the agent's reads
 * surround, and over the longest such interval; undefined with fewer than two such reads whose
 * stamps are `minSpanMs` apart.
 */
export function compareCpu(
  kubelet: readonly CounterRead[],
  agent: readonly CounterRead[],
  bandwidth: CpuBandwidth,
  minSpanMs: number,
): CpuComparison | undefined {
  const instants: CpuInstant[] = [];
  for (const k of distinctReads(kubelet)) {
    const bounds = counterAt(agent, k, bandwidth);
    if (bounds)
      instants.push({ kubelet: k, agent: bounds, within: bounds.low <= k.value && k.value <= bounds.high });
  }
  const from = instants[0];
  const to = instants.at(-1);
  if (!from || !to || to.kubelet.from - from.kubelet.from < minSpanMs) return undefined;
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
  cpu: CounterRead[];
  workingSet: Reading[];
}

/** One saved answer: when it was asked for and when it was in, ms since epoch. */
export interface SavedAnswer<T> {
  asked: number;
  answered: number;
  body: T;
}

export interface SavedAnswers {
  kubelet: SavedAnswer<string>[];
  agent: SavedAnswer<NodeReport>[];
}

/** The answers saved in DIR, by the times in their names. */
export function readAnswers(dir: string): SavedAnswers {
  const answers: SavedAnswers = { kubelet: [], agent: [] };
  for (const name of readdirSync(dir).sort()) {
    const m = /^(kubelet|agent)-(\d+)-(\d+)\.(prom|json)$/.exec(name);
    if (!m) continue;
    const text = readFileSync(join(dir, name), 'utf8');
    const times = { asked: Number(m[2]), answered: Number(m[3]) };
    if (m[1] === 'kubelet') answers.kubelet.push({ ...times, body: text });
    else answers.agent.push({ ...times, body: JSON.parse(text) as NodeReport });
  }
  return answers;
}

export interface KubeletSeries extends ContainerSeries {
  /** Answers whose CPU stamp is not within their request: the reads' intervals do not hold. */
  stampsOutsideRequest: SavedAnswer<string>[];
}

/**
 * The kubelet's figures for one container: each CPU read from its stamp to when the answer was
 * in, each working set at its stamp.
 */
export function kubeletSeries(answers: SavedAnswers, ref: ContainerRef): KubeletSeries {
  const series: KubeletSeries = { cpu: [], workingSet: [], stampsOutsideRequest: [] };
  for (const answer of answers.kubelet) {
    const c = parseResourceMetrics(answer.body, answer.asked).containers.find(
      (x) => x.namespace === ref.namespace && x.pod === ref.pod && x.container === ref.container,
    );
    if (c?.cpu) {
      if (c.cpu.time < answer.asked || c.cpu.time > answer.answered) series.stampsOutsideRequest.push(answer);
      else series.cpu.push({ from: c.cpu.time, to: answer.answered, value: c.cpu.coreSecondsTotal });
    }
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

/** The agent's figures for one container: each CPU read over [readStart, time], working sets at time. */
export function agentSeries(answers: SavedAnswers, ref: ContainerRef): ContainerSeries {
  const series: ContainerSeries = { cpu: [], workingSet: [] };
  for (const { body } of answers.agent) {
    const c = containerOf(body, ref);
    if (c?.cpu) series.cpu.push({ from: c.readStart, to: c.time, value: c.cpu.usageCoreSeconds });
    if (c?.memory) series.workingSet.push({ time: c.time, value: c.memory.workingSetBytes });
  }
  return series;
}

// ---- printing ---------------------------------------------------------------------------

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 23);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(3);
const kib = (bytes: number) => (bytes / 1024).toFixed(0);
const msOf = (seconds: number) => (seconds * 1000).toFixed(1);

const interval = (r: CounterRead) => `${clock(r.from)}+${r.to - r.from} ms`;

export function describeCpu(label: string, c: CpuComparison): string[] {
  const span = (c.to.kubelet.from - c.from.kubelet.from) / 1000;
  const error = c.kubeletDelta - c.agentDelta;
  const lines = [
    `${label}: CPU    kubelet ${c.kubeletDelta.toFixed(4)} core-s, agent ${c.agentDelta.toFixed(4)} core-s over the kubelet's ${span.toFixed(3)} s ` +
      `(${clock(c.from.kubelet.from)} .. ${clock(c.to.kubelet.from)}): difference ${msOf(error)} ms ` +
      `(${((100 * error) / c.agentDelta).toFixed(3)}%), allowed ${msOf(c.deltaLow - c.agentDelta)} .. +${msOf(c.deltaHigh - c.agentDelta)} ms`,
  ];
  // Every read: how far the kubelet is from the agent's estimate, how wide the bounds are, and
  // how long each side's reads may have taken (the intervals the bounds allow for).
  const offsets = c.instants.map((i) => Math.abs(i.kubelet.value - i.agent.estimate));
  const widths = c.instants.map((i) => i.agent.high - i.agent.low);
  const gaps = c.instants.map((i) => i.agent.after.from - i.agent.before.to);
  const kubeletReads = c.instants.map((i) => i.kubelet.to - i.kubelet.from);
  const agentReads = c.instants.flatMap((i) => [
    i.agent.before.to - i.agent.before.from,
    i.agent.after.to - i.agent.after.from,
  ]);
  lines.push(
    `${label}: CPU    at each of the kubelet's ${c.instants.length} reads: ${c.instants.filter((i) => i.within).length} within the bounds, ` +
      `kubelet - agent's estimate at most ${msOf(Math.max(...offsets))} ms (bounds ${msOf(Math.min(...widths))} .. ${msOf(Math.max(...widths))} ms wide; ` +
      `kubelet reads within ${Math.min(...kubeletReads)} .. ${Math.max(...kubeletReads)} ms of their stamp, agent reads ${Math.min(...agentReads)} .. ${Math.max(...agentReads)} ms long, ` +
      `${Math.min(...gaps)} .. ${Math.max(...gaps)} ms apart around them)`,
  );
  for (const i of c.instants.filter((x) => !x.within))
    lines.push(
      `${label}:   OUTSIDE at ${interval(i.kubelet)}: kubelet ${i.kubelet.value.toFixed(6)} core-s, agent ${i.agent.estimate.toFixed(6)}, ` +
        `bounds ${i.agent.low.toFixed(6)} .. ${i.agent.high.toFixed(6)} (agent reads at ${interval(i.agent.before)}, ${interval(i.agent.after)})`,
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
      'slice-us': { type: 'string' },
      'tick-us': { type: 'string' },
      'burst-us': { type: 'string' },
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
    if (!values['slice-us'] || !values['tick-us'])
      throw new Error('a CPU quota needs --slice-us and --tick-us (what a CPU may hold over and overrun)');
    bandwidth.quotaUs = Number(values['quota-us']);
    bandwidth.periodUs = Number(values['period-us']);
    bandwidth.sliceUs = Number(values['slice-us']);
    bandwidth.tickUs = Number(values['tick-us']);
    bandwidth.burstUs = Number(values['burst-us'] ?? 0);
  }
  const k = kubeletSeries(answers, busy);
  const a = agentSeries(answers, busy);
  for (const answer of k.stampsOutsideRequest)
    failures.push(
      `${busy.container}: the kubelet's CPU stamp of the answer asked at ${answer.asked} is not within its request ` +
        `(${answer.asked} .. ${answer.answered}): its figures are not fresh per scrape, so the read's interval is unknown`,
    );
  const cpu = compareCpu(k.cpu, a.cpu, bandwidth, MIN_SPAN_MS);
  if (!cpu)
    failures.push(
      `${busy.container}: no two kubelet CPU readings ${MIN_SPAN_MS / 1000} s apart between the agent's ` +
        `(kubelet ${distinctReads(k.cpu).length}, agent ${distinctReads(a.cpu).length} distinct reads)`,
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
    const pod = last && podOf(last.body, namespace, name);
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
