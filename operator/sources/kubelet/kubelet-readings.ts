/**
 * A node's parsed resource metrics turned into readings: each container joined with its pod
 * (for the pod UID, the identity of a series) through a lookup the caller provides over its
 * pod cache (../pod-lookup.ts). Pure.
 */
import type { PodLookup } from '../pod-lookup.js';
import type { ContainerReading } from '../readings.js';
import type { ContainerResourceMetrics } from './resource-metrics.js';

/**
 * Start times before this (2001-09-09) are not Unix times. kwok writes the pod's age in
 * seconds as `container_start_time_seconds`; such a value says nothing about restarts.
 */
const EARLIEST_START_TIME_MS = 1e12;

export interface ReadingsOfNode {
  readings: ContainerReading[];
  /**
   * Containers left out: their pod is not in the cache (not selected yet, or already deleted),
   * or the cache has a pod of that name on another node (the name was reused elsewhere).
   */
  unmatched: number;
}

/** The readings of `node`'s containers; those with neither CPU nor memory are left out. */
export function readingsOfNode(
  node: string,
  containers: readonly ContainerResourceMetrics[],
  pods: PodLookup,
): ReadingsOfNode {
  const readings: ContainerReading[] = [];
  let unmatched = 0;
  for (const c of containers) {
    if (c.cpu === undefined && c.memoryWorkingSet === undefined) continue;
    const pod = pods.pod(c.namespace, c.pod);
    if (pod === undefined || pod.node !== node) {
      unmatched++;
      continue;
    }
    const reading: ContainerReading = {
      namespace: c.namespace,
      pod: c.pod,
      podUid: pod.uid,
      container: c.container,
      node,
    };
    if (c.startTime !== undefined && c.startTime >= EARLIEST_START_TIME_MS) reading.startTime = c.startTime;
    if (c.cpu !== undefined)
      reading.cpu = { kind: 'counter', coreSecondsTotal: c.cpu.coreSecondsTotal, time: c.cpu.time };
    if (c.memoryWorkingSet !== undefined)
      reading.memoryWorkingSetBytes = { value: c.memoryWorkingSet.bytes, time: c.memoryWorkingSet.time };
    readings.push(reading);
  }
  return { readings, unmatched };
}
