/**
 * The fallback source, for clusters whose nodes the operator cannot reach: `metrics.k8s.io`
 * PodMetrics (metrics-server) as readings. CPU comes as a rate averaged over the metrics
 * window that ends at the item's timestamp (time-weight it with `rateIncrement` in
 * counters.ts); memory as the working set at that time. metrics-server leaves out pods it could
 * not scrape without saying why, so this source names no unreadable nodes.
 */
import type { MetricsScope, MetricsSource, PodMetricsItem } from './pod-metrics.js';
import type { PodLookup } from '../kubelet/kubelet-readings.js';
import type { ContainerReading, ReadingBatch } from '../readings.js';

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
  /** Which PodMetrics to list (a namespace, a label selector); all when absent. */
  scope?: MetricsScope;
  signal?: AbortSignal;
}

/** Reads PodMetrics through the collector's MetricsSource (one list call). */
export class MetricsApiReadingSource {
  readonly name = 'metrics.k8s.io' as const;

  constructor(private readonly metrics: MetricsSource) {}

  /** Throws MetricsApiUnavailableError when the API is not served; other errors as they come. */
  async read(request: MetricsApiReadRequest): Promise<ReadingBatch & { unmatched: number }> {
    const result = await this.metrics.listPodMetrics(request.scope ?? {}, request.signal);
    if (!result.available) throw new MetricsApiUnavailableError(result.reason);
    const { readings, unmatched } = readingsFromPodMetrics(result.items, request.pods);
    return { source: 'metrics.k8s.io', readings, unreadableNodes: [], unmatched };
  }
}
