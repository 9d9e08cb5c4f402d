/**
 * The JSON answers of the operator's HTTP API (`/api/v1`) as they travel: times as RFC 3339
 * strings, CPU in millicores, memory in bytes, usage in core-hours and GiB-hours. The server's
 * routes build their answers as these types and the dashboard (ui/) reads them as these types,
 * so a change on either side fails the other's typecheck. Types only: nothing here runs, and
 * the dashboard's bundle carries none of it.
 *
 * What the figures mean (windows, coverage, pro-rated edges): docs/accounting.md.
 */
import type { ResourceAlertSpec, ResourceAlertStatus } from '../v1alpha1/resourcealert.js';

/** A field of an answer the operator could not give, and why. */
export interface AbsentField {
  /** The field, as a path in the answer: `network`, `containers[app].blockIo`, `items[].io`. */
  field: string;
  reason: string;
}

// --- GET /api/v1/namespaces -----------------------------------------------------------------

/** The namespaces whose usage the caller may read. */
export interface NamespacesAnswer {
  /** The caller may list pods cluster-wide: every namespace, and the cluster-wide answers. */
  clusterWide: boolean;
  /** Set when there were more namespaces than the operator reviews one by one. */
  truncated?: boolean;
  items: { name: string }[];
}

// --- GET /api/v1/namespaces/{ns}/resourcealerts ----------------------------------------------

/** A ResourceAlert: its spec and status as on the custom resource. */
export interface AlertItem {
  name: string;
  namespace: string;
  creationTimestamp?: string;
  generation?: number;
  spec: ResourceAlertSpec;
  /** Empty before the operator first writes it. */
  status: ResourceAlertStatus;
}

export interface AlertsAnswer {
  namespace: string;
  /** By name. */
  items: AlertItem[];
}

// --- shared by the usage answers ---------------------------------------------------------

/** min / avg / max of one metric over a bucket; null in its place when the bucket has no value. */
export interface Aggregate {
  min: number;
  avg: number;
  max: number;
}

/**
 * Network and block I/O over a bucket or a window: the counters' increments (bytes, packets,
 * operations) from the node agents' readings, and `ms`, the time those readings cover. A
 * counter is absent where no reading had it (network counters belong to one container of the
 * pod).
 */
export interface IoRollup {
  ms: number;
  networkRxBytes?: number;
  networkRxPackets?: number;
  networkRxErrors?: number;
  networkRxDrops?: number;
  networkTxBytes?: number;
  networkTxPackets?: number;
  networkTxErrors?: number;
  networkTxDrops?: number;
  blockReadBytes?: number;
  blockWriteBytes?: number;
  blockReadOps?: number;
  blockWriteOps?: number;
}

/**
 * How much of a window the answer had data for (see docs/accounting.md): the window is cut into
 * the pieces it is answered from (whole buckets, pro-rated edges, raw readings); each piece counts
 * the longest time any container in scope was measured in it.
 */
export interface Coverage {
  /** Window length, ms. */
  windowMs: number;
  /** Milliseconds of the window with CPU data (the CPU figures' measured time). */
  coveredMs: number;
  /** coveredMs / windowMs, from 0 to 1 (0 for an empty window): the CPU coverage. */
  ratio: number;
  /**
   * Milliseconds of the window with memory data: as coveredMs, from memory's measured time. Short
   * of coveredMs where a span's working set is unknown (a reading after the node could not be
   * read bills the CPU counter difference over the gap but leaves its memory unmeasured).
   */
  memoryCoveredMs: number;
  /** memoryCoveredMs / windowMs, from 0 to 1 (0 for an empty window): the memory coverage. */
  memoryRatio: number;
  /**
   * Milliseconds of the window in which some container's usage is pro-rated from a coarser bucket
   * because the finer levels holding that time have expired (an estimate, not a measurement); 0
   * when every figure is exact.
   */
  proratedMs: number;
}

// --- GET /api/v1/namespaces/{ns}/pods/{pod}/usage ----------------------------------------------

/** What a container is in its pod: a regular one, an init container, or a sidecar (an init container with `restartPolicy: Always`). */
export type ContainerType = 'container' | 'init' | 'sidecar';

/** Packets and bytes received and sent, with errors and drops, cumulative. */
export interface NetworkCounters {
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDrops: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDrops: number;
}

/** One network interface of the pod, cumulative since its network namespace began. */
export interface NetworkInterface extends NetworkCounters {
  name: string;
}

/** The pod's network (its interfaces but `lo`), cumulative, as its node's agent read it at `time`. */
export interface PodNetwork extends NetworkCounters {
  time: string;
  interfaces: NetworkInterface[];
}

/** One block device's I/O of a container, cumulative; the device as `major:minor`. */
interface DeviceIo {
  device: string;
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
}

/** A container's block I/O summed over devices, cumulative, as its node's agent read it at `time`. */
export interface BlockIo {
  time: string;
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
  devices: DeviceIo[];
}

/** The container cgroup's own CPU counter and throttling, cumulative. */
export interface CgroupCpu {
  time: string;
  usageCoreSeconds: number;
  throttledPeriods: number | null;
  throttledSeconds: number | null;
}

/**
 * A container's latest sample, and what its node's agent reads of it. The sample's fields are
 * null for a container only the agent knows (no UsagePolicy collects it, or not yet); the
 * agent's are null without an agent reading.
 */
export interface CurrentContainer {
  container: string;
  /** null without a sample. */
  containerType: ContainerType | null;
  node: string | null;
  /** The UsagePolicy that collected the sample, `namespace/name`. */
  policy: string | null;
  time: string | null;
  /** null in an uptime-only sample (no usage read) and without a sample. */
  cpuMillicores: number | null;
  memoryBytes: number | null;
  /** Absent when the container has none. */
  cpuRequestMillicores?: number | null;
  cpuLimitMillicores?: number | null;
  memoryRequestBytes?: number | null;
  memoryLimitBytes?: number | null;
  cpuPercentOfRequest?: number | null;
  cpuPercentOfLimit?: number | null;
  memoryPercentOfRequest?: number | null;
  memoryPercentOfLimit?: number | null;
  uptimeSeconds: number | null;
  /** The collecting policy's interval: the span of time the sample stands for. */
  intervalSeconds: number | null;
  labels: Record<string, string>;
  cgroupCpu: CgroupCpu | null;
  blockIo: BlockIo | null;
  processCount: number | null;
}

export interface CurrentAnswer {
  namespace: string;
  pod: string;
  /** The node agent that read the pod, and when; null without one. */
  agent: { node: string; time: string } | null;
  network: PodNetwork | null;
  containers: CurrentContainer[];
  absent: AbsentField[];
}

// --- GET /api/v1/namespaces/{ns}/pods/{pod}/usage/history -----------------------------------

/** The resolutions the store keeps; `raw` is the readings themselves. */
export type Granularity = 'raw' | '1m' | '5m' | '1h' | '1d';

/** One point of a container's history. */
export interface HistoryPoint {
  /** Start of the bucket, or the reading's time for raw. */
  time: string;
  /** Readings in the point. */
  count: number;
  cpuMillicores: Aggregate | null;
  memoryBytes: Aggregate | null;
  /** null without agent readings in the point. */
  io: IoRollup | null;
}

export interface HistoryAnswer {
  namespace: string;
  pod: string;
  from: string;
  to: string;
  granularity: Granularity;
  containers: { container: string; points: HistoryPoint[] }[];
  absent: AbsentField[];
}

// --- GET /api/v1/usage/top --------------------------------------------------------------------

export type UsageMetric = 'cpu' | 'memory';

export interface TopItem {
  namespace: string;
  pod: string;
  container: string;
  /** Core-hours or GiB-hours over the window: what the items are ranked by. */
  usage: number;
  /** Average over the whole window (millicores or bytes). */
  windowAvg: number;
  /** Average over the time the container was measured (millicores or bytes). */
  avg: number;
  /** Milliseconds of the window the container was measured in. */
  measuredMs: number;
  /** Peak reading over the window. */
  max: number;
  samples: number;
  io: IoRollup | null;
}

export interface TopAnswer {
  metric: UsageMetric;
  unit: 'millicores' | 'bytes';
  /** Absent for a cluster-wide ranking. */
  namespace?: string;
  from: string;
  to: string;
  coverage: Coverage;
  items: TopItem[];
  absent: AbsentField[];
}

// --- GET /api/v1/usage/summary ------------------------------------------------------------------

/** Chargeback of one group over the window. */
export interface SummaryItem {
  /** The namespace, `namespace/pod`, or the label's value ('' where the label is missing). */
  group: string;
  cpuCoreHours: number;
  /** Core-hours by max(request, usage). */
  cpuCoreHoursBilled: number;
  memoryGiBHours: number;
  memoryGiBHoursBilled: number;
  containers: number;
  io: IoRollup | null;
}

export interface SummaryAnswer {
  /** `namespace`, `pod` or `label:<key>`. */
  groupBy: string;
  /** Absent for a cluster-wide summary. */
  namespace?: string;
  from: string;
  to: string;
  coverage: Coverage;
  items: SummaryItem[];
  absent: AbsentField[];
}

// --- GET /api/v1/namespaces/{ns}/recommendations ------------------------------------------------

/** What recommends: `vpa` (the VPA recommender's percentiles) or `krr` (Robusta KRR's). */
export type StrategyName = 'vpa' | 'krr';

/** A workload by its controller: `Deployment/web`; a bare pod is `Pod/<name>`. */
export interface WorkloadRef {
  kind: string;
  name: string;
}

/** One resource of a recommendation: cores for CPU, bytes for memory. */
export interface ResourceRecommendation {
  request: number | null;
  limit: number | null;
  target: number;
  lowerBound: number;
  upperBound: number;
  /** target - request; null without a request. */
  difference: number | null;
}

/** The recommendation of one container name of one workload (docs/rightsizing.md). */
export interface RecommendationItem {
  workload: WorkloadRef;
  container: string;
  containerType: ContainerType;
  strategy: StrategyName;
  history: {
    /** History: per day of the window, the longest time one of the workload's pods was measured, summed. */
    seconds: number;
    /** Readings of the container over all its pods. */
    samples: number;
    /** Measured time summed over the pods (container-seconds). */
    containerSeconds: number;
    pods: number;
  };
  confidence: number;
  cpu: ResourceRecommendation;
  memory: ResourceRecommendation;
  /**
   * The OOM kill taken into account: the memory it happened at, the bump (bytes), the memory
   * target the history alone gives, and the pods whose container was last OOM-killed
   * (`finishedAt` in ms since the epoch).
   */
  oom?: {
    usedBytes: number;
    bumpBytes: number;
    targetWithoutKill: number;
    pods: { name: string; uid: string; finishedAt?: number }[];
  };
  cost: {
    cpuPerCoreHour: number;
    memoryPerGiBHour: number;
    /** Per replica: the current requests (a missing request counts as 0) and the targets, per hour. */
    currentPerHour: number;
    recommendedPerHour: number;
    differencePerHour: number;
    /** Live pods of the workload, and the difference over all of them. */
    replicas: number;
    differencePerHourAllReplicas: number;
  };
}

export interface RecommendationsAnswer {
  namespace: string;
  strategy: StrategyName;
  from: string;
  to: string;
  /** The `workload` asked for, when one was. */
  workload?: WorkloadRef;
  items: RecommendationItem[];
}

// --- GET /api/v1/events (server-sent events) ----------------------------------------------------

/** `event: snapshot`: a container's new sample. */
export interface SnapshotMessage {
  type: 'snapshot';
  namespace: string;
  pod: string;
  container: string;
  time: string;
  cpuMillicores: number | null;
  memoryBytes: number | null;
}

/** `event: alert`: a ResourceAlert target started or stopped firing. */
export interface AlertMessage {
  type: 'alert';
  namespace: string;
  /** The ResourceAlert's name. */
  name: string;
  transition: 'fired' | 'resolved';
  /** `pod/container`, or `pod` for scope: pod. */
  target: string;
  metric: UsageMetric;
  /** Millicores or bytes; null when the transition came from missing data. */
  value: number | null;
  threshold: number | null;
  time: string;
}

export type EventMessage = SnapshotMessage | AlertMessage;
