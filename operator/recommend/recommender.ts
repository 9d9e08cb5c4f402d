/**
 * Recommendations of a namespace: its containers' stored distributions (store/distributions.ts)
 * grouped by workload (workloads.ts) and container name, each group run through a strategy
 * (strategies.ts), with the current requests and limits of the workload's live pods and the cost
 * difference at the configured prices. Answers in the API's units: cores and bytes.
 */
import type { ContainerInfo, PodInfo, PodLister } from '../collector/pod-cache.js';
import type { RecommendationItem } from '../../api/http/v1.js';
import { BucketHistograms } from '../store/histograms.js';
import type { SeriesDistribution, UsageQueries } from '../store/types.js';
import { runStrategy, type ContainerUsageHistory, type StrategyName } from './strategies.js';
import { WorkloadResolver, workloadKey, type OwnerLookup, type WorkloadRef } from './workloads.js';

/** Prices per core-hour and per GiB-hour (OpenCost's on-prem defaults unless configured). */
export interface Prices {
  cpuCoreHour: number;
  memoryGiBHour: number;
}
export const DEFAULT_PRICES: Prices = { cpuCoreHour: 0.031611, memoryGiBHour: 0.004237 };

export interface RecommendationQuery {
  namespace: string;
  from: number;
  to: number;
  strategy: StrategyName;
  workload?: WorkloadRef;
}

export type { RecommendationItem, ResourceRecommendation } from '../../api/http/v1.js';

export interface RecommenderDeps {
  queries: Pick<UsageQueries, 'distributions'>;
  pods: PodLister;
  owners: OwnerLookup;
  prices: Prices;
}

interface Group {
  workload: WorkloadRef;
  container: string;
  histograms: BucketHistograms;
  peaks: number[];
  memoryMax?: number;
  samples: number;
  measuredMs: number;
  /** Interval start -> the longest measured time of one pod in it, and the interval's length. */
  intervals: Map<number, { ms: number; length: number }>;
  pods: Set<string>;
  /** Containers of the pods seen in the store (for pods that are gone). */
  storedContainers: Set<string>;
}

const GIB = 2 ** 30;

export class Recommender {
  constructor(private readonly deps: RecommenderDeps) {}

  async recommend(query: RecommendationQuery): Promise<RecommendationItem[]> {
    const { queries, pods, owners } = this.deps;
    if (queries.distributions === undefined) return [];
    const [series, index] = await Promise.all([
      queries.distributions({ namespace: query.namespace, from: query.from, to: query.to }),
      owners.controllers(query.namespace),
    ]);
    const resolver = new WorkloadResolver(index);
    const live = new Map<string, PodInfo>();
    for (const pod of pods.list(query.namespace)) {
      live.set(pod.name, pod);
      if (pod.owner) resolver.learn(pod.owner);
    }
    const workloadOf = (pod: string): WorkloadRef => {
      const info = live.get(pod);
      return info ? resolver.ofOwner(pod, info.owner) : resolver.ofName(pod);
    };
    const groups = groupSeries(series, workloadOf);
    const livePods = new Map<string, PodInfo[]>();
    for (const pod of live.values()) {
      const key = workloadKey(workloadOf(pod.name));
      livePods.set(key, [...(livePods.get(key) ?? []), pod]);
    }
    const items: RecommendationItem[] = [];
    for (const group of groups.values()) {
      if (query.workload && workloadKey(query.workload) !== workloadKey(group.workload)) continue;
      const item = this.item(query.strategy, group, livePods.get(workloadKey(group.workload)) ?? []);
      if (item) items.push(item);
    }
    return items.sort(
      (a, b) =>
        workloadKey(a.workload).localeCompare(workloadKey(b.workload)) ||
        a.container.localeCompare(b.container),
    );
  }

  private item(strategy: StrategyName, group: Group, pods: PodInfo[]): RecommendationItem | undefined {
    // The newest live pod tells the current spec; any live pod's OOM kill counts.
    const newest = [...pods].sort((a, b) => (b.startTime ?? 0) - (a.startTime ?? 0))[0];
    const spec: ContainerInfo | undefined = newest?.containers.find((c) => c.name === group.container);
    const killed = pods.flatMap((p) => {
      const c = p.containers.find((c) => c.name === group.container);
      if (c?.lastTermination?.reason !== 'OOMKilled') return [];
      const { finishedAt } = c.lastTermination;
      return [{ name: p.name, uid: p.uid, ...(finishedAt !== undefined && { finishedAt }) }];
    });
    const oomKilled = killed.length > 0;
    let coveredMs = 0;
    for (const { ms, length } of group.intervals.values()) coveredMs += Math.min(ms, length);
    const oomKilledAt = oomKilled ? (spec?.memoryLimitBytes ?? group.memoryMax) : undefined;
    const usage: ContainerUsageHistory = {
      cpu: group.histograms.cpu,
      memory: group.histograms.memory,
      memoryPeaks: group.peaks,
      ...(group.memoryMax !== undefined && { memoryMax: group.memoryMax }),
      coveredMs,
      samples: group.samples,
      containersPerPod: newest ? newest.containers.length : group.storedContainers.size,
      ...(oomKilledAt !== undefined && { oomKilledAt }),
    };
    const result = runStrategy(strategy, usage);
    if (result === undefined) return undefined;
    const withoutKill = oomKilled ? runStrategy(strategy, { ...usage, oomKilledAt: undefined }) : undefined;
    const { prices } = this.deps;
    const cpuRequest = spec?.cpuRequestMillicores;
    const memoryRequest = spec?.memoryRequestBytes;
    const currentPerHour =
      ((cpuRequest ?? 0) / 1000) * prices.cpuCoreHour + ((memoryRequest ?? 0) / GIB) * prices.memoryGiBHour;
    const cpuTarget = roundUp(result.cpu.target, 1) / 1000;
    const memoryTarget = roundUp(result.memory.target, 1);
    const recommendedPerHour = cpuTarget * prices.cpuCoreHour + (memoryTarget / GIB) * prices.memoryGiBHour;
    const replicas = pods.length;
    return {
      workload: group.workload,
      container: group.container,
      containerType: spec?.type ?? 'container',
      strategy,
      history: {
        seconds: coveredMs / 1000,
        samples: group.samples,
        containerSeconds: group.measuredMs / 1000,
        pods: group.pods.size,
      },
      confidence: result.confidence,
      cpu: {
        request: cpuRequest === undefined ? null : cpuRequest / 1000,
        limit: spec?.cpuLimitMillicores === undefined ? null : spec.cpuLimitMillicores / 1000,
        target: cpuTarget,
        lowerBound: roundUp(result.cpu.lowerBound, 1) / 1000,
        upperBound: roundUp(result.cpu.upperBound, 1) / 1000,
        difference: cpuRequest === undefined ? null : cpuTarget - cpuRequest / 1000,
      },
      memory: {
        request: memoryRequest ?? null,
        limit: spec?.memoryLimitBytes ?? null,
        target: memoryTarget,
        lowerBound: roundUp(result.memory.lowerBound, 1),
        upperBound: roundUp(result.memory.upperBound, 1),
        difference: memoryRequest === undefined ? null : memoryTarget - memoryRequest,
      },
      ...(oomKilledAt !== undefined &&
        result.oomBump !== undefined && {
          oom: {
            usedBytes: oomKilledAt,
            bumpBytes: result.oomBump,
            targetWithoutKill: roundUp(withoutKill?.memory.target ?? 0, 1),
            pods: killed,
          },
        }),
      cost: {
        cpuPerCoreHour: prices.cpuCoreHour,
        memoryPerGiBHour: prices.memoryGiBHour,
        currentPerHour,
        recommendedPerHour,
        differencePerHour: recommendedPerHour - currentPerHour,
        replicas,
        differencePerHourAllReplicas: (recommendedPerHour - currentPerHour) * replicas,
      },
    };
  }
}

/** Rounded up to a whole multiple of `step` (millicores, bytes), as requests are written. */
function roundUp(value: number, step: number): number {
  return Number.isFinite(value) ? Math.ceil(value / step - 1e-9) * step : value;
}

/** The series grouped by workload and container name: histograms merged, peaks collected. */
export function groupSeries(
  series: readonly SeriesDistribution[],
  workloadOf: (pod: string) => WorkloadRef,
): Map<string, Group> {
  const groups = new Map<string, Group>();
  const containersByPod = new Map<string, Set<string>>();
  for (const s of series) {
    const names = containersByPod.get(s.pod) ?? new Set<string>();
    names.add(s.container);
    containersByPod.set(s.pod, names);
  }
  for (const s of series) {
    const workload = workloadOf(s.pod);
    const key = `${workloadKey(workload)}|${s.container}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = {
        workload,
        container: s.container,
        histograms: new BucketHistograms(),
        peaks: [],
        samples: 0,
        measuredMs: 0,
        intervals: new Map(),
        pods: new Set(),
        storedContainers: new Set(),
      };
      groups.set(key, group);
    }
    group.histograms.merge(s.histograms);
    group.samples += s.samples;
    group.measuredMs += s.measuredMs;
    group.pods.add(s.pod);
    for (const name of containersByPod.get(s.pod) ?? []) group.storedContainers.add(name);
    for (const interval of s.intervals) {
      const entry = group.intervals.get(interval.start) ?? { ms: 0, length: interval.end - interval.start };
      // The longest-measured pod of the interval: never more history than there is (replicas
      // measured at the same time do not add up), at worst short of a replacement's overlap.
      entry.ms = Math.max(entry.ms, interval.measuredMs);
      group.intervals.set(interval.start, entry);
      if (interval.memoryPeak !== undefined) {
        group.peaks.push(interval.memoryPeak);
        group.memoryMax = Math.max(group.memoryMax ?? -Infinity, interval.memoryPeak);
      }
    }
  }
  return groups;
}
