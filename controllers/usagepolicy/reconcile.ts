/**
 * The UsagePolicy controller: validates the spec, resolves which pods the policy selects,
 * keeps the policy's collection schedule in step with its spec, and reports what collection
 * does in the policy's status. Level-triggered: every reconcile reads the cached policy and
 * writes only what differs.
 */
import { admissionOrder, quotaProblem, retentionProblem, type AdminBounds } from '../admin-bounds.js';
import { BudgetTracker, budgetProblem, decideBudget, type BudgetCandidate } from '../collection-budget.js';
import { ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { labelSelectorMatches } from '../../api/v1alpha1/labels.js';
import { formatTimestamp } from '../../api/timestamp.js';
import { normalizeUsagePolicy, type UsagePolicyConfig } from '../../api/v1alpha1/normalize.js';
import type { UsagePolicy, UsagePolicyStatus } from '../../api/v1alpha1/usagepolicy.js';
import { formatFieldErrors } from '../../api/v1alpha1/validation.js';
import type { CollectionTarget, PolicyCollectionState } from '../../operator/collector/collector.js';
import { selectPods } from '../../operator/collector/collector.js';
import type { PodLister } from '../../operator/collector/pod-cache.js';
import type { ScheduleSpec } from '../../operator/collector/schedule.js';
import type { Logger } from '../../operator/logging.js';
import { objectKey, objectRef, type Clock, type ObjectKey } from '../../operator/model.js';
import type { ActivePolicyRegistry } from '../../operator/policies/active-policies.js';
import type { ReconcileResult } from '../../operator/runtime/controller.js';
import type {
  DesiredCondition,
  DesiredStatus,
  StatusObject,
  StatusSink,
} from '../../operator/runtime/status-writer.js';
import type { StoreHealth } from '../../operator/store/index.js';

/** A cached object with labels (namespaces). */
export interface LabelledObject {
  metadata?: { name?: string; labels?: Record<string, string> };
}

/** Read access to the informer caches the controller needs. */
export interface UsagePolicyCaches {
  policy(namespace: string, name: string): UsagePolicy | undefined;
  policies(): readonly UsagePolicy[];
  namespaces(): readonly LabelledObject[];
  pods: PodLister;
}

/** The collection side the controller drives: a schedule per policy and its state. */
export interface CollectionControl {
  /** Calls `listener` after every completed collection of a policy. */
  onCollected(listener: (policy: ObjectKey) => void): void;
  schedule(policy: ObjectKey, spec: ScheduleSpec, target: CollectionTarget): void;
  unschedule(policy: ObjectKey): void;
  state(policy: ObjectKey): PolicyCollectionState | undefined;
}

/** The latest right-sizing summary of each policy, and word when one changes. */
export interface RightsizingSummaries {
  summary(policy: ObjectKey): UsagePolicyStatus['rightsizing'];
  onSummary(listener: (policy: ObjectKey) => void): void;
}

/** What the store reports about its outage buffer, shown in every policy's Degraded condition. */
export type { StoreHealth } from '../../operator/store/index.js';

export interface UsagePolicyControllerDeps {
  caches: UsagePolicyCaches;
  collection: CollectionControl;
  store: StoreHealth;
  status: StatusSink;
  /** Where the controller records which policies collect now (it is their only writer). */
  active: ActivePolicyRegistry;
  /** The operator's namespace: only policies there may select other namespaces. */
  operatorNamespace: string;
  /** The admin's bounds (retention, policies per namespace); none when absent. */
  bounds?: AdminBounds;
  /** Queues policies for reconcile (those whose place in the collection budget changed). */
  requeue?: (keys: ObjectKey[]) => void;
  /** The policies' right-sizing summaries (operator/recommend/rightsizing-loop.ts); none when absent. */
  rightsizing?: RightsizingSummaries;
  clock: Clock;
  logger: Logger;
}

/** The status this controller writes: the CRD's, with conditions as the writer takes them. */
type PolicyStatus = Omit<UsagePolicyStatus, 'conditions'> & DesiredStatus;

export class UsagePolicyReconciler {
  private readonly budget = new BudgetTracker();

  constructor(private readonly deps: UsagePolicyControllerDeps) {}

  /** A term starts with no policy active; its reconciles (every policy is queued) fill them in. */
  startTerm(): void {
    this.deps.active.clear();
    this.budget.clear();
  }

  async stopTerm(): Promise<void> {
    this.deps.active.clear();
  }

  /** Keys of the policies whose scope may include `namespace` (to requeue on pod changes). */
  policiesWatching(namespace: string): ObjectKey[] {
    return this.deps.caches
      .policies()
      .filter(
        (p) =>
          p.metadata.namespace === namespace ||
          (p.metadata.namespace === this.deps.operatorNamespace && p.spec?.namespaceSelector !== undefined),
      )
      .map((p) => objectKey(p.metadata.namespace, p.metadata.name));
  }

  /** Keys of every cross-namespace policy (to requeue on namespace changes). */
  crossNamespacePolicies(): ObjectKey[] {
    return this.deps.caches
      .policies()
      .filter((p) => p.spec?.namespaceSelector !== undefined)
      .map((p) => objectKey(p.metadata.namespace, p.metadata.name));
  }

  reconcile = async (key: string, signal: AbortSignal): Promise<ReconcileResult | void> => {
    const { namespace, name } = objectRef(key);
    const policy = this.deps.caches.policy(namespace, name);
    if (!policy) {
      this.stop(key);
      return;
    }
    const logger = this.deps.logger.child({ namespace, name });
    const normalized = normalizeUsagePolicy(policy);
    if (!normalized.ok) {
      this.stop(key);
      const message = `invalid spec: ${formatFieldErrors(normalized.errors)}`;
      await this.writeStatus(policy, this.notReady(policy, Reason.InvalidSpec, message), signal, logger);
      return;
    }
    const config = normalized.config;
    if (config.namespaceSelector && namespace !== this.deps.operatorNamespace) {
      this.stop(key);
      const message =
        `spec.namespaceSelector is honoured only for policies in the operator's namespace ` +
        `"${this.deps.operatorNamespace}"; remove it to collect from "${namespace}" only, ` +
        `or ask a cluster admin to create the policy there`;
      await this.writeStatus(
        policy,
        this.notReady(policy, Reason.CrossNamespaceDenied, message),
        signal,
        logger,
      );
      return;
    }

    const bounds = this.deps.bounds;
    const overBound =
      bounds &&
      (retentionProblem(config, bounds) ??
        quotaProblem(
          policy,
          this.deps.caches.policies().filter((p) => p.metadata.namespace === namespace),
          bounds,
        ));
    if (overBound) {
      this.stop(key);
      await this.writeStatus(
        policy,
        this.notReady(policy, overBound.reason, overBound.message),
        signal,
        logger,
      );
      return;
    }

    const created = policy.metadata.creationTimestamp as string | Date | undefined;
    const createdAt = created === undefined ? NaN : new Date(created).getTime();
    const target: CollectionTarget = {
      policy: key,
      intervalSeconds: config.intervalMs / 1000,
      namespaces: this.namespacesInScope(namespace, config),
      selector: config.selector,
      retention: config.retention,
      ...(Number.isFinite(createdAt) && { createdAt }),
    };
    const overBudget = this.budgetProblem(key);
    if (overBudget) {
      this.stop(key);
      await this.writeStatus(
        policy,
        this.notReady(policy, overBudget.reason, overBudget.message),
        signal,
        logger,
      );
      return;
    }
    this.deps.collection.schedule(key, { intervalMs: config.intervalMs, suspended: config.suspend }, target);
    if (config.suspend) this.deps.active.delete(key);
    else this.deps.active.set(key, config);

    const pods = selectPods(this.deps.caches.pods, target);
    const status: PolicyStatus = {
      ...(policy.metadata.generation !== undefined && { observedGeneration: policy.metadata.generation }),
      matchedPods: pods.length,
      matchedContainers: pods.reduce((n, pod) => n + pod.containers.length, 0),
      conditions: [],
    };
    // Until this replica's first cycle of the policy, keep what the status says (a new term,
    // perhaps on another replica, must not blank the last collection).
    const collected = this.deps.collection.state(key);
    const lastCollectionTime =
      collected?.lastCollectionTime !== undefined
        ? formatTimestamp(collected.lastCollectionTime)
        : policy.status?.lastCollectionTime;
    if (lastCollectionTime !== undefined) status.lastCollectionTime = lastCollectionTime;
    const metricsSource = collected?.metricsSource ?? policy.status?.metricsSource;
    if (metricsSource !== undefined) status.metricsSource = metricsSource;
    const dropped = this.deps.store.droppedSamples();
    if (dropped > 0) status.droppedSamples = dropped;
    // As lastCollectionTime: the status keeps the last summary until this replica has its own.
    const rightsizing = this.deps.rightsizing?.summary(key) ?? policy.status?.rightsizing;
    if (rightsizing !== undefined) status.rightsizing = rightsizing;
    status.conditions = [
      config.suspend
        ? this.condition(
            policy,
            ConditionType.Ready,
            'True',
            Reason.Suspended,
            'collection is suspended (spec.suspend)',
          )
        : this.condition(
            policy,
            ConditionType.Ready,
            'True',
            Reason.Collecting,
            `collecting every ${config.intervalMs / 1000}s from ${describeScope(target)}`,
          ),
      this.degraded(policy, config.suspend ? undefined : collected),
    ];
    await this.writeStatus(policy, status, signal, logger);
  };

  /**
   * The policy's place in the cluster-wide collection budget, decided over every policy that
   * would collect (valid, allowed, within the other bounds, not suspended); undefined without a
   * budget or when it fits. Policies whose place changed are requeued.
   */
  private budgetProblem(key: ObjectKey): { reason: string; message: string } | undefined {
    const budget = this.deps.bounds?.maxCollectedContainers;
    if (!budget) return undefined;
    const decisions = decideBudget(this.budgetCandidates(), budget);
    const changed = this.budget.update(decisions, key);
    if (changed.length > 0) this.deps.requeue?.(changed);
    const decision = decisions.get(key);
    return decision && budgetProblem(decision, budget);
  }

  private budgetCandidates(): BudgetCandidate[] {
    const bounds = this.deps.bounds;
    const byNamespace = new Map<string, UsagePolicy[]>();
    for (const p of this.deps.caches.policies()) {
      const list = byNamespace.get(p.metadata.namespace);
      if (list) list.push(p);
      else byNamespace.set(p.metadata.namespace, [p]);
    }
    const candidates: BudgetCandidate[] = [];
    for (const [ns, inNamespace] of byNamespace) {
      // The namespace's quota, decided once for all of its policies.
      const admitted = bounds
        ? admissionOrder(inNamespace).slice(0, bounds.maxPoliciesPerNamespace)
        : inNamespace;
      for (const p of admitted) {
        const normalized = normalizedOf(p);
        if (!normalized.ok || normalized.config.suspend) continue;
        const config = normalized.config;
        if (config.namespaceSelector && ns !== this.deps.operatorNamespace) continue;
        if (bounds && retentionProblem(config, bounds)) continue;
        const key = objectKey(ns, p.metadata.name);
        const pods = selectPods(this.deps.caches.pods, {
          policy: key,
          intervalSeconds: config.intervalMs / 1000,
          namespaces: this.namespacesInScope(ns, config),
          selector: config.selector,
        });
        candidates.push({
          key,
          ...(p.metadata.creationTimestamp !== undefined && {
            creationTimestamp: p.metadata.creationTimestamp as string | Date,
          }),
          containers: pods.reduce((n, pod) => n + pod.containers.length, 0),
        });
      }
    }
    return candidates;
  }

  private stop(key: ObjectKey): void {
    this.deps.collection.unschedule(key);
    this.deps.active.delete(key);
    // A policy that stops collecting (deleted, invalid, over a bound) frees its share of the
    // collection budget: the policies it kept out are requeued.
    this.budgetProblem(key);
  }

  private namespacesInScope(own: string, config: UsagePolicyConfig): string[] {
    const selector = config.namespaceSelector;
    if (!selector) return [own];
    return this.deps.caches
      .namespaces()
      .filter((ns) => {
        const name = ns.metadata?.name ?? '';
        if (selector.matchNames && !selector.matchNames.includes(name)) return false;
        return labelSelectorMatches(
          { matchLabels: selector.matchLabels, matchExpressions: selector.matchExpressions },
          ns.metadata?.labels,
        );
      })
      .map((ns) => ns.metadata?.name ?? '')
      .sort();
  }

  private degraded(policy: UsagePolicy, state: PolicyCollectionState | undefined): DesiredCondition {
    const outage = this.deps.store.outage();
    const dropped = this.deps.store.droppedSamples();
    if (state?.degraded) {
      return this.condition(
        policy,
        ConditionType.Degraded,
        'True',
        state.degraded.reason,
        state.degraded.message,
      );
    }
    if (outage)
      return this.condition(policy, ConditionType.Degraded, 'True', Reason.StoreUnavailable, outage);
    if (state?.sinkError) {
      return this.condition(policy, ConditionType.Degraded, 'True', Reason.StoreUnavailable, state.sinkError);
    }
    if (dropped > 0) {
      return this.condition(
        policy,
        ConditionType.Degraded,
        'True',
        Reason.SamplesDropped,
        `${dropped} samples were dropped (oldest first) while the store was unavailable`,
      );
    }
    return this.condition(
      policy,
      ConditionType.Degraded,
      'False',
      Reason.AsExpected,
      'collecting as expected',
    );
  }

  private notReady(policy: UsagePolicy, reason: string, message: string): PolicyStatus {
    return {
      ...(policy.metadata.generation !== undefined && { observedGeneration: policy.metadata.generation }),
      matchedPods: 0,
      matchedContainers: 0,
      conditions: [
        this.condition(policy, ConditionType.Ready, 'False', reason, message),
        this.condition(policy, ConditionType.Degraded, 'False', Reason.AsExpected, 'not collecting'),
      ],
    };
  }

  private condition(
    policy: UsagePolicy,
    type: string,
    status: 'True' | 'False' | 'Unknown',
    reason: string,
    message: string,
  ): DesiredCondition {
    return {
      type,
      status,
      reason,
      message,
      ...(policy.metadata.generation !== undefined && { observedGeneration: policy.metadata.generation }),
    };
  }

  private async writeStatus(
    policy: UsagePolicy,
    status: DesiredStatus,
    signal: AbortSignal,
    logger: Logger,
  ): Promise<void> {
    const written = await this.deps.status.write(policy as unknown as StatusObject, status, signal);
    if (written)
      logger.debug('status written', { conditions: status.conditions?.map((c) => `${c.type}=${c.status}`) });
  }
}

/** normalizeUsagePolicy, once per cached object (the informer replaces an object that changes). */
const normalizedCache = new WeakMap<UsagePolicy, ReturnType<typeof normalizeUsagePolicy>>();
function normalizedOf(policy: UsagePolicy): ReturnType<typeof normalizeUsagePolicy> {
  let result = normalizedCache.get(policy);
  if (result === undefined) normalizedCache.set(policy, (result = normalizeUsagePolicy(policy)));
  return result;
}

function describeScope(target: CollectionTarget): string {
  const namespaces = target.namespaces ?? [];
  if (namespaces.length === 0) return 'no namespace (none matches spec.namespaceSelector)';
  if (namespaces.length <= 3) return `namespace ${namespaces.join(', ')}`;
  return `${namespaces.length} namespaces`;
}
