import type { PodMetricsItem } from '../../../operator/sources/metrics-api/pod-metrics.js';
import type { ContainerInfo, PodInfo } from '../../../operator/collector/pod-cache.js';

export const T0 = Date.UTC(2026, 10, 21, 10, 0, 0);

/** A running pod started at `T0 - 1h` whose containers started with it. */
export function pod(
  name: string,
  containers: Partial<ContainerInfo>[] = [{}],
  overrides: Partial<PodInfo> = {},
): PodInfo {
  return {
    namespace: 'shop',
    name,
    uid: `uid-${name}`,
    node: 'node-1',
    labels: { app: 'web' },
    phase: 'Running',
    startTime: T0 - 3_600_000,
    containers: containers.map((c, i) => ({ name: `c${i}`, startedAt: T0 - 3_600_000, ...c })),
    ...overrides,
  };
}

/** PodMetrics for `pod`, one usage per container name. */
export function podMetrics(
  target: Pick<PodInfo, 'namespace' | 'name'>,
  timestamp: number,
  usage: Record<string, { cpuNanocores: number; memoryBytes: number }>,
): PodMetricsItem {
  return {
    namespace: target.namespace,
    name: target.name,
    timestamp,
    windowSeconds: 15,
    containers: Object.entries(usage).map(([name, u]) => ({ name, ...u })),
  };
}
