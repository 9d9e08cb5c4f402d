/**
 * Runs the collection cycles of UsagePolicies: reads the kubelets' resource endpoints of the
 * nodes running the selected pods (the primary source: cumulative counters), or lists PodMetrics
 * from metrics.k8s.io when no node can be read (the fallback: windowed rates), joins the readings
 * with the pod cache through the sampler and the process's one cursor per series, hands each
 * cycle to the sinks (store writer, alert evaluator), and keeps per policy what its status reports.
 * A cycle never throws: failures are reported in the state and logged once per change.
 */
import { Reason } from '../../api/v1alpha1/conditions.js';
import { labelSelectorMatches } from '../../api/v1alpha1/labels.js';
import type { LabelSelector } from '../../api/v1alpha1/schema-helpers.js';
import type { Logger } from '../logging.js';
import { errorMessage } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import {
  containerSeriesKey,
  objectRef,
  type Clock,
  type CollectionCycle,
  type ObjectKey,
  type Retention,
} from '../model.js';
import {
  MetricsApiReadingSource,
  MetricsApiUnavailableError,
} from '../sources/metrics-api/metrics-api-source.js';
import type { MetricsSource } from '../sources/metrics-api/metrics-source.js';
import { podLookup, type PodLookup } from '../sources/pod-lookup.js';
import type { ReadingBatch, UnreadableNode } from '../sources/readings.js';
import type { PodInfo, PodLister } from './pod-cache.js';
import { buildCycle } from './sampler.js';
import { SeriesCursors, type SeriesBaseSource } from './series-cursors.js';
import { SeriesSeeding } from './series-seeding.js';

/** What to collect for one policy, resolved by the UsagePolicy controller. */
export interface CollectionTarget {
  policy: ObjectKey;
  intervalSeconds: number;
  /** Namespaces in scope; undefined means every namespace. */
  namespaces?: readonly string[];
  /** The policy's pod selector; {} selects every pod in scope. */
  selector: LabelSelector;
  /** The policy's retention: a series is kept as long as the longest of the policies selecting it. */
  retention?: Retention;
  /** The policy's creation, ms since epoch: nothing before it is billed to what it selects. */
  createdAt?: number;
}

/**
 * The primary source: the nodes' resource endpoints (implemented by KubeletResourceSource in
 * operator/sources/kubelet). Resolves a batch naming the nodes it could not read; throws only when no
 * node can be read at all (the nodes cannot be listed, no credentials).
 */
export interface NodeUsageSource {
  read(request: { pods: PodLookup; nodes?: Iterable<string>; signal?: AbortSignal }): Promise<ReadingBatch>;
}

/** Receives every cycle (store writer, alert evaluator). A failing sink does not stop the others. */
export interface CycleSink {
  onCycle(cycle: CollectionCycle): Promise<void> | void;
}

/** Why a policy is degraded, as the reason and message of its `Degraded` condition. */
export interface Degradation {
  reason:
    | typeof Reason.NodesUnreadable
    | typeof Reason.KubeletUnavailable
    | typeof Reason.MetricsAPIUnavailable
    | typeof Reason.MetricsListFailed;
  message: string;
  /** The nodes that could not be read (NodesUnreadable, KubeletUnavailable). */
  nodes?: string[];
}

/** What a policy's status reports about collection. */
export interface PolicyCollectionState {
  metricsSource: CollectionCycle['metricsSource'];
  /** Set while cycles record uptime only. */
  degraded?: Degradation;
  /** Set while a sink fails (e.g. the store), with the latest error. */
  sinkError?: string;
  /** End of the last completed cycle, ms since epoch. */
  lastCollectionTime?: number;
  matchedPods: number;
  matchedContainers: number;
  podsWithoutMetrics: number;
  /** Pods of the last cycle whose metrics window had been sampled already. */
  duplicatePods: number;
  /** Ticks skipped because the previous cycle was still running. */
  skippedCycles: number;
}

export interface PolicyCollectorDeps {
  /** metrics.k8s.io: the source when there is no kubelet source, and the fallback when no node can be read. */
  source: MetricsSource;
  /** The kubelets' resource endpoints, the primary source. */
  kubelet?: NodeUsageSource;
  /** Where a new term's series continue from (the store's last readings, and its newest one). */
  seriesBases?: SeriesBaseSource;
  /** After the kubelets could not be read at all, the fallback is used this long before trying them again, ms. Default 60 s. */
  kubeletRetryMs?: number;
  /** Rates of the fallback stand for the gap before their window up to this long, ms. Default 5 min. */
  maxRateGapMs?: number;
  pods: PodLister;
  sinks: readonly CycleSink[];
  clock: Clock;
  logger: Logger;
  metrics: Pick<OperatorMetrics, 'collectionDuration' | 'samplesCollected'> &
    Partial<Pick<OperatorMetrics, 'readingsSkipped'>>;
  /** The scheduler's count of skipped ticks, reported in the state. */
  skippedCycles?: (policy: ObjectKey) => number;
  /** Up to this many namespaces are listed one call each; more take one cluster-wide list. */
  maxNamespacedLists?: number;
  /** The UID of a namespace that exists now (the namespace cache): whose usage a sample is. */
  namespaceUid?: (namespace: string) => string | undefined;
}

interface PolicyMemory {
  /** While on the fallback after the kubelets could not be read: when to try them again, and why. */
  kubeletRetry?: { at: number; failure: Degradation };
  state?: Omit<PolicyCollectionState, 'skippedCycles'>;
  failingSinks: Set<CycleSink>;
  /** When the pods of the policy's last accounted cycle of this term were listed, ms. */
  listedAt?: number;
}

/** A label selector in the API's query form (`app=web,tier in (a,b),!canary`); undefined when empty. */
export function labelSelectorQuery(selector: LabelSelector): string | undefined {
  const terms = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    if (operator === 'In') terms.push(`${key} in (${values.join(',')})`);
    else if (operator === 'NotIn') terms.push(`${key} notin (${values.join(',')})`);
    else if (operator === 'Exists') terms.push(key);
    else terms.push(`!${key}`);
  }
  return terms.length > 0 ? terms.join(',') : undefined;
}

/** The pods a policy collects from: in its namespaces, matching its selector, not finished. */
export function selectPods(pods: PodLister, target: CollectionTarget): PodInfo[] {
  const inScope =
    target.namespaces === undefined
      ? pods.list()
      : target.namespaces.flatMap((namespace) => pods.list(namespace));
  return inScope.filter(
    (pod) =>
      pod.phase !== 'Succeeded' &&
      pod.phase !== 'Failed' &&
      labelSelectorMatches(target.selector, pod.labels),
  );
}

/**
 * The last moment a policy is known not to have selected a pod it lists for the first time: not
 * before the policy existed, and not when its previous cycle listed its pods, provided the pod
 * cache held the pod then (a pod the cache had not seen yet was not known to that listing, so it
 * may have been selected, and running, already).
 */
export function selectedAfter(pod: PodInfo, policyCreatedAt?: number, previousListing?: number): number {
  const created = policyCreatedAt ?? -Infinity;
  if (previousListing === undefined || (pod.seenAt !== undefined && pod.seenAt > previousListing))
    return created;
  return Math.max(created, previousListing);
}

/** How many unreadable nodes a message names; the rest are counted. */
const NODES_NAMED = 10;

/** `a (timeout), b (HTTP 403)`, at most NODES_NAMED of them. */
function describeNodes(nodes: readonly UnreadableNode[]): string {
  const named = nodes
    .slice(0, NODES_NAMED)
    .map((n) => `${n.node} (${n.reason}${n.partial ? ', partial' : ''})`)
    .join(', ');
  return nodes.length > NODES_NAMED ? `${named} and ${nodes.length - NODES_NAMED} more` : named;
}

/** `{ timeout: 3, 'HTTP 403': 1 }`: how many nodes could not be read, by reason. */
function unreadableByReason(nodes: readonly UnreadableNode[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of nodes) {
    const reason = n.partial ? `${n.reason} (partial)` : n.reason;
    counts[reason] = (counts[reason] ?? 0) + 1;
  }
  return counts;
}

function selects(target: CollectionTarget, pod: PodInfo): boolean {
  return (
    (target.namespaces === undefined || target.namespaces.includes(pod.namespace)) &&
    labelSelectorMatches(target.selector, pod.labels)
  );
}

/** How often cursors of pods that are gone are dropped, ms. */
const PRUNE_EVERY_MS = 300_000;

export class PolicyCollector {
  private readonly memory = new Map<ObjectKey, PolicyMemory>();
  private readonly metricsApi: MetricsApiReadingSource;
  /** The targets of every scheduled policy: a series' retention is the longest of those selecting it. */
  private readonly targets = new Map<ObjectKey, CollectionTarget>();
  private readonly cursors: SeriesCursors;
  private readonly seeding: SeriesSeeding;
  private lastPrune: number;

  constructor(private readonly deps: PolicyCollectorDeps) {
    this.metricsApi = new MetricsApiReadingSource(deps.source, {
      ...(deps.maxNamespacedLists !== undefined && { maxNamespacedLists: deps.maxNamespacedLists }),
    });
    this.cursors = new SeriesCursors({
      clock: deps.clock,
      onSkipped: (reading, reason, detail) => {
        deps.metrics.readingsSkipped?.inc({ reason });
        deps.logger.debug('CPU counter reading skipped', {
          namespace: reading.namespace,
          pod: reading.pod,
          container: reading.container,
          node: reading.node,
          reason,
          ...detail,
        });
      },
      ...(deps.maxRateGapMs !== undefined && { maxRateGapMs: deps.maxRateGapMs }),
    });
    this.seeding = new SeriesSeeding(this.cursors, deps.seriesBases, { logger: deps.logger });
    this.lastPrune = deps.clock.now();
  }

  /**
   * A new leadership term: the series cursors start again from the store's last readings, and
   * containers started after the store's newest reading (or from now on, when it cannot tell)
   * are billed from their start.
   */
  beginTerm(): void {
    this.cursors.reset();
    this.seeding.reset();
    for (const memory of this.memory.values()) delete memory.listedAt;
  }

  /** Makes a policy's target known (for retention) before its first cycle. */
  setTarget(target: CollectionTarget): void {
    this.targets.set(target.policy, target);
  }

  /** Runs one cycle of `target` and returns the policy's state after it. Never throws. */
  async collect(target: CollectionTarget, signal?: AbortSignal): Promise<PolicyCollectionState | undefined> {
    const { policy } = target;
    this.targets.set(policy, target);
    const memory = this.memoryOf(policy);
    const started = this.deps.clock.now();
    const pods = selectPods(this.deps.pods, target);
    const read = await this.read(target, pods, memory, signal);
    if (read === undefined || signal?.aborted) return this.state(policy);
    const { batch, failure } = read;

    const keys =
      batch === undefined ? [] : batch.readings.map((r) => containerSeriesKey(r.podUid, r.container));
    const notReady = await this.seeding.prepare(keys);
    if (signal?.aborted) return this.state(policy);

    const now = this.deps.clock.now();
    const retentions = new Map<PodInfo, Retention | undefined>();
    const { cycle, counts } = buildCycle({
      policy,
      intervalSeconds: target.intervalSeconds,
      now,
      pods,
      batch,
      cursors: this.cursors,
      selectedAfter: (pod) => selectedAfter(pod, target.createdAt, memory.listedAt),
      notReady,
      retentionOf: (pod) => {
        if (!retentions.has(pod)) retentions.set(pod, this.retentionOf(pod));
        return retentions.get(pod);
      },
      ...(this.deps.namespaceUid && { namespaceUid: this.deps.namespaceUid }),
    });
    memory.listedAt = started;
    this.prune(now);
    const sinkError = await this.deliver(cycle, memory);

    this.deps.metrics.samplesCollected.inc({ policy, source: cycle.metricsSource }, cycle.samples.length);
    const durationMs = this.deps.clock.now() - started;
    this.deps.metrics.collectionDuration.observe({ policy }, durationMs / 1000);
    this.deps.logger.debug('collection cycle', {
      ...objectRef(policy),
      durationMs,
      source: cycle.metricsSource,
      samples: cycle.samples.length,
      unreadableNodes: unreadableByReason(batch?.unreadableNodes ?? []),
    });
    this.transition(policy, memory.state?.degraded, failure, cycle.metricsSource);
    memory.state = {
      metricsSource: cycle.metricsSource,
      lastCollectionTime: this.deps.clock.now(),
      matchedPods: counts.matchedPods,
      matchedContainers: counts.matchedContainers,
      duplicatePods: counts.duplicatePods,
      podsWithoutMetrics: cycle.podsWithoutMetrics,
      ...(failure && { degraded: failure }),
      ...(sinkError !== undefined && { sinkError }),
    };
    return this.state(policy);
  }

  /** The policy's state after its last cycle; undefined before its first. */
  state(policy: ObjectKey): PolicyCollectionState | undefined {
    const state = this.memory.get(policy)?.state;
    return state && { ...state, skippedCycles: this.deps.skippedCycles?.(policy) ?? 0 };
  }

  /** Drops what is kept for a deleted policy. */
  forget(policy: ObjectKey): void {
    this.memory.delete(policy);
    this.targets.delete(policy);
  }

  private memoryOf(policy: ObjectKey): PolicyMemory {
    let memory = this.memory.get(policy);
    if (!memory) this.memory.set(policy, (memory = { failingSinks: new Set() }));
    return memory;
  }

  /** The longest retention (each level's) of the policies selecting the pod. */
  private retentionOf(pod: PodInfo): Retention | undefined {
    let longest: Retention | undefined;
    for (const target of this.targets.values()) {
      const { retention } = target;
      if (retention === undefined || !selects(target, pod)) continue;
      longest =
        longest === undefined
          ? retention
          : {
              rawMs: Math.max(longest.rawMs, retention.rawMs),
              hourlyMs: Math.max(longest.hourlyMs, retention.hourlyMs),
              dailyMs: Math.max(longest.dailyMs, retention.dailyMs),
            };
    }
    return longest;
  }

  private prune(now: number): void {
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    const live = new Set(this.deps.pods.list().map((pod) => pod.uid));
    const isLive = (uid: string) => live.has(uid);
    this.cursors.prune(isLive);
    this.seeding.prune(isLive);
  }

  /**
   * The cycle's readings: from the kubelets of the pods' nodes, or from metrics.k8s.io when
   * there is no kubelet source or none of the nodes could be read. Undefined when aborted.
   */
  private async read(
    target: CollectionTarget,
    pods: readonly PodInfo[],
    memory: PolicyMemory,
    signal: AbortSignal | undefined,
  ): Promise<{ batch: ReadingBatch | undefined; failure?: Degradation } | undefined> {
    const lookup = podLookup(pods);
    let kubeletFailure: Degradation | undefined;
    const { kubelet } = this.deps;
    if (kubelet !== undefined) {
      const retry = memory.kubeletRetry;
      if (retry !== undefined && this.deps.clock.now() < retry.at) kubeletFailure = retry.failure;
      else {
        const nodes = [...new Set(pods.map((pod) => pod.node).filter((node) => node !== ''))];
        try {
          const batch = await kubelet.read({ pods: lookup, nodes, ...(signal && { signal }) });
          if (signal?.aborted) return undefined;
          const down = batch.unreadableNodes.filter((n) => !n.partial);
          if (nodes.length === 0 || down.length < nodes.length) {
            delete memory.kubeletRetry;
            if (batch.unreadableNodes.length === 0) return { batch };
            return {
              batch,
              failure: {
                reason: Reason.NodesUnreadable,
                message:
                  `cannot read the resource metrics of node(s) ${describeNodes(batch.unreadableNodes)}: ` +
                  `their containers are not billed until the nodes are read again (then by the counters' difference)`,
                nodes: batch.unreadableNodes.map((n) => n.node),
              },
            };
          }
          kubeletFailure = {
            reason: Reason.KubeletUnavailable,
            message: `cannot read the resource metrics of any node (${describeNodes(down)})`,
            nodes: down.map((n) => n.node),
          };
        } catch (err) {
          if (signal?.aborted) return undefined;
          kubeletFailure = {
            reason: Reason.KubeletUnavailable,
            message: `cannot read the kubelets' resource metrics: ${errorMessage(err)}`,
          };
        }
        memory.kubeletRetry = {
          at: this.deps.clock.now() + (this.deps.kubeletRetryMs ?? 60_000),
          failure: kubeletFailure,
        };
      }
    }

    let batch: ReadingBatch;
    try {
      const { source, readings, unreadableNodes } = await this.metricsApi.read({
        pods: lookup,
        ...(target.namespaces !== undefined && { namespaces: target.namespaces }),
        labelSelector: labelSelectorQuery(target.selector),
        ...(signal && { signal }),
      });
      batch = { source, readings, unreadableNodes };
    } catch (err) {
      if (signal?.aborted) return undefined;
      const failure: Degradation =
        err instanceof MetricsApiUnavailableError
          ? { reason: Reason.MetricsAPIUnavailable, message: err.reason }
          : {
              reason: Reason.MetricsListFailed,
              message: `listing ${target.policy}'s pod metrics failed: ${errorMessage(err)}`,
            };
      return { batch: undefined, failure: this.alsoKubelet(failure, kubeletFailure) };
    }
    if (signal?.aborted) return undefined;
    if (kubeletFailure === undefined) return { batch };
    return {
      batch,
      failure: { ...kubeletFailure, message: `${kubeletFailure.message}; using metrics.k8s.io instead` },
    };
  }

  /** A fallback's failure, saying that the kubelets could not be read either. */
  private alsoKubelet(failure: Degradation, kubelet: Degradation | undefined): Degradation {
    if (kubelet === undefined) return failure;
    return {
      ...failure,
      message: `${kubelet.message}; and ${failure.message}`,
      ...(kubelet.nodes && { nodes: kubelet.nodes }),
    };
  }

  /** Hands the cycle to every sink; returns the first error, logging each sink's failure and recovery once. */
  private async deliver(cycle: CollectionCycle, memory: PolicyMemory): Promise<string | undefined> {
    let firstError: string | undefined;
    for (const sink of this.deps.sinks) {
      try {
        await sink.onCycle(cycle);
        if (memory.failingSinks.delete(sink)) {
          this.deps.logger.info('cycle sink recovered', {
            ...objectRef(cycle.policy),
            sink: sink.constructor.name,
          });
        }
      } catch (err) {
        const error = errorMessage(err);
        firstError ??= error;
        if (!memory.failingSinks.has(sink)) {
          memory.failingSinks.add(sink);
          this.deps.logger.error('cycle sink failed', {
            ...objectRef(cycle.policy),
            sink: sink.constructor.name,
            error,
          });
        }
      }
    }
    return firstError;
  }

  /** Logs when a policy becomes degraded, changes why, or recovers; nothing in a steady state. */
  private transition(
    policy: ObjectKey,
    before: Degradation | undefined,
    after: Degradation | undefined,
    source: CollectionCycle['metricsSource'],
  ): void {
    if (before?.reason === after?.reason && before?.nodes?.join() === after?.nodes?.join()) return;
    const ref = objectRef(policy);
    if (after) {
      this.deps.logger.warn('collection degraded', {
        ...ref,
        reason: after.reason,
        message: after.message,
        source,
      });
    } else if (before) {
      this.deps.logger.info(`collecting as expected again from ${source}`, {
        ...ref,
        previousReason: before.reason,
      });
    }
  }
}
