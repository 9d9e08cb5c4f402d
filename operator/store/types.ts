/**
 * The store's boundary: what the collector writes and what the HTTP API reads.
 * Implemented by the MongoDB store; other modules depend on these interfaces only.
 */
import type { Aggregate, Coverage, Granularity, IoRollup, UsageMetric } from '../../api/http/v1.js';
import type { ContainerSample, ObjectKey, Retention, SeriesBase } from '../model.js';
import type { BucketHistograms } from './histograms.js';

/** Resolutions kept by the store. `raw` is the samples themselves. */
export const GRANULARITIES = ['raw', '1m', '5m', '1h', '1d'] as const satisfies readonly Granularity[];
/** The API's types of what the store answers (api/http/v1.ts). */
export type { Aggregate, Coverage, Granularity, UsageMetric };

/** One point of a container's history. */
export interface HistoryResultPoint {
  /** Start of the bucket (or the sample time for raw), ms since epoch. */
  time: number;
  /** Samples that went into the point. */
  count: number;
  cpuMillicores: Aggregate | null;
  memoryBytes: Aggregate | null;
  /** Network and block I/O in the point (counter increments; `ms` of agent readings covering it); null without an agent. */
  io?: IoRollup | null;
}

export interface ContainerHistory {
  container: string;
  points: HistoryResultPoint[];
}

export interface HistoryQuery {
  namespace: string;
  pod: string;
  from: number;
  to: number;
  /** `auto` picks the coarsest resolution that still gives `maxPoints` (or fewer, if not kept). */
  granularity: Granularity | 'auto';
  /** Upper bound on points per container; `auto` aims for at most this many. */
  maxPoints: number;
}

export interface HistoryResult {
  granularity: Granularity;
  containers: ContainerHistory[];
}

export interface TopQuery {
  metric: UsageMetric;
  from: number;
  to: number;
  limit: number;
  /** Restrict to these namespaces; undefined means cluster-wide. */
  namespaces?: string[];
}

export interface TopEntry {
  namespace: string;
  pod: string;
  container: string;
  /** Usage over the window: core-hours (cpu) or GiB-hours (memory), as `summary` bills it. Entries rank by it. */
  usage: number;
  /** Average over the whole window (millicores or bytes): `usage` divided by the window's length. */
  windowAvg: number;
  /** Average over the time of the window the container was measured (millicores or bytes), time-weighted. */
  avg: number;
  /** Milliseconds of the window the container was measured in (what `avg` is over). */
  measuredMs: number;
  /** Peak reading over the window (of the buckets read, see docs/accounting.md). */
  max: number;
  /** Readings in the window (of the whole buckets and raw readings read). */
  samples: number;
  /** Network and block I/O of the container over the window; null when no agent supplied any. */
  io?: IoRollup | null;
}

export interface TopResult {
  items: TopEntry[];
  coverage: Coverage;
}

export interface SummaryResult {
  items: SummaryEntry[];
  coverage: Coverage;
}

export type SummaryGroupBy = { kind: 'namespace' } | { kind: 'pod' } | { kind: 'label'; key: string };

export interface SummaryQuery {
  from: number;
  to: number;
  groupBy: SummaryGroupBy;
  namespaces?: string[];
}

/** Chargeback of one group over a window. */
export interface SummaryEntry {
  /** Namespace name, `namespace/pod`, or the label value ('' where the label is missing). */
  group: string;
  cpuCoreHours: number;
  /** Core-hours by max(request, usage), piece by piece of every reading's span. */
  cpuCoreHoursBilled: number;
  memoryGiBHours: number;
  memoryGiBHoursBilled: number;
  containers: number;
  /** Network and block I/O in the window (bytes, packets, operations); null when no agent supplied any. */
  io?: IoRollup | null;
}

export interface DistributionQuery {
  namespace: string;
  from: number;
  to: number;
  /** Length of the intervals memory peaks are taken over (aligned to the epoch); default one day. */
  peakIntervalMs?: number;
}

/** One container series over a window: its distributions, and its measured time and peaks per interval. */
export interface SeriesDistribution {
  series: string;
  namespace: string;
  pod: string;
  container: string;
  /** Readings with a memory value in the window. */
  samples: number;
  /** Milliseconds of the window the series was measured. */
  measuredMs: number;
  /** Milliseconds at each CPU rate (millicores) and working set (bytes) bucket. */
  histograms: BucketHistograms;
  /** The intervals of the window the series has data in. */
  intervals: {
    start: number;
    end: number;
    measuredMs: number;
    /** Highest memory reading (bytes) in the interval. */
    memoryPeak?: number;
    /** Highest CPU reading (millicores) in the interval. */
    cpuPeak?: number;
  }[];
}

/** Read side, served by the HTTP API. */
export interface UsageQueries {
  /** Latest sample of each container of a pod (empty when none). */
  latest(namespace: string, pod: string): Promise<ContainerSample[]>;
  history(query: HistoryQuery): Promise<HistoryResult>;
  top(query: TopQuery): Promise<TopResult>;
  summary(query: SummaryQuery): Promise<SummaryResult>;
  /** A namespace's per-container distributions over a window (right-sizing); absent: not supported. */
  distributions?(query: DistributionQuery): Promise<SeriesDistribution[]>;
}

/** Write side, used by the collector. Resolves once the samples are durable (or buffered). */
export interface SampleWriter {
  write(samples: ContainerSample[]): Promise<WriteOutcome>;
}

/**
 * The writer of one node's readings and buckets under the node's own fence (a node pipeline's):
 * `take` claims the node's next term, which fences every earlier holder of it; its writes are
 * refused (NodeStaleTermError) once a later holder has taken the node.
 */
export interface NodeWriter extends SampleWriter {
  readonly node: string;
  /** Claims the node (incrementing its term in the store) and recomputes its open buckets; returns the term. */
  take(): Promise<number>;
  /** The latest stored reading of each series (of this node), what the holder continues them from. */
  latestReadings(seriesKeys: readonly string[], lookbackMs?: number): Promise<Map<string, SeriesBase>>;
  /** The time of the node's own newest stored reading (its horizon: a container started after it is billed from its start). */
  lastReadingTime(): Promise<number | undefined>;
  /** Writes every open bucket and releases the node, so that it holds no watermark back. */
  release(): Promise<void>;
}

export interface WriteOutcome {
  written: number;
  /** Held in memory because the store is unreachable. */
  buffered: number;
  /** Dropped (oldest first) because the outage buffer is full, in this call. */
  dropped: number;
}

/** Retention, run periodically per policy in bounded batches. */
export interface RetentionRunner {
  /** Data written without a retention of its own (older collectors and layouts), by the policy that wrote it. */
  applyRetention(policy: ObjectKey, retention: Retention, now: number): Promise<{ deleted: number }>;
  /** Data whose own expiry (its series' retention when written) has passed, whatever the policies now. */
  applyExpiry?(now: number): Promise<{ deleted: number }>;
}
