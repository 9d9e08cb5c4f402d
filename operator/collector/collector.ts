/**
 * Runs the collection cycles of UsagePolicies: lists PodMetrics with as few calls as possible,
 * joins them with the pod cache through the sampler, hands each cycle to the sinks (store
 * writer, alert evaluator), and keeps per policy what its status reports.
 * A cycle never throws: failures are reported in the state and logged once per change.
 */
import { labelSelectorMatches } from '../../api/v1alpha1/labels.js';
import type { LabelSelector } from '../../api/v1alpha1/schema-helpers.js';
import type { Logger } from '../logging.js';
import { errorMessage } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import { objectRef, type Clock, type CollectionCycle, type ObjectKey } from '../model.js';
import type { MetricsResult, MetricsScope, MetricsSource } from './metrics-source.js';
import type { PodInfo, PodLister } from './pod-cache.js';
import { buildCycle } from './sampler.js';

/** What to collect for one policy, resolved by the UsagePolicy controller. */
export interface CollectionTarget {
  policy: ObjectKey;
  intervalSeconds: number;
  /** Namespaces in scope; undefined means every namespace. */
  namespaces?: readonly string[];
  /** The policy's pod selector; {} selects every pod in scope. */
  selector: LabelSelector;
}

/** Receives every cycle (store writer, alert evaluator). A failing sink does not stop the others. */
export interface CycleSink {
  onCycle(cycle: CollectionCycle): Promise<void> | void;
}

/** Why a policy is degraded, as the reason and message of its `Degraded` condition. */
export interface Degradation {
  reason: 'MetricsAPIUnavailable' | 'MetricsListFailed';
  message: string;
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
  source: MetricsSource;
  pods: PodLister;
  sinks: readonly CycleSink[];
  clock: Clock;
  logger: Logger;
  metrics: Pick<OperatorMetrics, 'collectionDuration' | 'samplesCollected'>;
  /** The scheduler's count of skipped ticks, reported in the state. */
  skippedCycles?: (policy: ObjectKey) => number;
  /** Up to this many namespaces are listed one call each; more take one cluster-wide list. */
  maxNamespacedLists?: number;
}

interface PolicyMemory {
  /** Per pod uid, the PodMetrics timestamp sampled last. */
  lastSeen: Map<string, number>;
  state?: Omit<PolicyCollectionState, 'skippedCycles'>;
  failingSinks: Set<CycleSink>;
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

export class PolicyCollector {
  private readonly memory = new Map<ObjectKey, PolicyMemory>();
  private readonly maxNamespacedLists: number;

  constructor(private readonly deps: PolicyCollectorDeps) {
    this.maxNamespacedLists = deps.maxNamespacedLists ?? 3;
  }

  /** Runs one cycle of `target` and returns the policy's state after it. Never throws. */
  async collect(target: CollectionTarget, signal?: AbortSignal): Promise<PolicyCollectionState | undefined> {
    const { policy } = target;
    const memory = this.memoryOf(policy);
    const started = this.deps.clock.now();
    let metrics: MetricsResult;
    let failure: Degradation | undefined;
    try {
      metrics = await this.listMetrics(target, signal);
      if (!metrics.available) failure = { reason: 'MetricsAPIUnavailable', message: metrics.reason };
    } catch (err) {
      if (signal?.aborted) return this.state(policy);
      failure = {
        reason: 'MetricsListFailed',
        message: `listing ${policy}'s pod metrics failed: ${errorMessage(err)}`,
      };
      metrics = { available: false, reason: failure.message };
    }
    if (signal?.aborted) return this.state(policy);

    const now = this.deps.clock.now();
    const { cycle, counts, lastSeen } = buildCycle({
      policy,
      intervalSeconds: target.intervalSeconds,
      now,
      pods: selectPods(this.deps.pods, target),
      metrics,
      lastSeen: memory.lastSeen,
    });
    memory.lastSeen = lastSeen;
    const sinkError = await this.deliver(cycle, memory);

    this.deps.metrics.samplesCollected.inc({ policy, source: cycle.metricsSource }, cycle.samples.length);
    this.deps.metrics.collectionDuration.observe({ policy }, (this.deps.clock.now() - started) / 1000);
    this.transition(policy, memory.state?.degraded, failure);
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
  }

  private memoryOf(policy: ObjectKey): PolicyMemory {
    let memory = this.memory.get(policy);
    if (!memory) this.memory.set(policy, (memory = { lastSeen: new Map(), failingSinks: new Set() }));
    return memory;
  }

  /** One cluster-wide list, or one list per namespace when there are few; the selector goes to the server. */
  private async listMetrics(
    target: CollectionTarget,
    signal: AbortSignal | undefined,
  ): Promise<MetricsResult> {
    const labelSelector = labelSelectorQuery(target.selector);
    const { namespaces } = target;
    const scopes: MetricsScope[] =
      namespaces === undefined || namespaces.length > this.maxNamespacedLists
        ? [{ labelSelector }]
        : namespaces.map((namespace) => ({ namespace, labelSelector }));
    const results = await Promise.all(scopes.map((scope) => this.deps.source.listPodMetrics(scope, signal)));
    const unavailable = results.find((result) => !result.available);
    return (
      unavailable ?? {
        available: true,
        items: results.flatMap((result) => (result.available ? result.items : [])),
      }
    );
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
  ): void {
    if (before?.reason === after?.reason) return;
    const ref = objectRef(policy);
    if (after) {
      this.deps.logger.warn('collecting uptime only', {
        ...ref,
        reason: after.reason,
        message: after.message,
      });
    } else if (before) {
      this.deps.logger.info('collecting usage again from metrics.k8s.io', {
        ...ref,
        previousReason: before.reason,
      });
    }
  }
}
