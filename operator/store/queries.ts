/**
 * The read side. Every answer comes from the database alone, so every replica gives the same one:
 * a level's buckets up to its watermark (written whole), and what lies after it from the finer
 * levels and the stored raw readings. Averages, peaks, rankings and chargeback are computed in
 * code from sums, counts, extremes and integrals (FerretDB has no $avg/$min/$max accumulators).
 *
 * A window is answered from whole buckets, coarsest first, and its edges from the finest level
 * still kept: within a bucket cut by an edge, the finer level (down to the raw readings, whose
 * spans are pro-rated by time) for the time from which it still holds the series
 * (finer-levels.ts), and for the time before, what the bucket holds beyond that, pro-rated. See
 * docs/accounting.md.
 *
 * Totals are kept per series and label set (the labels each span ran with: label-sets.ts), so a
 * label group gets the usage of exactly the spans read under its label; rankings and per-container
 * figures add a series' label sets together.
 */
import type { Filter } from 'mongodb';
import type { ContainerSample, LabelPair } from '../model.js';
import { labelSetKey } from './label-sets.js';
import type { StoreCollections } from './connection.js';
import { addIoPiece, emptyIo, ioOverlapMs, IO_COUNTERS, mergeIo, type IoRollup } from './io-counters.js';
import { finerHeldFrom, proratedShare, remainderOf } from './finer-levels.js';
import {
  bucketStart,
  GRANULARITY_MS,
  granularityMs,
  RESOLUTION_MS,
  ROLLUP_RESOLUTIONS,
  type Resolution,
} from './resolutions.js';
import { MetricAccumulator, seriesOfDoc, type MetricRollup, type RollupDoc } from './rollups.js';
import { fromSnapshotDoc, seriesKey, seriesOfSnapshot, type SnapshotDoc } from './snapshots.js';
import { overlapMs, spanOf } from './spans.js';
import { compareTop } from './top-ranking.js';
import { readLevelWatermarks, type Watermarks } from './watermarks.js';
import { readingsOverlapping } from './write-path.js';
import { BucketHistograms, pieceIndicesOf } from './histograms.js';
import {
  GRANULARITIES,
  type Aggregate,
  type ContainerHistory,
  type Coverage,
  type Granularity,
  type HistoryResultPoint,
  type HistoryQuery,
  type HistoryResult,
  type SummaryEntry,
  type SummaryQuery,
  type SummaryResult,
  type TopEntry,
  type TopQuery,
  type TopResult,
} from './types.js';

/** Interval assumed for a pod with no sample yet, to estimate raw points. */
const DEFAULT_INTERVAL_MS = 30_000;

/** Figures of one read, for the benchmark. */
export interface ReadStats {
  documentsRead: number;
}

/** Coarsest first, then the raw readings. */
const LEVELS = [...ROLLUP_RESOLUTIONS].reverse();

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

/** One series over (part of) a window. */
export class SeriesWindow {
  count = 0;
  readonly cpu = new MetricAccumulator();
  readonly memory = new MetricAccumulator();
  readonly histograms = new BucketHistograms();
  /** I/O over the window (io-counters.ts); undefined when no agent supplied any. */
  io: IoRollup | undefined;
  /** Time of the bucket or reading the identity was taken from. */
  private latest = -Infinity;

  constructor(
    readonly series: string,
    public namespace: string,
    public pod: string,
    public container: string,
    public labels: { k: string; v: string }[],
  ) {}

  identify(
    time: number,
    source: { namespace: string; pod: string; container: string; labels: SeriesWindow['labels'] },
  ): void {
    if (time < this.latest) return;
    this.latest = time;
    this.labels = source.labels;
  }

  add(other: SeriesWindow): void {
    this.count += other.count;
    this.cpu.merge(other.cpu.toRollup());
    this.memory.merge(other.memory.toRollup());
    this.histograms.merge(other.histograms);
    if (other.io) mergeIo((this.io ??= emptyIo()), other.io);
    this.identify(other.latest, other);
  }
}

/** By series and label set (totalsKey). */
type Totals = Map<string, SeriesWindow>;

/** The key of a series' usage under one label set. */
function totalsKey(series: string, labels: readonly LabelPair[]): string {
  return `${series}\u0000${labelSetKey(labels)}`;
}

/** Each series' totals, its label sets added together (a new window each: `totals` is unchanged). */
function perSeries(totals: Totals): SeriesWindow[] {
  const bySeries = new Map<string, SeriesWindow>();
  for (const window of totals.values()) {
    let merged = bySeries.get(window.series);
    if (merged === undefined) {
      merged = new SeriesWindow(window.series, window.namespace, window.pod, window.container, window.labels);
      bySeries.set(window.series, merged);
    }
    merged.add(window);
  }
  return [...bySeries.values()];
}

/** The longest measured time of any series, summed over its label sets: `ms` by series and label set. */
function longestSeriesMs(measured: Iterable<[series: string, ms: number]>): number {
  const bySeries = new Map<string, number>();
  for (const [series, ms] of measured) bySeries.set(series, (bySeries.get(series) ?? 0) + ms);
  return Math.max(0, ...bySeries.values());
}

interface RangeResult {
  totals: Totals;
  /** Sum over the pieces of the longest CPU-measured time of any series in the piece. */
  coveredMs: number;
  /** The same from memory's measured time (spans without a working-set reading left out). */
  memoryCoveredMs: number;
  /** Sum over the pieces of the time some series' usage was pro-rated from a coarser bucket in. */
  proratedMs: number;
}

interface ReadContext {
  collections: StoreCollections;
  marks: Watermarks;
  now: number;
  scope: Filter<RollupDoc>;
  stats: ReadStats;
}

function windowOf(totals: Totals, series: string, source: RollupDoc | ContainerSample): SeriesWindow {
  const key = totalsKey(series, source.labels);
  let window = totals.get(key);
  if (window === undefined) {
    window = new SeriesWindow(series, source.namespace, source.pod, source.container, source.labels);
    totals.set(key, window);
  }
  return window;
}

function merge(into: RangeResult, from: RangeResult): void {
  into.coveredMs += from.coveredMs;
  into.memoryCoveredMs += from.memoryCoveredMs;
  into.proratedMs += from.proratedMs;
  for (const [key, window] of from.totals) {
    const existing = into.totals.get(key);
    if (existing === undefined) into.totals.set(key, window);
    else existing.add(window);
  }
}

/**
 * Documents of schema 2 were per policy: of a container's buckets for the same time, the one with
 * most readings is kept (what that layout answered). Documents with a series are kept as they are.
 */
function withoutPolicyDuplicates(docs: RollupDoc[]): RollupDoc[] {
  if (docs.every((d) => d.series !== undefined)) return docs;
  const best = new Map<string, RollupDoc>();
  const result: RollupDoc[] = [];
  for (const doc of docs) {
    if (doc.series !== undefined) result.push(doc);
    else {
      const key = `${seriesOfDoc(doc)}|${doc.time.getTime()}`;
      const current = best.get(key);
      if (current === undefined || doc.count > current.count) best.set(key, doc);
    }
  }
  return [...result, ...best.values()];
}

async function readBuckets(
  ctx: ReadContext,
  resolution: Resolution,
  from: number,
  to: number,
): Promise<RollupDoc[]> {
  const docs = await ctx.collections.rollups[resolution]
    .find({ ...ctx.scope, time: { $gte: new Date(from), $lt: new Date(to) } } as Filter<RollupDoc>)
    .toArray();
  ctx.stats.documentsRead += docs.length;
  return withoutPolicyDuplicates(docs);
}

/** Whole buckets of one level. */
function wholeBuckets(docs: RollupDoc[]): RangeResult {
  const totals: Totals = new Map();
  const measured = new Map<number, [string, number][]>();
  const memoryMeasured = new Map<number, [string, number][]>();
  const piecesAt = (byTime: Map<number, [string, number][]>, time: number) => {
    let pieces = byTime.get(time);
    if (pieces === undefined) byTime.set(time, (pieces = []));
    return pieces;
  };
  for (const doc of docs) {
    const time = doc.time.getTime();
    const series = seriesOfDoc(doc);
    const window = windowOf(totals, series, doc);
    window.count += doc.count;
    window.cpu.merge(doc.cpu);
    window.memory.merge(doc.memory);
    window.histograms.mergeStored(doc.hist);
    if (doc.io) mergeIo((window.io ??= emptyIo()), doc.io);
    window.identify(time, doc);
    piecesAt(measured, time).push([series, doc.cpu.ms ?? 0]);
    piecesAt(memoryMeasured, time).push([series, doc.memory.ms ?? 0]);
  }
  let coveredMs = 0;
  for (const pieces of measured.values()) coveredMs += longestSeriesMs(pieces);
  let memoryCoveredMs = 0;
  for (const pieces of memoryMeasured.values()) memoryCoveredMs += longestSeriesMs(pieces);
  return { totals, coveredMs, memoryCoveredMs, proratedMs: 0 };
}

/** The stored readings of [a, b) (see readingsOverlapping), counted in the read's figures. */
async function readingsOf(ctx: ReadContext, a: number, b: number): Promise<ContainerSample[]> {
  const readings = await readingsOverlapping(
    ctx.collections.snapshots,
    a,
    b,
    ctx.scope as Filter<SnapshotDoc>,
  );
  ctx.stats.documentsRead += readings.length;
  return readings;
}

/** Adds the part of a reading inside [a, b) to `totals`: its span pro-rated, the reading itself if taken in it. */
function addRawPart(totals: Totals, reading: ContainerSample, a: number, b: number): void {
  const span = spanOf(reading);
  const ms = overlapMs(span.from, span.to, a, b);
  const inWindow = reading.time >= a && reading.time < b;
  const ioMs = reading.io ? ioOverlapMs(reading.io, a, b) : 0;
  if (ms === 0 && !inWindow && ioMs === 0) return;
  const window = windowOf(totals, seriesKey(reading), reading);
  if (reading.io && ioMs > 0) addIoPiece((window.io ??= emptyIo()), reading.io, ioMs);
  if (ms > 0) {
    window.cpu.addPiece(span.cpu, reading.cpuRequestMillicores, ms, span.to - span.from, span.cpuBilled);
    window.memory.addPiece(
      span.memory,
      reading.memoryRequestBytes,
      ms,
      span.to - span.from,
      span.memoryBilled,
    );
    window.histograms.addPiece(pieceIndicesOf(span), ms);
  }
  if (inWindow) {
    window.count += 1;
    window.cpu.addReading(reading.cpuMillicores);
    window.memory.addReading(reading.memoryBytes);
    window.identify(reading.time, reading);
  }
}

function rawResult(totals: Totals): RangeResult {
  const windows = [...totals.values()];
  return {
    totals,
    coveredMs: longestSeriesMs(windows.map((w): [string, number] => [w.series, w.cpu.ms])),
    memoryCoveredMs: longestSeriesMs(windows.map((w): [string, number] => [w.series, w.memory.ms])),
    proratedMs: 0,
  };
}

/** The raw readings' spans pro-rated to [a, b). */
async function rawRange(ctx: ReadContext, a: number, b: number): Promise<RangeResult> {
  const totals: Totals = new Map();
  for (const reading of await readingsOf(ctx, a, b)) addRawPart(totals, reading, a, b);
  return rawResult(totals);
}

/**
 * [a, b) cut into epoch-aligned buckets of `width`, each answered from the raw readings as
 * `rawRange` would answer it, with one read: the granularities finer than the stored levels.
 */
async function rawBuckets(
  ctx: ReadContext,
  a: number,
  b: number,
  width: number,
): Promise<Map<number, RangeResult>> {
  const buckets = new Map<number, Totals>();
  const totalsAt = (start: number) => {
    let totals = buckets.get(start);
    if (totals === undefined) buckets.set(start, (totals = new Map()));
    return totals;
  };
  for (const reading of await readingsOf(ctx, a, b)) {
    const span = spanOf(reading);
    const first = Math.min(span.from, reading.time, reading.io?.from ?? Infinity);
    const last = Math.max(span.to, reading.time + 1, reading.io?.to ?? -Infinity);
    for (
      let start = Math.floor(Math.max(a, first) / width) * width;
      start < Math.min(b, last);
      start += width
    )
      addRawPart(totalsAt(start), reading, Math.max(a, start), Math.min(b, start + width));
  }
  return new Map([...buckets].map(([start, totals]) => [start, rawResult(totals)]));
}

/** [a, b) answered from level `index` of LEVELS and the finer ones. */
async function range(ctx: ReadContext, index: number, a: number, b: number): Promise<RangeResult> {
  const result: RangeResult = { totals: new Map(), coveredMs: 0, memoryCoveredMs: 0, proratedMs: 0 };
  if (!(b > a)) return result;
  const resolution = LEVELS[index];
  if (resolution === undefined) return rawRange(ctx, a, b);
  const width = RESOLUTION_MS[resolution];
  const watermark = ctx.marks[resolution];
  let runStart: number | undefined;
  let runEnd = 0;
  const flushRun = async () => {
    if (runStart === undefined) return;
    merge(result, wholeBuckets(await readBuckets(ctx, resolution, runStart, runEnd)));
    runStart = undefined;
  };
  for (let start = bucketStart(a, resolution); start < b; start += width) {
    const end = start + width;
    if (end > watermark) {
      // Not written whole yet: the rest of the range comes from the finer levels.
      await flushRun();
      merge(result, await range(ctx, index + 1, Math.max(a, start), b));
      break;
    }
    if (start >= a && end <= b) {
      runStart ??= start;
      runEnd = end;
      continue;
    }
    await flushRun();
    merge(result, await edgeBucket(ctx, index, start, Math.max(a, start), Math.min(b, end)));
  }
  await flushRun();
  return result;
}

/** The context restricted to some series (by `$in`) or to all but some (by `$nin`). */
function withSeries(ctx: ReadContext, series: Filter<RollupDoc>['series']): ReadContext {
  return { ...ctx, scope: { $and: [ctx.scope, { series }] } as Filter<RollupDoc> };
}

/**
 * The part [a, b) of the bucket starting at `start` of level `index`, per series: from the finer
 * levels for the time from which they still hold the series (finer-levels.ts); for the time before
 * that, what the bucket holds beyond the finer level's part, pro-rated (the whole bucket pro-rated
 * when the finer level holds none of it). A series that is held from before `a` is answered by
 * the finer levels alone, as is any series without a bucket here.
 */
async function edgeBucket(
  ctx: ReadContext,
  index: number,
  start: number,
  a: number,
  b: number,
): Promise<RangeResult> {
  const resolution = LEVELS[index] as Resolution;
  const end = start + RESOLUTION_MS[resolution];
  const byHeld = new Map<number, RollupDoc[]>();
  for (const doc of await readBuckets(ctx, resolution, start, start + 1)) {
    const held = finerHeldFrom(resolution, doc, ctx.now);
    if (held <= a) continue;
    const group = byHeld.get(held);
    if (group === undefined) byHeld.set(held, [doc]);
    else group.push(doc);
  }
  if (byHeld.size === 0) return range(ctx, index + 1, a, b);
  const cut = [...new Set([...byHeld.values()].flatMap((docs) => docs.map(seriesOfDoc)))];
  const result = await range(withSeries(ctx, { $nin: cut }), index + 1, a, b);
  // Documents of schema 2 name no series: theirs are matched by neither filter, and kept out here.
  const cutSeries = new Set(cut);
  for (const [key, window] of result.totals) if (cutSeries.has(window.series)) result.totals.delete(key);
  // The parts answer disjoint series over the same time: the longest measured time of any of them.
  const combine = (part: RangeResult) => {
    for (const [key, window] of part.totals) result.totals.set(key, window);
    result.coveredMs = Math.max(result.coveredMs, part.coveredMs);
    result.memoryCoveredMs = Math.max(result.memoryCoveredMs, part.memoryCoveredMs);
    result.proratedMs = Math.max(result.proratedMs, part.proratedMs);
  };
  for (const [held, docs] of byHeld) {
    const scoped = withSeries(ctx, { $in: [...new Set(docs.map(seriesOfDoc))] });
    const known = await range(scoped, index + 1, held, b);
    const after = await range(scoped, index + 1, Math.max(held, b), end);
    const share = proratedShare(start, held, a, b);
    const estimatedMs: [string, number][] = [];
    const estimatedMemoryMs: [string, number][] = [];
    let estimated = false;
    for (const doc of docs) {
      // The finer level's parts of the same series under the same label set (each bucket holds one).
      const key = totalsKey(seriesOfDoc(doc), doc.labels);
      const estimate = prorated(doc, [known.totals.get(key), after.totals.get(key)], share);
      estimated ||= estimate.estimated;
      estimatedMs.push([estimate.window.series, estimate.window.cpu.ms]);
      estimatedMemoryMs.push([estimate.window.series, estimate.window.memory.ms]);
      const window = known.totals.get(key);
      if (window === undefined) known.totals.set(key, estimate.window);
      else window.add(estimate.window);
    }
    combine({
      totals: known.totals,
      coveredMs: known.coveredMs + longestSeriesMs(estimatedMs),
      memoryCoveredMs: known.memoryCoveredMs + longestSeriesMs(estimatedMemoryMs),
      proratedMs: known.proratedMs + (estimated ? Math.min(b, held) - a : 0),
    });
  }
  return result;
}

/** A stored metric less the finer level's parts of its bucket, scaled by `share`. */
function remainderMetric(
  stored: MetricRollup,
  held: (MetricAccumulator | undefined)[],
  share: number,
): MetricRollup {
  let integral = stored.integral;
  let billedIntegral = stored.billedIntegral;
  let ms = stored.ms ?? 0;
  for (const part of held) {
    if (part === undefined) continue;
    integral -= part.integral;
    billedIntegral -= part.billedIntegral;
    ms -= part.ms;
  }
  const rollup: MetricRollup = {
    n: 0,
    sum: 0,
    integral: remainderOf(integral, 0) * share,
    billedIntegral: remainderOf(billedIntegral, 0) * share,
    ms: remainderOf(ms, 0) * share,
  };
  if (stored.min !== undefined) rollup.min = stored.min;
  if (stored.max !== undefined) rollup.max = stored.max;
  return rollup;
}

/**
 * The bucket's series beyond what the finer level holds of it (`held`), scaled by `share`; and
 * whether that is any usage, billed usage or I/O at all (an estimate the answer must own up to).
 */
function prorated(
  doc: RollupDoc,
  held: (SeriesWindow | undefined)[],
  share: number,
): { window: SeriesWindow; estimated: boolean } {
  const parts = held.filter((w): w is SeriesWindow => w !== undefined);
  const window = new SeriesWindow(seriesOfDoc(doc), doc.namespace, doc.pod, doc.container, doc.labels);
  const cpu = remainderMetric(
    doc.cpu,
    parts.map((p) => p.cpu),
    share,
  );
  const memory = remainderMetric(
    doc.memory,
    parts.map((p) => p.memory),
    share,
  );
  window.cpu.merge(cpu);
  window.memory.merge(memory);
  window.histograms.mergeStored(doc.hist, share);
  for (const part of parts) window.histograms.mergeStored(part.histograms.toStored(), -share);
  let ioMs = 0;
  if (doc.io) {
    const io = (window.io = emptyIo());
    for (const name of [...IO_COUNTERS, 'ms'] as const) {
      const stored = doc.io[name];
      if (stored === undefined) continue;
      const inParts = parts.reduce((n, p) => n + (p.io?.[name] ?? 0), 0);
      io[name] = remainderOf(stored, inParts) * share;
    }
    ioMs = io.ms;
  }
  window.identify(doc.time.getTime(), doc);
  const estimated =
    share > 0 &&
    (cpu.billedIntegral > 0 ||
      (cpu.ms ?? 0) > 0 ||
      memory.billedIntegral > 0 ||
      (memory.ms ?? 0) > 0 ||
      ioMs > 0);
  return { window, estimated };
}

async function windowTotals(
  collections: StoreCollections,
  from: number,
  to: number,
  scope: Filter<RollupDoc>,
  now: number,
  stats: ReadStats,
): Promise<RangeResult> {
  const marks = await readLevelWatermarks(collections.meta);
  return range({ collections, marks, now, scope, stats }, 0, from, to);
}

/**
 * Every series of `scope` over [from, to), answered as summaries are (whole buckets, edges from
 * the finer levels, the open tail from the raw readings), with its distributions.
 */
export async function windowSeries(
  collections: StoreCollections,
  from: number,
  to: number,
  scope: { namespace: string; pod?: string },
  now: number,
  stats: ReadStats = { documentsRead: 0 },
): Promise<{ series: SeriesWindow[]; coveredMs: number }> {
  if (!(to > from)) return { series: [], coveredMs: 0 };
  const { totals, coveredMs } = await windowTotals(collections, from, to, scope, now, stats);
  return { series: perSeries(totals), coveredMs };
}

function coverageOf(
  from: number,
  to: number,
  { coveredMs, memoryCoveredMs, proratedMs }: RangeResult,
): Coverage {
  const windowMs = Math.max(0, to - from);
  return {
    windowMs,
    coveredMs,
    ratio: windowMs > 0 ? Math.min(1, coveredMs / windowMs) : 0,
    memoryCoveredMs,
    memoryRatio: windowMs > 0 ? Math.min(1, memoryCoveredMs / windowMs) : 0,
    proratedMs: Math.min(windowMs, proratedMs),
  };
}

function namespaceScope(namespaces: readonly string[] | undefined): Filter<RollupDoc> {
  return namespaces === undefined ? {} : { namespace: { $in: [...namespaces] } };
}

/** The window's totals per container for a top or summary query; none for an empty scope or window. */
async function queryTotals(
  collections: StoreCollections,
  query: { from: number; to: number; namespaces?: readonly string[] },
  now: number,
  stats: ReadStats,
): Promise<RangeResult> {
  if ((query.namespaces !== undefined && query.namespaces.length === 0) || !(query.to > query.from))
    return { totals: new Map(), coveredMs: 0, memoryCoveredMs: 0, proratedMs: 0 };
  return windowTotals(collections, query.from, query.to, namespaceScope(query.namespaces), now, stats);
}

const MILLICORE_SECONDS_PER_CORE_HOUR = 1000 * 3600;
const BYTE_SECONDS_PER_GIB_HOUR = 2 ** 30 * 3600;

export async function top(
  collections: StoreCollections,
  query: TopQuery,
  now: number,
  stats: ReadStats = { documentsRead: 0 },
): Promise<TopResult> {
  const answer = await queryTotals(collections, query, now, stats);
  const windowSeconds = (query.to - query.from) / 1000;
  const perHour = query.metric === 'cpu' ? MILLICORE_SECONDS_PER_CORE_HOUR : BYTE_SECONDS_PER_GIB_HOUR;
  const entries: TopEntry[] = [];
  for (const t of perSeries(answer.totals)) {
    const metric = query.metric === 'cpu' ? t.cpu : t.memory;
    if (metric.ms === 0) continue;
    const avg = metric.integral / (metric.ms / 1000);
    entries.push({
      namespace: t.namespace,
      pod: t.pod,
      container: t.container,
      usage: metric.integral / perHour,
      windowAvg: metric.integral / windowSeconds,
      avg,
      measuredMs: metric.ms,
      max: metric.n > 0 ? metric.max : avg,
      samples: metric.n,
      io: ioOf(t.io),
    });
  }
  entries.sort(compareTop);
  return {
    items: entries.slice(0, Math.max(0, query.limit)),
    coverage: coverageOf(query.from, query.to, answer),
  };
}

/**
 * Chargeback per group: usage integrated over the readings' spans within the window (core-hours,
 * GiB-hours), and the same by max(request, usage). A label group gets the usage of the spans read
 * while the container had that label value (a relabelled container is in two groups, each for its
 * time); `containers` counts each container once per group.
 */
export async function summary(
  collections: StoreCollections,
  query: SummaryQuery,
  now: number,
  stats: ReadStats = { documentsRead: 0 },
): Promise<SummaryResult> {
  const answer = await queryTotals(collections, query, now, stats);
  const groups = new Map<string, SummaryEntry>();
  const members = new Map<string, Set<string>>();
  for (const t of answer.totals.values()) {
    const group =
      query.groupBy.kind === 'namespace'
        ? t.namespace
        : query.groupBy.kind === 'pod'
          ? `${t.namespace}/${t.pod}`
          : (t.labels.find((l) => l.k === (query.groupBy as { key: string }).key)?.v ?? '');
    const entry = groups.get(group) ?? {
      group,
      cpuCoreHours: 0,
      cpuCoreHoursBilled: 0,
      memoryGiBHours: 0,
      memoryGiBHoursBilled: 0,
      containers: 0,
      io: null,
    };
    groups.set(group, entry);
    entry.cpuCoreHours += t.cpu.integral / MILLICORE_SECONDS_PER_CORE_HOUR;
    entry.cpuCoreHoursBilled += t.cpu.billedIntegral / MILLICORE_SECONDS_PER_CORE_HOUR;
    entry.memoryGiBHours += t.memory.integral / BYTE_SECONDS_PER_GIB_HOUR;
    entry.memoryGiBHoursBilled += t.memory.billedIntegral / BYTE_SECONDS_PER_GIB_HOUR;
    let seen = members.get(group);
    if (seen === undefined) members.set(group, (seen = new Set()));
    seen.add(t.series);
    entry.containers = seen.size;
    if (t.io) {
      const io = (entry.io ??= emptyIo());
      mergeIo(io, t.io);
    }
  }
  for (const entry of groups.values()) {
    if (entry.io === null) continue;
    entry.io = ioOf(entry.io as IoRollup);
  }
  const items = [...groups.values()].sort(
    (a, b) => b.cpuCoreHoursBilled - a.cpuCoreHoursBilled || a.group.localeCompare(b.group),
  );
  return { items, coverage: coverageOf(query.from, query.to, answer) };
}

export async function history(
  collections: StoreCollections,
  query: HistoryQuery,
  now: number,
): Promise<HistoryResult> {
  const granularity =
    query.granularity === 'auto' ? await chooseGranularity(collections, query) : query.granularity;
  if (!(query.to > query.from)) return { granularity, containers: [] };
  const containers =
    granularity === 'raw'
      ? await rawHistory(collections, query)
      : await rollupHistory(collections, query, granularity, now);
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
    // The 1m granularity is computed from the raw readings: it reaches as far back as they do.
    const collection =
      granularity === 'raw' || !isStored(granularity)
        ? collections.snapshots
        : collections.rollups[granularity];
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
    // Readings of schema 2 were per policy; a container has one series since.
    const key = doc.from === undefined ? `${seriesOfSnapshot(doc)}|${doc.policy}` : doc.series;
    const series = bySeries.get(key);
    if (series === undefined) bySeries.set(key, [doc]);
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
        io: doc.io ? ioOf({ ...doc.io.inc, ms: doc.io.to - doc.io.from }) : null,
      })),
    })),
  );
}

function pointOf(value: number | null): Aggregate | null {
  return value === null ? null : { min: value, avg: value, max: value };
}

function isStored(granularity: Exclude<Granularity, 'raw'>): granularity is Resolution {
  return (ROLLUP_RESOLUTIONS as readonly string[]).includes(granularity);
}

/**
 * Buckets of a pod. A stored level: the written buckets as stored, the ones past the watermark
 * from the finer levels. A finer granularity (1m): every bucket from the raw readings.
 */
async function rollupHistory(
  collections: StoreCollections,
  query: HistoryQuery,
  granularity: Exclude<Granularity, 'raw'>,
  now: number,
): Promise<ContainerHistory[]> {
  const width = GRANULARITY_MS[granularity];
  const from = Math.floor(query.from / width) * width;
  const marks = await readLevelWatermarks(collections.meta);
  const scope = { namespace: query.namespace, pod: query.pod };
  const ctx: ReadContext = { collections, marks, now, scope, stats: { documentsRead: 0 } };
  const byContainer = new Map<string, Map<number, SeriesWindow>>();
  const bucketOf = (source: RollupDoc | SeriesWindow, start: number) => {
    let buckets = byContainer.get(source.container);
    if (buckets === undefined) byContainer.set(source.container, (buckets = new Map()));
    let bucket = buckets.get(start);
    if (bucket === undefined) {
      bucket = new SeriesWindow(
        source.container,
        source.namespace,
        source.pod,
        source.container,
        source.labels,
      );
      buckets.set(start, bucket);
    }
    return bucket;
  };
  const addComputed = (start: number, { totals }: RangeResult) => {
    for (const t of totals.values()) if (t.count > 0 || t.io) bucketOf(t, start).add(t);
  };
  if (!isStored(granularity)) {
    // Whole buckets, as the stored levels give them.
    const to = Math.ceil(query.to / width) * width;
    for (const [start, result] of await rawBuckets(ctx, from, to, width)) addComputed(start, result);
  } else {
    const watermark = Math.max(from, Math.min(marks[granularity], query.to));
    const stored = withoutPolicyDuplicates(
      await collections.rollups[granularity]
        .find({ ...scope, time: { $gte: new Date(from), $lt: new Date(watermark) } })
        .toArray(),
    );
    for (const doc of stored) {
      const bucket = bucketOf(doc, doc.time.getTime());
      bucket.count += doc.count;
      bucket.cpu.merge(doc.cpu);
      bucket.memory.merge(doc.memory);
      if (doc.io) mergeIo((bucket.io ??= emptyIo()), doc.io);
    }
    const index = LEVELS.indexOf(granularity);
    for (let start = bucketStart(watermark, granularity); start < query.to; start += width) {
      if (start < watermark) continue;
      addComputed(start, await range(ctx, index + 1, start, Math.min(start + width, query.to)));
    }
  }
  return [...byContainer.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([container, buckets]) => ({
      container,
      points: [...buckets.entries()]
        .sort(([a], [b]) => a - b)
        .map(([time, bucket]): HistoryResultPoint => ({
          time,
          count: bucket.count,
          cpuMillicores: aggregateOf(bucket.cpu),
          memoryBytes: aggregateOf(bucket.memory),
          io: ioOf(bucket.io),
        })),
    }));
}

function aggregateOf(metric: MetricAccumulator): Aggregate | null {
  return metric.n === 0 ? null : { min: metric.min, avg: metric.sum / metric.n, max: metric.max };
}

/** One history per container (the series with most readings when an older layout kept one per policy), by name. */
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

/** The I/O of an answer: the counters (rounded where they are exact counts) and the ms they cover; null when none. */
function ioOf(io: IoRollup | undefined | null): IoRollup | null {
  if (!io) return null;
  const out: IoRollup = { ms: io.ms };
  for (const name of IO_COUNTERS) if (io[name] !== undefined) out[name] = io[name];
  return out;
}
