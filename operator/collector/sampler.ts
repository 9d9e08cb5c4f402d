/**
 * The sampler: one policy's selected pods joined with one PodMetrics list, turned into the
 * container samples of one collection cycle. Pure: plain data in, plain data out.
 */
import type { CollectionCycle, ContainerSample, LabelPair, ObjectKey } from '../model.js';
import type { ContainerUsage, MetricsResult, PodMetricsItem } from './metrics-source.js';
import type { ContainerInfo, PodInfo } from './pod-cache.js';

export interface CycleInput {
  policy: ObjectKey;
  /** The policy's collection interval, recorded on every sample. */
  intervalSeconds: number;
  /** When the cycle runs, ms since epoch: the time of uptime-only samples. */
  now: number;
  /** The pods the policy collects from (see selectPods), from the pod cache. */
  pods: readonly PodInfo[];
  metrics: MetricsResult;
  /** Per pod uid, the PodMetrics timestamp sampled last, as returned by the previous cycle. */
  lastSeen: ReadonlyMap<string, number>;
}

/** Counts of a cycle that its policy's status reports. */
export interface CycleCounts {
  /** The pods given, and their containers. */
  matchedPods: number;
  matchedContainers: number;
  /** Pods whose PodMetrics window was already sampled (metrics-server can answer the same twice). */
  duplicatePods: number;
}

export interface CycleOutput {
  cycle: CollectionCycle;
  counts: CycleCounts;
  /** Feed into the next cycle's input; holds only pods that still exist. */
  lastSeen: Map<string, number>;
}

function percent(value: number, basis: number | undefined): number | undefined {
  return basis !== undefined && basis > 0 ? (value * 100) / basis : undefined;
}

/**
 * Pods keep their label map until they change, so its list form is made once per map and shared
 * by the samples of the pod: samples are read-only.
 */
const labelPairsOf = new WeakMap<Record<string, string>, LabelPair[]>();

function labelPairs(labels: Record<string, string>): LabelPair[] {
  let pairs = labelPairsOf.get(labels);
  if (!pairs) labelPairsOf.set(labels, (pairs = Object.entries(labels).map(([k, v]) => ({ k, v }))));
  return pairs;
}

/** PodMetrics by namespace, then name (no key strings built per pod). */
function metricsByPod(items: readonly PodMetricsItem[]): Map<string, Map<string, PodMetricsItem>> {
  const byNamespace = new Map<string, Map<string, PodMetricsItem>>();
  for (const item of items) {
    let byName = byNamespace.get(item.namespace);
    if (!byName) byNamespace.set(item.namespace, (byName = new Map()));
    byName.set(item.name, item);
  }
  return byNamespace;
}

/** Builds one sample; `usage` undefined gives an uptime-only sample (cpu and memory null). */
function containerSample(
  { policy, intervalSeconds }: CycleInput,
  pod: PodInfo,
  labels: LabelPair[],
  container: ContainerInfo,
  time: number,
  usage: ContainerUsage | undefined,
): ContainerSample {
  const cpuMillicores = usage ? usage.cpuNanocores / 1e6 : null;
  const memoryBytes = usage ? usage.memoryBytes : null;
  const sample: ContainerSample = {
    time,
    policy,
    namespace: pod.namespace,
    pod: pod.name,
    container: container.name,
    node: pod.node,
    labels,
    cpuMillicores,
    memoryBytes,
    uptimeSeconds:
      container.startedAt === undefined ? 0 : Math.max(0, Math.floor((time - container.startedAt) / 1000)),
    intervalSeconds,
  };
  const { cpuRequestMillicores, cpuLimitMillicores, memoryRequestBytes, memoryLimitBytes } = container;
  if (cpuRequestMillicores !== undefined) sample.cpuRequestMillicores = cpuRequestMillicores;
  if (cpuLimitMillicores !== undefined) sample.cpuLimitMillicores = cpuLimitMillicores;
  if (memoryRequestBytes !== undefined) sample.memoryRequestBytes = memoryRequestBytes;
  if (memoryLimitBytes !== undefined) sample.memoryLimitBytes = memoryLimitBytes;
  if (cpuMillicores !== null) {
    const ofRequest = percent(cpuMillicores, cpuRequestMillicores);
    const ofLimit = percent(cpuMillicores, cpuLimitMillicores);
    if (ofRequest !== undefined) sample.cpuPercentOfRequest = ofRequest;
    if (ofLimit !== undefined) sample.cpuPercentOfLimit = ofLimit;
  }
  if (memoryBytes !== null) {
    const ofRequest = percent(memoryBytes, memoryRequestBytes);
    const ofLimit = percent(memoryBytes, memoryLimitBytes);
    if (ofRequest !== undefined) sample.memoryPercentOfRequest = ofRequest;
    if (ofLimit !== undefined) sample.memoryPercentOfLimit = ofLimit;
  }
  return sample;
}

function usageOf(item: PodMetricsItem, container: string): ContainerUsage | undefined {
  for (const usage of item.containers) if (usage.name === container) return usage;
  return undefined;
}

/**
 * Joins pods and metrics by namespace/name. Per pod:
 * - with a PodMetrics newer than the one sampled last: a sample per container at the PodMetrics
 *   timestamp (a container the PodMetrics lacks gets an uptime-only sample);
 * - with the same (or an older) PodMetrics as last time: no samples, counted in `duplicatePods`;
 * - without PodMetrics (a new pod), or with the metrics API unavailable: uptime-only samples at
 *   `now` for the containers that have started; the former counted in `podsWithoutMetrics`.
 */
export function buildCycle(input: CycleInput): CycleOutput {
  const { policy, now, metrics } = input;
  const podMetrics = metricsByPod(metrics.available ? metrics.items : []);

  const samples: ContainerSample[] = [];
  const lastSeen = new Map<string, number>();
  let matchedContainers = 0;
  let podsWithoutMetrics = 0;
  let duplicatePods = 0;

  for (const pod of input.pods) {
    matchedContainers += pod.containers.length;
    const key = pod.uid;
    const previous = input.lastSeen.get(key);
    const item = podMetrics.get(pod.namespace)?.get(pod.name);
    const labels = labelPairs(pod.labels);

    if (item === undefined) {
      if (previous !== undefined) lastSeen.set(key, previous);
      if (metrics.available) podsWithoutMetrics++;
      for (const container of pod.containers) {
        if (container.startedAt !== undefined) {
          samples.push(containerSample(input, pod, labels, container, now, undefined));
        }
      }
      continue;
    }

    if (previous !== undefined && item.timestamp <= previous) {
      lastSeen.set(key, previous);
      duplicatePods++;
      continue;
    }
    lastSeen.set(key, item.timestamp);
    for (const container of pod.containers) {
      samples.push(
        containerSample(input, pod, labels, container, item.timestamp, usageOf(item, container.name)),
      );
    }
  }

  return {
    cycle: {
      policy,
      time: now,
      metricsSource: metrics.available ? 'metrics.k8s.io' : 'none',
      samples,
      podsWithoutMetrics,
    },
    counts: { matchedPods: input.pods.length, matchedContainers, duplicatePods },
    lastSeen,
  };
}
