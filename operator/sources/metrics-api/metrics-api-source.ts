/**
 * The fallback source, for clusters whose nodes the operator cannot reach: `metrics.k8s.io`
 * PodMetrics (metrics-server) as readings. CPU comes as a rate averaged over the metrics
 * window that ends at the item's timestamp (time-weight it with `rateIncrement` in
 * ../rate-weighting.ts); memory as the working set at that time. metrics-server leaves out pods it
 * could not scrape without saying why, so this source names no unreadable nodes.
 *
 * A read lists the PodMetrics of a few namespaces one call each, or of the whole cluster in one
 * call, through a MetricsSource (metrics-source.ts); the label selector goes to the server.
 */
import type { PodLookup } from '../pod-lookup.js';
import type { ContainerReading, ReadingBatch } from '../readings.js';
import type { MetricsScope, MetricsSource } from './metrics-source.js';
import type { PodMetricsItem } from './pod-metrics.js';

/** The metrics API is not served (no APIService, or its backend does not answer). */
export class MetricsApiUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'MetricsApiUnavailableError';
  }
}

export interface PodMetricsReadings {
  readings: ContainerReading[];
  /** Pods in the answer that the lookup does not know (not selected, or already gone). */
  unmatched: number;
}

/** PodMetrics items as readings, joined with the pods for their UIDs and nodes. Pure. */
export function readingsFromPodMetrics(
  items: readonly PodMetricsItem[],
  pods: PodLookup,
): PodMetricsReadings {
  const readings: ContainerReading[] = [];
  let unmatched = 0;
  for (const item of items) {
    const pod = pods.pod(item.namespace, item.name);
    if (pod === undefined) {
      unmatched++;
      continue;
    }
    const windowMs = Math.round(item.windowSeconds * 1000);
    for (const c of item.containers) {
      const reading: ContainerReading = {
        namespace: item.namespace,
        pod: item.name,
        podUid: pod.uid,
        container: c.name,
        node: pod.node,
        memoryWorkingSetBytes: { value: c.memoryBytes, time: item.timestamp },
      };
      // A zero window carries no rate (metrics-server never writes one; a fake might).
      if (windowMs > 0)
        reading.cpu = { kind: 'rate', cores: c.cpuNanocores / 1e9, time: item.timestamp, windowMs };
      readings.push(reading);
    }
  }
  return { readings, unmatched };
}

export interface MetricsApiReadRequest {
  pods: PodLookup;
  /** The namespaces whose PodMetrics to list; every namespace when absent. */
  namespaces?: readonly string[];
  /** A label selector in the API's string form, evaluated by the metrics API. */
  labelSelector?: string;
  signal?: AbortSignal;
}

export interface MetricsApiReadingSourceOptions {
  /** Up to this many namespaces are listed one call each; more take one cluster-wide list. Default 3. */
  maxNamespacedLists?: number;
}

/** Reads PodMetrics through a MetricsSource, as readings joined with the caller's pods. */
export class MetricsApiReadingSource {
  readonly name = 'metrics.k8s.io' as const;
  private readonly maxNamespacedLists: number;

  constructor(
    private readonly metrics: MetricsSource,
    options: MetricsApiReadingSourceOptions = {},
  ) {
    this.maxNamespacedLists = options.maxNamespacedLists ?? 3;
  }

  /**
   * Throws MetricsApiUnavailableError when the API is not served (to any of the list calls);
   * other errors as they come.
   */
  async read(request: MetricsApiReadRequest): Promise<ReadingBatch & { unmatched: number }> {
    const items = await this.list(request);
    const { readings, unmatched } = readingsFromPodMetrics(items, request.pods);
    return { source: 'metrics.k8s.io', readings, unreadableNodes: [], unmatched };
  }

  /** One cluster-wide list, or one list per namespace when there are few. */
  private async list({
    namespaces,
    labelSelector,
    signal,
  }: MetricsApiReadRequest): Promise<PodMetricsItem[]> {
    const scopes: MetricsScope[] =
      namespaces === undefined || namespaces.length > this.maxNamespacedLists
        ? [{ labelSelector }]
        : namespaces.map((namespace) => ({ namespace, labelSelector }));
    const results = await Promise.all(scopes.map((scope) => this.metrics.listPodMetrics(scope, signal)));
    return results.flatMap((result) => {
      if (!result.available) throw new MetricsApiUnavailableError(result.reason);
      return result.items;
    });
  }
}
