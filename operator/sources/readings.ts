/**
 * What a usage source hands to the accounting: readings with the source's own timestamps.
 * The contract between the sources (kubelet resource endpoint, metrics.k8s.io fallback, node
 * agents) and the store's accounting. Plain data only: no Kubernetes client or MongoDB types.
 */

/** Which source produced a reading, shown on the UsagePolicy status. */
export type ReadingSourceName = 'kubelet' | 'metrics.k8s.io' | 'agent';

/** A cumulative CPU counter (the kubelet's `container_cpu_usage_seconds_total`). */
export interface CpuCounterReading {
  kind: 'counter';
  /** Core-seconds used since the container started. */
  coreSecondsTotal: number;
  /** When the kernel counter was read, ms since epoch (the sample's own timestamp). */
  time: number;
}

/** A CPU rate averaged over a window (metrics.k8s.io PodMetrics, the fallback). */
export interface CpuRateReading {
  kind: 'rate';
  /** Average cores over the window. */
  cores: number;
  /** End of the metrics window, ms since epoch. */
  time: number;
  /** Length of the window the rate was averaged over, ms. */
  windowMs: number;
}

/** A gauge read at one instant (working set bytes). */
export interface GaugeReading {
  value: number;
  /** ms since epoch. */
  time: number;
}

/** One container's reading from one source. */
export interface ContainerReading {
  namespace: string;
  pod: string;
  /** Pod UID: with the container name, the identity of a series. */
  podUid: string;
  container: string;
  node: string;
  /** When the container (this instance of it) started, ms since epoch; a change is a restart. */
  startTime?: number;
  cpu?: CpuCounterReading | CpuRateReading;
  memoryWorkingSetBytes?: GaugeReading;
}

/** A node that could not be read this cycle: reported, never billed as zero. */
export interface UnreadableNode {
  node: string;
  /** A class of failure a person can act on: "timeout", "connection refused", "HTTP 403". */
  reason: string;
  /** The failure in full (the URL read and the error), for logs and status messages. */
  detail?: string;
  /**
   * The node answered, but said its stats may be incomplete (the kubelet's scrape error): the
   * readings it gave are in the batch; containers it left out have none this cycle.
   */
  partial?: boolean;
}

/** What one read of the nodes in scope produced. */
export interface ReadingBatch {
  source: ReadingSourceName;
  readings: ContainerReading[];
  unreadableNodes: UnreadableNode[];
  /** The CPU capacity of the nodes read, cores (their status), where known. */
  nodeCpuCores?: ReadonlyMap<string, number>;
}
