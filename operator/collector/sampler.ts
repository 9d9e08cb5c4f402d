/**
 * The sampler: one policy's selected pods joined with the readings of one cycle, turned into the
 * container samples of the cycle. Each reading advances its series' shared cursor (see
 * series-cursors.ts), which says what span the sample accounts for and the exact increments.
 */
import {
  containerSeriesKey,
  type CollectionCycle,
  type ContainerSample,
  type LabelPair,
  type ObjectKey,
  type Retention,
} from '../model.js';
import type { ContainerReading, ReadingBatch } from '../sources/readings.js';
import type { ContainerInfo, PodInfo } from './pod-cache.js';
import type { ReadingContext, SeriesAdvance, SeriesCursors } from './series-cursors.js';

export interface CycleInput {
  policy: ObjectKey;
  /** The policy's collection interval, recorded on every sample. */
  intervalSeconds: number;
  /** When the cycle runs, ms since epoch: the time of uptime-only samples. */
  now: number;
  /** The pods the policy collects from (see selectPods), from the pod cache. */
  pods: readonly PodInfo[];
  /** What the cycle's source read; undefined when no source answered (uptime only). */
  batch: ReadingBatch | undefined;
  /** The process's series cursors, advanced by the readings. */
  cursors: SeriesCursors;
  /**
   * The last moment the policy is known not to have selected a pod it lists now for the first
   * time: its previous cycle's listing this term when the pod cache held the pod then, else its
   * creation (see SeriesCursors.selected).
   */
  selectedAfter?: (pod: PodInfo) => number;
  /** Series waiting for their stored base: their readings are not accounted this cycle. */
  notReady?: ReadonlySet<string>;
  /** The longest retention of the policies selecting a pod. */
  retentionOf?: (pod: PodInfo) => Retention | undefined;
  /** The UID of a namespace that exists now (the namespace cache), recorded on its samples. */
  namespaceUid?: (namespace: string) => string | undefined;
}

/** Counts of a cycle that its policy's status reports. */
export interface CycleCounts {
  /** The pods given, and their containers. */
  matchedPods: number;
  matchedContainers: number;
  /** Pods whose readings had all been accounted already (by another policy, or a repeated window). */
  duplicatePods: number;
}

export interface CycleOutput {
  cycle: CollectionCycle;
  counts: CycleCounts;
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

/**
 * Builds one sample; `advance` undefined gives an uptime-only sample at `time` (cpu and memory
 * null, a zero span).
 */
function containerSample(
  { policy, intervalSeconds }: CycleInput,
  pod: PodInfo,
  labels: LabelPair[],
  container: ContainerInfo,
  time: number,
  advance: SeriesAdvance | undefined,
  retention: Retention | undefined,
  namespaceUid: string | undefined,
): ContainerSample {
  const cpuMillicores = advance?.cpuCores == null ? null : advance.cpuCores * 1000;
  const memoryBytes = advance?.memoryBytes ?? null;
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
    podUid: pod.uid,
    from: advance?.from ?? time,
    cpuCoreSeconds: advance ? advance.cpuCoreSeconds : null,
    memoryByteSeconds: advance ? advance.memoryByteSeconds : null,
    intervalSeconds,
  };
  if (advance?.cpuCoreSecondsTotal !== undefined) sample.cpuCoreSecondsTotal = advance.cpuCoreSecondsTotal;
  const startTime = advance?.containerStartTime ?? container.startedAt;
  if (startTime !== undefined) sample.containerStartTime = startTime;
  if (retention !== undefined) sample.retention = retention;
  if (namespaceUid !== undefined) sample.namespaceUid = namespaceUid;
  if (container.type !== undefined) sample.containerType = container.type;
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

/** What the cycle knows of a container besides its reading: its start, its node's CPU. */
function readingContext(
  batch: ReadingBatch | undefined,
  pod: PodInfo,
  container: ContainerInfo,
): ReadingContext {
  const context: ReadingContext = {};
  if (container.startedAt !== undefined) context.startTime = container.startedAt;
  const nodeCpuCores = batch?.nodeCpuCores?.get(pod.node);
  if (nodeCpuCores !== undefined) context.nodeCpuCores = nodeCpuCores;
  return context;
}

/**
 * Joins the selected pods with the cycle's readings by pod UID and container. Per container:
 * - with a reading: it advances the series' cursor and the sample accounts for what the cursor
 *   says (a zero span with the current values when the reading was accounted already);
 * - without one (no source, the node unreadable, a new pod not on the endpoint yet, a series
 *   waiting for its base): an uptime-only sample at `now` for a started container, a zero span
 *   (the store keeps it for history; it is not the series' latest reading), and the cursor is
 *   told the reading was missed (the working set up to the next reading is unknown).
 * Every listed container is reported to the cursors as selected (the first time is kept).
 * Pods of readable nodes with no reading at all are counted in `podsWithoutMetrics`.
 */
export function buildCycle(input: CycleInput): CycleOutput {
  const { policy, now, batch, cursors } = input;
  const readings = new Map<string, ContainerReading>();
  for (const reading of batch?.readings ?? [])
    readings.set(containerSeriesKey(reading.podUid, reading.container), reading);
  const unreadable = new Set<string>();
  for (const node of batch?.unreadableNodes ?? []) if (!node.partial) unreadable.add(node.node);

  const samples: ContainerSample[] = [];
  let matchedContainers = 0;
  let podsWithoutMetrics = 0;
  let duplicatePods = 0;

  for (const pod of input.pods) {
    matchedContainers += pod.containers.length;
    const labels = labelPairs(pod.labels);
    const retention = input.retentionOf?.(pod);
    const namespaceUid = input.namespaceUid?.(pod.namespace);
    let read = 0;
    let repeats = 0;
    for (const container of pod.containers) {
      const key = containerSeriesKey(pod.uid, container.name);
      const reading = readings.get(key);
      cursors.selected(key, input.selectedAfter?.(pod) ?? -Infinity);
      const advance =
        reading === undefined || input.notReady?.has(key)
          ? undefined
          : cursors.advance(reading, readingContext(batch, pod, container));
      if (reading !== undefined) read++;
      if (advance === undefined) {
        cursors.missed(key);
        if (container.startedAt !== undefined)
          samples.push(
            containerSample(input, pod, labels, container, now, undefined, retention, namespaceUid),
          );
        continue;
      }
      if (advance.kind === 'repeat') repeats++;
      samples.push(
        containerSample(input, pod, labels, container, advance.time, advance, retention, namespaceUid),
      );
    }
    if (read === 0 && batch !== undefined && !unreadable.has(pod.node)) podsWithoutMetrics++;
    if (read > 0 && repeats === read) duplicatePods++;
  }

  return {
    cycle: {
      policy,
      time: now,
      metricsSource:
        batch?.source === 'kubelet' || batch?.source === 'metrics.k8s.io' ? batch.source : 'none',
      samples,
      podsWithoutMetrics,
    },
    counts: { matchedPods: input.pods.length, matchedContainers, duplicatePods },
  };
}
