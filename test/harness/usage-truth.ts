/**
 * The ground truth of chargeback, computed without the operator: what each simulated container
 * was told to use (kwok's annotations: a CPU rate and a working set) over the time it is known
 * to have used it, per container, pod, namespace and label value, over any window. Pure.
 *
 * A test adds segments: a container's usage over `[from, to)` in the frame the operator's
 * readings are stamped in (the real clock, or a node's skewed one), with the pod's labels over
 * that time. CPU and memory are known over different times (kwok's CPU counter starts at its
 * first evaluation, the working set at the container's start: see counterOrigin), so a segment
 * carries either or both. Time no segment covers is time whose usage is not known: the
 * operator's `coverage` must leave it uncovered (coveredMs).
 */

export interface SegmentOwner {
  namespace: string;
  pod: string;
  container: string;
  /** The pod's labels over the segment. */
  labels?: Record<string, string>;
}

export interface TruthSegment extends SegmentOwner {
  from: number;
  to: number;
  /** CPU rate over the segment (cores); absent when CPU is not known there. */
  cores?: number;
  /** Working set over the segment (bytes); absent when memory is not known there. */
  bytes?: number;
}

/** namespace, pod (`namespace/pod`) or `label:<key>` (the label's value; '' without it), as the API groups. */
export type TruthGroupBy = 'namespace' | 'pod' | `label:${string}`;

export interface TruthTotals {
  cpuCoreHours: number;
  memoryGiBHours: number;
}

const GI = 2 ** 30;

/** Length of the overlap of [a, b) and [from, to), ms. */
export function overlap(a: number, b: number, from: number, to: number): number {
  return Math.max(0, Math.min(b, to) - Math.max(a, from));
}

/** A counter reading with the interval in which its endpoint evaluated it. */
export interface CounterScrape {
  /** The request was sent (ms). */
  requestedAt: number;
  /** The answer was complete (ms). */
  receivedAt: number;
  cpu: number;
}

export interface CounterOrigin {
  /** When the counter was 0 on the line counter = cores x (t - origin), ms. */
  origin: number;
  /** Half the width of the interval the scrapes leave for it, ms. */
  uncertaintyMs: number;
  scrapes: number;
}

/**
 * When kwok's counter of a container started (counter = rate x (t - origin); kwok integrates
 * from its first evaluation, whoever asks): each scrape puts the origin between its request's
 * start and end less counter / rate; the intersection over every scrape is where it is. Throws
 * when the counter is not that straight line (fewer than 3 scrapes, or an empty intersection).
 */
export function counterOrigin(
  scrapes: readonly CounterScrape[],
  cores: number,
  what = 'counter',
): CounterOrigin {
  const list = scrapes.filter((s) => s.cpu > 0);
  if (list.length < 3) throw new Error(`${what}: only ${list.length} counter readings`);
  const lo = Math.max(...list.map((s) => s.requestedAt - (s.cpu / cores) * 1000));
  const hi = Math.min(...list.map((s) => s.receivedAt - (s.cpu / cores) * 1000));
  // The clock's whole milliseconds put a request's end up to 1 ms after receivedAt.
  if (lo > hi + 1) throw new Error(`${what}: the counter is not rate x time (${lo} > ${hi} + 1)`);
  return { origin: (lo + hi + 1) / 2, uncertaintyMs: (hi + 1 - lo) / 2, scrapes: list.length };
}

function groupOf(segment: SegmentOwner, groupBy: TruthGroupBy): string {
  if (groupBy === 'namespace') return segment.namespace;
  if (groupBy === 'pod') return `${segment.namespace}/${segment.pod}`;
  return segment.labels?.[groupBy.slice('label:'.length)] ?? '';
}

/** Measure of the union of intervals clipped to [from, to). */
function unionMs(intervals: [number, number][], from: number, to: number): number {
  const clipped = intervals
    .map(([a, b]): [number, number] => [Math.max(a, from), Math.min(b, to)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of clipped) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

export class UsageTruth {
  private readonly segments: TruthSegment[] = [];

  add(segment: TruthSegment): this {
    if (!(segment.to >= segment.from)) throw new Error(`segment ${segment.pod}: to before from`);
    this.segments.push(segment);
    return this;
  }

  /** What each group used in [from, to), only the namespace's when given. */
  summary(
    from: number,
    to: number,
    options: { groupBy?: TruthGroupBy; namespace?: string } = {},
  ): Map<string, TruthTotals> {
    const groupBy = options.groupBy ?? 'namespace';
    const out = new Map<string, TruthTotals>();
    for (const s of this.segments) {
      if (options.namespace !== undefined && s.namespace !== options.namespace) continue;
      const ms = overlap(s.from, s.to, from, to);
      const group = groupOf(s, groupBy);
      const totals = out.get(group) ?? { cpuCoreHours: 0, memoryGiBHours: 0 };
      if (s.cores !== undefined) totals.cpuCoreHours += (s.cores * ms) / 1000 / 3600;
      if (s.bytes !== undefined) totals.memoryGiBHours += (s.bytes * ms) / 1000 / 3600 / GI;
      out.set(group, totals);
    }
    for (const [group, totals] of out)
      if (totals.cpuCoreHours === 0 && totals.memoryGiBHours === 0) out.delete(group);
    return out;
  }

  /**
   * ms of [from, to) at which at least one container (of the namespace, when given) has known
   * usage: what the operator's `coverage.coveredMs` is where it measured exactly what is known.
   */
  coveredMs(from: number, to: number, namespace?: string): number {
    return unionMs(
      this.segments
        .filter((s) => s.bytes !== undefined && (namespace === undefined || s.namespace === namespace))
        .map((s): [number, number] => [s.from, s.to]),
      from,
      to,
    );
  }
}

/** The parts of a `/api/v1/usage/summary` answer compared with the truth. */
export interface SummaryAnswer {
  coverage: { windowMs: number; coveredMs: number; ratio: number };
  items: { group: string; cpuCoreHours: number; memoryGiBHours: number }[];
}

export interface Tolerances {
  /** Relative, CPU (0.1% end to end). */
  cpu: number;
  /** Relative, memory. */
  memory: number;
  /** Of the window, for the covered time. */
  coverage: number;
}

export interface Comparison {
  /** One line per group and the coverage: the figures, for the test's output. */
  lines: string[];
  /** The lines of the figures outside the tolerances, naming the case and by how much. */
  failures: string[];
}

const percent = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(3)}%`;

/** relative error of `actual` against `expected` (absolute when expected is 0). */
function relative(actual: number, expected: number): number {
  return expected === 0 ? actual : actual / expected - 1;
}

/**
 * Compares a summary answer with the truth's groups and covered time, group by group (a group
 * only one side has counts against it too). `label` names the case and window in every line.
 */
export function compareSummary(
  label: string,
  answer: SummaryAnswer,
  expected: Map<string, TruthTotals>,
  expectedCoveredMs: number,
  tolerances: Tolerances,
): Comparison {
  const lines: string[] = [];
  const failures: string[] = [];
  const groups = new Set([...expected.keys(), ...answer.items.map((i) => i.group)]);
  for (const group of [...groups].sort()) {
    const item = answer.items.find((i) => i.group === group) ?? { cpuCoreHours: 0, memoryGiBHours: 0 };
    const truth = expected.get(group) ?? { cpuCoreHours: 0, memoryGiBHours: 0 };
    const cpu = relative(item.cpuCoreHours, truth.cpuCoreHours);
    const memory = relative(item.memoryGiBHours, truth.memoryGiBHours);
    const line =
      `${label} [${group || '(no label)'}]: cpu ${item.cpuCoreHours.toFixed(7)} vs truth ${truth.cpuCoreHours.toFixed(7)} core-h (${percent(cpu)}), ` +
      `memory ${item.memoryGiBHours.toFixed(7)} vs ${truth.memoryGiBHours.toFixed(7)} GiB-h (${percent(memory)})`;
    lines.push(line);
    if (!(Math.abs(cpu) <= tolerances.cpu) || !(Math.abs(memory) <= tolerances.memory)) failures.push(line);
  }
  const { windowMs, coveredMs } = answer.coverage;
  const uncovered = (windowMs - coveredMs) / 1000;
  const expectedUncovered = (windowMs - expectedCoveredMs) / 1000;
  const line = `${label} coverage: ${uncovered.toFixed(3)} s uncovered of ${(windowMs / 1000).toFixed(3)} s, truth ${expectedUncovered.toFixed(3)} s (${(uncovered - expectedUncovered) / (windowMs / 1000) >= 0 ? '+' : ''}${(((uncovered - expectedUncovered) / (windowMs / 1000)) * 100).toFixed(3)}% of the window)`;
  lines.push(line);
  if (!(Math.abs(coveredMs - expectedCoveredMs) <= tolerances.coverage * windowMs)) failures.push(line);
  return { lines, failures };
}
