/**
 * The data that flows through the operator, one way:
 * metrics source -> sampler -> samples of a cycle -> store and evaluator -> status, notifiers.
 * Plain data only: no Kubernetes client and no MongoDB types here.
 */
import type { ContainerType } from '../api/http/v1.js';
import type { Retention } from '../api/v1alpha1/normalize.js';

/** Time source, injected so that logic can be tested with a fake clock. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A Kubernetes label map stored as a list, since label keys may contain dots. */
export interface LabelPair {
  k: string;
  v: string;
}

/** Identifies a UsagePolicy (or any namespaced object) as `namespace/name`. */
export type ObjectKey = string;

export function objectKey(namespace: string, name: string): ObjectKey {
  return `${namespace}/${name}`;
}

/** The namespace and name of a key made by objectKey, e.g. for log fields. */
import type { IoReading } from './store/io-counters.js';

export function objectRef(key: ObjectKey): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Requests and limits of one container, exact: CPU in millicores, memory in bytes. */
export interface ContainerResources {
  cpuRequestMillicores?: number;
  cpuLimitMillicores?: number;
  memoryRequestBytes?: number;
  memoryLimitBytes?: number;
}

export type { ContainerType };

/**
 * One container's usage at one instant, as collected. `cpuMillicores` and `memoryBytes`
 * are null in an uptime-only sample (no metrics API, or no metrics for the pod yet).
 */
export interface ContainerSample extends ContainerResources {
  /** Sample time (the PodMetrics timestamp when there is one), ms since epoch. */
  time: number;
  /** The UsagePolicy that collected it, `namespace/name`. */
  policy: ObjectKey;
  namespace: string;
  pod: string;
  container: string;
  /** An init container or a sidecar; absent for a regular container. */
  containerType?: Exclude<ContainerType, 'container'>;
  node: string;
  labels: LabelPair[];
  /** CPU in millicores, exact from nanocores (may have a fractional part). */
  cpuMillicores: number | null;
  memoryBytes: number | null;
  cpuPercentOfRequest?: number;
  cpuPercentOfLimit?: number;
  memoryPercentOfRequest?: number;
  memoryPercentOfLimit?: number;
  /** Seconds since the container started. */
  uptimeSeconds: number;
  /*
   * Exact accounting. A sample accounts for the time span [from, time]: `time` is the
   * reading's own timestamp and `from` the timestamp of the series' previous reading (or the
   * container's start for a container first seen after it started). The store integrates these
   * spans, split at bucket boundaries; it never credits an interval it was not given.
   */
  /** Pod UID: with `container`, the identity of the container's one series (see containerSeriesKey). */
  podUid?: string;
  /**
   * UID of the pod's namespace when it was read: the tenant the usage belongs to (a namespace
   * deleted and re-created under the same name is another one). Absent when it was not known.
   */
  namespaceUid?: string;
  /** Start of the span this sample accounts for, ms since epoch; equal to `time` when it accounts for none. */
  from?: number;
  /** Core-seconds used in [from, time], exact from the cumulative counter; null when not measured. */
  cpuCoreSeconds?: number | null;
  /** Working-set bytes integrated over [from, time] (byte-seconds); null when not measured. */
  memoryByteSeconds?: number | null;
  /**
   * What [from, time] bills (core-seconds, byte-seconds by max(request, usage)) when the span
   * merges consecutive readings (the outage buffer's): the sum of what each bills. Absent on a
   * single reading, which bills max(request x span, usage).
   */
  cpuCoreSecondsBilled?: number;
  memoryByteSecondsBilled?: number;
  /** The cumulative CPU counter at `time` (core-seconds since the container started): the base of the next increment. */
  cpuCoreSecondsTotal?: number;
  /** When this instance of the container started, ms since epoch; a change is a restart (counter reset). */
  containerStartTime?: number;
  /** The longest retention of the policies that select the container, when it was read. */
  retention?: Retention;
  /** Network and block I/O from the node agent over its own span (store/io-counters.ts); absent without an agent. */
  io?: IoReading;
  /**
   * The collecting policy's interval in seconds: the span of time this sample stands for.
   * Chargeback integrates usage over it (core-hours = sum of cores x interval).
   */
  intervalSeconds: number;
}

/**
 * What one collection cycle of one policy produced. Read-only once built: the sinks share it
 * (the evaluator caches per-cycle work keyed on the object).
 */
export interface CollectionCycle {
  policy: ObjectKey;
  /** When the cycle ran, ms since epoch. */
  time: number;
  /** Where values came from: the kubelets' resource endpoints, the metrics API (the fallback), or uptime only. */
  metricsSource: 'kubelet' | 'metrics.k8s.io' | 'none';
  samples: ContainerSample[];
  /** Matched pods that had no metrics yet (new pods), counted rather than errors. */
  podsWithoutMetrics: number;
}

/** Retention of one policy, in milliseconds (defined with the UsagePolicy it comes from). */
export type { Retention };

/** The key of a container's one series: pod UID and container name, whatever the policies selecting it. */
export function containerSeriesKey(podUid: string, container: string): string {
  return `${podUid}/${container}`;
}

/**
 * The last reading of a series, as stored with its raw sample: what a collector (a new leader, a
 * restarted process) continues the series from, so no span is lost or counted twice.
 */
export interface SeriesBase {
  time: number;
  cpuCoreSecondsTotal?: number;
  containerStartTime?: number;
  memoryBytes?: number;
}
