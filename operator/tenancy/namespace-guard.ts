/**
 * The read side of tenant separation over time: a namespace deleted and re-created under the
 * same name is a new tenant, and nothing the old one left is readable through it, even before
 * the purge (namespace-purger.ts) has removed it. Wraps the store's queries and, for a name
 * with a recorded deletion:
 * - while the name does not exist, answers as if nothing were stored;
 * - once it exists again, reads only what was stored after the deletion: windows start at the
 *   deletion and not before the new namespace's creation, and history points of buckets that
 *   began at or before the deletion are withheld (a bucket straddling the deletion may hold both
 *   tenants' samples). A window's edge is answered from the finer levels down to the raw
 *   readings (docs/accounting.md, "Answering a window"), and the old tenant's spans end at or
 *   before the deletion, so a window starting there counts none of them and every span of the
 *   new namespace: it is billed from its first reading.
 * Names without a recorded deletion are read unchanged, so their figures stay exact.
 */
import type { ContainerSample } from '../model.js';
import type {
  Coverage,
  DistributionQuery,
  SeriesDistribution,
  HistoryQuery,
  HistoryResult,
  SummaryEntry,
  SummaryQuery,
  SummaryResult,
  TopQuery,
  TopResult,
  UsageQueries,
} from '../store/types.js';
import { compareTop } from '../store/top-ranking.js';
import type { Incarnation, NamespaceLedger } from './namespace-ledger.js';

/** The earliest window start that shows nothing of an earlier incarnation, or undefined. */
export function readableFrom(incarnation: Incarnation): number | undefined {
  if (incarnation.kind === 'unrestricted') return undefined;
  if (incarnation.kind === 'gone') return Infinity;
  return Math.max(incarnation.deletedMs, incarnation.createdMs);
}

/**
 * Coverage of a window answered in parts (each namespace on its readable window): measured as
 * the store measures it (the best-covered container's time), over the whole window asked for.
 */
function mergedCoverage(query: { from: number; to: number }, parts: { coverage: Coverage }[]): Coverage {
  const windowMs = Math.max(0, query.to - query.from);
  const longest = (of: (c: Coverage) => number) =>
    Math.min(windowMs, Math.max(0, ...parts.map((p) => of(p.coverage))));
  const coveredMs = longest((c) => c.coveredMs);
  const memoryCoveredMs = longest((c) => c.memoryCoveredMs);
  const ratioOf = (ms: number) => (windowMs > 0 ? ms / windowMs : 0);
  return {
    windowMs,
    coveredMs,
    ratio: ratioOf(coveredMs),
    memoryCoveredMs,
    memoryRatio: ratioOf(memoryCoveredMs),
    proratedMs: longest((c) => c.proratedMs),
  };
}

export class NamespaceReadGuard implements UsageQueries {
  constructor(
    private readonly inner: UsageQueries,
    private readonly ledger: Pick<NamespaceLedger, 'incarnation'>,
  ) {}

  async latest(namespace: string, pod: string): Promise<ContainerSample[]> {
    const incarnation = await this.ledger.incarnation(namespace);
    if (incarnation.kind === 'gone') return [];
    const samples = await this.inner.latest(namespace, pod);
    if (incarnation.kind === 'unrestricted') return samples;
    return samples.filter((s) => s.time > incarnation.deletedMs);
  }

  async history(query: HistoryQuery): Promise<HistoryResult> {
    const incarnation = await this.ledger.incarnation(query.namespace);
    const floor = readableFrom(incarnation);
    if (floor === undefined) return this.inner.history(query);
    const from = Math.max(query.from, floor);
    if (!(query.to > from)) {
      const granularity = query.granularity === 'auto' ? 'raw' : query.granularity;
      return { granularity, containers: [] };
    }
    const result = await this.inner.history({ ...query, from });
    const deletedMs = incarnation.kind === 'since' ? incarnation.deletedMs : Infinity;
    return {
      granularity: result.granularity,
      containers: result.containers
        .map((c) => ({ ...c, points: c.points.filter((p) => p.time > deletedMs) }))
        .filter((c) => c.points.length > 0),
    };
  }

  async distributions(query: DistributionQuery): Promise<SeriesDistribution[]> {
    if (this.inner.distributions === undefined) return [];
    const floor = readableFrom(await this.ledger.incarnation(query.namespace));
    const from = floor === undefined ? query.from : Math.max(query.from, floor);
    if (!(query.to > from)) return [];
    return this.inner.distributions({ ...query, from });
  }

  async top(query: TopQuery): Promise<TopResult> {
    const parts = await this.split(query);
    if (parts === undefined) return this.inner.top(query);
    const results = await Promise.all(parts.map((q) => this.inner.top(q)));
    // A part answered over a shorter window: its average over the window asked for is smaller.
    const windowMs = query.to - query.from;
    const entries = results.flatMap((r, i) =>
      r.items.map((e) => ({ ...e, windowAvg: (e.windowAvg * (parts[i]!.to - parts[i]!.from)) / windowMs })),
    );
    entries.sort(compareTop);
    return { items: entries.slice(0, Math.max(0, query.limit)), coverage: mergedCoverage(query, results) };
  }

  async summary(query: SummaryQuery): Promise<SummaryResult> {
    const parts = await this.split(query);
    if (parts === undefined) return this.inner.summary(query);
    const results = await Promise.all(parts.map((q) => this.inner.summary(q)));
    const groups = new Map<string, SummaryEntry>();
    for (const entry of results.flatMap((r) => r.items)) {
      const merged = groups.get(entry.group);
      if (merged === undefined) {
        groups.set(entry.group, { ...entry });
        continue;
      }
      merged.cpuCoreHours += entry.cpuCoreHours;
      merged.cpuCoreHoursBilled += entry.cpuCoreHoursBilled;
      merged.memoryGiBHours += entry.memoryGiBHours;
      merged.memoryGiBHoursBilled += entry.memoryGiBHoursBilled;
      merged.containers += entry.containers;
    }
    const items = [...groups.values()].sort(
      (a, b) => b.cpuCoreHoursBilled - a.cpuCoreHoursBilled || a.group.localeCompare(b.group),
    );
    return { items, coverage: mergedCoverage(query, results) };
  }

  /**
   * The queries to run instead of `query`, or undefined when it runs unchanged: the namespaces
   * read as they are together, each restricted one on its own window (none when nothing of it
   * is readable). Cluster-wide queries (no namespace list) run unchanged.
   */
  private async split<Q extends { from: number; to: number; namespaces?: string[] }>(
    query: Q,
  ): Promise<Q[] | undefined> {
    if (query.namespaces === undefined) return undefined;
    const floors = await Promise.all(
      query.namespaces.map(async (ns) => [ns, readableFrom(await this.ledger.incarnation(ns))] as const),
    );
    if (floors.every(([, floor]) => floor === undefined || floor <= query.from)) return undefined;
    const open = floors.filter(([, floor]) => floor === undefined || floor <= query.from).map(([ns]) => ns);
    const parts: Q[] = open.length > 0 ? [{ ...query, namespaces: open }] : [];
    for (const [ns, floor] of floors) {
      if (floor === undefined || floor <= query.from) continue;
      if (query.to > floor) parts.push({ ...query, namespaces: [ns], from: floor });
    }
    return parts;
  }
}
