/**
 * The read side. Averages, peaks, rankings and chargeback are computed in code from sums, counts
 * and extremes (FerretDB has no $avg/$min/$max accumulators), from the rollups for windows and
 * from raw snapshots for the latest values and raw history.
 *
 * A container selected by two policies has two series; each query counts it once, using the
 * series with the most samples. Buckets not written yet (open in memory on this replica) are
 * merged in through `Unwritten`, so the latest minutes are included.
 */
import type { ContainerSample } from '../model.js';
import type { StoreCollections } from './connection.js';
import { bucketStart, coverWindow, granularityMs, type Resolution } from './resolutions.js';
import {
  BucketAccumulator,
  identityOf,
  MetricAccumulator,
  type RollupDoc,
  type SeriesScope,
} from './rollups.js';
import { fromSnapshotDoc, seriesKey, type SnapshotDoc } from './snapshots.js';
import {
  GRANULARITIES,
  type Aggregate,
  type ContainerHistory,
  type Granularity,
  type HistoryQuery,
  type HistoryResult,
  type SummaryEntry,
  type SummaryQuery,
  type TopEntry,
  type TopQuery,
} from './types.js';

/** Rollups of a resolution held in memory and not in the database yet. */
export type Unwritten = (resolution: Resolution, filter: (scope: SeriesScope) => boolean) => RollupDoc[];

/** Interval assumed for a pod with no sample yet, to estimate raw points. */
const DEFAULT_INTERVAL_MS = 30_000;

export async function latestSamples(
  collections: StoreCollections,
  namespace: string,
  pod: string,
): Promise<ContainerSample[]> {
  const newest = await newestSample(collections, namespace, pod);
  if (newest === null) return [];
  // Containers of a pod are sampled together: one interval back holds the latest of each.
  const since = new Date(newest.time.getTime() - newest.intervalSeconds * 1000);
  const docs = await collections.snapshots
    .find({ namespace, pod, time: { $gt: since } })
    .sort({ time: -1 })
    .toArray();
  const byContainer = new Map<string, SnapshotDoc>();
  for (const doc of docs) if (!byContainer.has(doc.container)) byContainer.set(doc.container, doc);
  return [...byContainer.values()]
    .sort((a, b) => a.container.localeCompare(b.container))
    .map(fromSnapshotDoc);
}

async function newestSample(
  collections: StoreCollections,
  namespace: string,
  pod: string,
): Promise<SnapshotDoc | null> {
  return collections.snapshots.find({ namespace, pod }).sort({ time: -1 }).limit(1).next();
}

export async function history(
  collections: StoreCollections,
  unwritten: Unwritten,
  query: HistoryQuery,
): Promise<HistoryResult> {
  const granularity =
    query.granularity === 'auto' ? await chooseGranularity(collections, query) : query.granularity;
  if (!(query.to > query.from)) return { granularity, containers: [] };
  const containers =
    granularity === 'raw'
      ? await rawHistory(collections, query)
      : await rollupHistory(collections, unwritten, query, granularity);
  for (const container of containers) container.points = container.points.slice(-query.maxPoints);
  return { granularity, containers };
}

/**
 * The finest granularity that gives at most `maxPoints` points over the range and whose data
 * reaches back to the start of the range (retention may have removed the finer ones); the
 * finest that fits when no level reaches back that far (a pod younger than the range).
 */
export async function chooseGranularity(
  collections: StoreCollections,
  query: HistoryQuery,
): Promise<Granularity> {
  const span = query.to - query.from;
  const newest = await newestSample(collections, query.namespace, query.pod);
  const intervalMs = newest ? newest.intervalSeconds * 1000 : DEFAULT_INTERVAL_MS;
  const fitting = GRANULARITIES.filter(
    (g) => Math.ceil(span / granularityMs(g, intervalMs)) <= query.maxPoints,
  );
  if (fitting.length === 0) return '1d';
  for (const granularity of fitting) {
    const reach = {
      namespace: query.namespace,
      pod: query.pod,
      time: { $lte: new Date(query.from + granularityMs(granularity, intervalMs)) },
    };
    const collection = granularity === 'raw' ? collections.snapshots : collections.rollups[granularity];
    if ((await collection.findOne(reach, { projection: { _id: 1 } })) !== null) return granularity;
  }
  return fitting[0] as Granularity;
}

async function rawHistory(collections: StoreCollections, query: HistoryQuery): Promise<ContainerHistory[]> {
  const docs = await collections.snapshots
    .find({
      namespace: query.namespace,
      pod: query.pod,
      time: { $gte: new Date(query.from), $lt: new Date(query.to) },
    })
    .sort({ time: 1 })
    .toArray();
  const bySeries = new Map<string, SnapshotDoc[]>();
  for (const doc of docs) {
    const series = bySeries.get(doc.series);
    if (series === undefined) bySeries.set(doc.series, [doc]);
    else series.push(doc);
  }
  return containerHistories(
    [...bySeries.values()].map((series) => ({
      container: (series[0] as SnapshotDoc).container,
      points: series.map((doc) => ({
        time: doc.time.getTime(),
        count: 1,
        cpuMillicores: pointOf(doc.cpuMillicores),
        memoryBytes: pointOf(doc.memoryBytes),
      })),
    })),
  );
}

function pointOf(value: number | null): Aggregate | null {
  return value === null ? null : { min: value, avg: value, max: value };
}

async function rollupHistory(
  collections: StoreCollections,
  unwritten: Unwritten,
  query: HistoryQuery,
  resolution: Resolution,
): Promise<ContainerHistory[]> {
  const from = bucketStart(query.from, resolution);
  const stored = await collections.rollups[resolution]
    .find({
      namespace: query.namespace,
      pod: query.pod,
      time: { $gte: new Date(from), $lt: new Date(query.to) },
    })
    .toArray();
  const recent = unwritten(resolution, (s) => s.namespace === query.namespace && s.pod === query.pod).filter(
    (doc) => doc.time.getTime() >= from && doc.time.getTime() < query.to,
  );
  const bySeries = new Map<string, Map<number, BucketAccumulator>>();
  for (const doc of [...stored, ...recent]) {
    const identity = identityOf(doc);
    const buckets = bySeries.get(identity.series) ?? new Map<number, BucketAccumulator>();
    bySeries.set(identity.series, buckets);
    const start = doc.time.getTime();
    let bucket = buckets.get(start);
    if (bucket === undefined)
      buckets.set(start, (bucket = new BucketAccumulator(resolution, start, identity)));
    bucket.addRollup(doc);
  }
  return containerHistories(
    [...bySeries.values()].map((buckets) => ({
      container: ([...buckets.values()][0] as BucketAccumulator).identity.container,
      points: [...buckets.values()]
        .sort((a, b) => a.start - b.start)
        .map((bucket) => ({
          time: bucket.start,
          count: bucket.count,
          cpuMillicores: aggregateOf(bucket.cpu),
          memoryBytes: aggregateOf(bucket.memory),
        })),
    })),
  );
}

function aggregateOf(metric: MetricAccumulator): Aggregate | null {
  return metric.n === 0 ? null : { min: metric.min, avg: metric.sum / metric.n, max: metric.max };
}

/** One history per container (the series with most samples when several policies cover it), by name. */
function containerHistories(series: ContainerHistory[]): ContainerHistory[] {
  const byContainer = new Map<string, ContainerHistory>();
  const samples = (h: ContainerHistory) => h.points.reduce((n, p) => n + p.count, 0);
  for (const candidate of series) {
    const current = byContainer.get(candidate.container);
    if (current === undefined || samples(candidate) > samples(current))
      byContainer.set(candidate.container, candidate);
  }
  return [...byContainer.values()].sort((a, b) => a.container.localeCompare(b.container));
}

/** Per series, everything the rollups of a window hold. */
interface SeriesTotals {
  doc: RollupDoc;
  latest: number;
  count: number;
  cpu: MetricAccumulator;
  memory: MetricAccumulator;
}

/** Totals per container over [from, to), read from the rollups that cover the window. */
async function windowTotals(
  collections: StoreCollections,
  unwritten: Unwritten,
  from: number,
  to: number,
  namespaces: readonly string[] | undefined,
): Promise<SeriesTotals[]> {
  if (namespaces !== undefined && namespaces.length === 0) return [];
  const inScope = (s: { namespace: string }) => namespaces === undefined || namespaces.includes(s.namespace);
  const segments = coverWindow(from, to);
  const parts = await Promise.all(
    segments.map(async (segment) => {
      const range = { $gte: new Date(segment.from), $lt: new Date(segment.to) };
      const filter =
        namespaces === undefined ? { time: range } : { time: range, namespace: { $in: [...namespaces] } };
      const stored = await collections.rollups[segment.resolution].find(filter).toArray();
      const recent = unwritten(segment.resolution, inScope).filter(
        (doc) => doc.time.getTime() >= segment.from && doc.time.getTime() < segment.to,
      );
      return [...stored, ...recent];
    }),
  );
  const bySeries = new Map<string, SeriesTotals>();
  for (const doc of parts.flat()) {
    const series = seriesKey(doc);
    let totals = bySeries.get(series);
    if (totals === undefined) {
      totals = {
        doc,
        latest: -Infinity,
        count: 0,
        cpu: new MetricAccumulator(),
        memory: new MetricAccumulator(),
      };
      bySeries.set(series, totals);
    }
    totals.count += doc.count;
    totals.cpu.merge(doc.cpu);
    totals.memory.merge(doc.memory);
    if (doc.time.getTime() >= totals.latest) {
      totals.latest = doc.time.getTime();
      totals.doc = doc;
    }
  }
  const byContainer = new Map<string, SeriesTotals>();
  for (const totals of bySeries.values()) {
    const key = `${totals.doc.namespace}|${totals.doc.pod}|${totals.doc.container}`;
    const current = byContainer.get(key);
    if (current === undefined || totals.count > current.count) byContainer.set(key, totals);
  }
  return [...byContainer.values()];
}

export async function top(
  collections: StoreCollections,
  unwritten: Unwritten,
  query: TopQuery,
): Promise<TopEntry[]> {
  const totals = await windowTotals(collections, unwritten, query.from, query.to, query.namespaces);
  const entries: TopEntry[] = [];
  for (const t of totals) {
    const metric = query.metric === 'cpu' ? t.cpu : t.memory;
    if (metric.n === 0) continue;
    const { namespace, pod, container } = t.doc;
    entries.push({
      namespace,
      pod,
      container,
      avg: metric.sum / metric.n,
      max: metric.max,
      samples: metric.n,
    });
  }
  const name = (e: TopEntry) => `${e.namespace}/${e.pod}/${e.container}`;
  entries.sort((a, b) => b.avg - a.avg || b.max - a.max || name(a).localeCompare(name(b)));
  return entries.slice(0, Math.max(0, query.limit));
}

const MILLICORE_SECONDS_PER_CORE_HOUR = 1000 * 3600;
const BYTE_SECONDS_PER_GIB_HOUR = 2 ** 30 * 3600;

/**
 * Chargeback per group: usage integrated over each sample's interval (core-hours, GiB-hours),
 * and the same by max(request, usage). Label groups use the label value of the latest bucket.
 */
export async function summary(
  collections: StoreCollections,
  unwritten: Unwritten,
  query: SummaryQuery,
): Promise<SummaryEntry[]> {
  const totals = await windowTotals(collections, unwritten, query.from, query.to, query.namespaces);
  const groups = new Map<string, SummaryEntry>();
  for (const t of totals) {
    const { namespace, pod, labels } = t.doc;
    const group =
      query.groupBy.kind === 'namespace'
        ? namespace
        : query.groupBy.kind === 'pod'
          ? `${namespace}/${pod}`
          : (labels.find((l) => l.k === (query.groupBy as { key: string }).key)?.v ?? '');
    const entry = groups.get(group) ?? {
      group,
      cpuCoreHours: 0,
      cpuCoreHoursBilled: 0,
      memoryGiBHours: 0,
      memoryGiBHoursBilled: 0,
      containers: 0,
    };
    groups.set(group, entry);
    entry.cpuCoreHours += t.cpu.integral / MILLICORE_SECONDS_PER_CORE_HOUR;
    entry.cpuCoreHoursBilled += t.cpu.billedIntegral / MILLICORE_SECONDS_PER_CORE_HOUR;
    entry.memoryGiBHours += t.memory.integral / BYTE_SECONDS_PER_GIB_HOUR;
    entry.memoryGiBHoursBilled += t.memory.billedIntegral / BYTE_SECONDS_PER_GIB_HOUR;
    entry.containers += 1;
  }
  return [...groups.values()].sort(
    (a, b) => b.cpuCoreHoursBilled - a.cpuCoreHoursBilled || a.group.localeCompare(b.group),
  );
}
