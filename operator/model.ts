/**
 * The data that flows through the operator, one way:
 * metrics source -> sampler -> samples of a cycle -> store and evaluator -> status, notifiers.
 * Plain data only: no Kubernetes client and no MongoDB types here.
 */

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
  /** Where values came from: the metrics API, or uptime only. */
  metricsSource: 'metrics.k8s.io' | 'none';
  samples: ContainerSample[];
  /** Matched pods that had no metrics yet (new pods), counted rather than errors. */
  podsWithoutMetrics: number;
}

/** Retention of one policy, in milliseconds (defined with the UsagePolicy it comes from). */
export type { Retention } from '../api/v1alpha1/normalize.js';
