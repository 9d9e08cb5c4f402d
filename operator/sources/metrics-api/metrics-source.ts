/**
 * The boundary to the resource metrics API: one list call of PodMetrics, in a namespace or the
 * whole cluster, with a label selector the API evaluates. Implemented over the Kubernetes
 * client by kubernetes-metrics-api.ts; tests use fakes.
 */
import type { PodMetricsItem } from './pod-metrics.js';

/** The metrics API either answered, or is not served (no APIService, backend down). */
export type MetricsResult =
  { available: true; items: PodMetricsItem[] } | { available: false; reason: string };

export interface MetricsScope {
  /** One namespace; all namespaces when absent. */
  namespace?: string;
  /** A label selector in the API's string form, evaluated by the metrics API. */
  labelSelector?: string;
}

export interface MetricsSource {
  /**
   * One list call. Resolves `available: false` when the metrics API is not served; throws for
   * other errors (forbidden, network, a malformed answer), naming the field at fault.
   */
  listPodMetrics(scope: MetricsScope, signal?: AbortSignal): Promise<MetricsResult>;
}
