/**
 * The alerts' in-memory evaluation for one leadership term: after every collection cycle of a
 * policy, each alert that references it runs through the evaluator (a pure state machine);
 * its transitions wait here until the reconcile has written them to status. State resumes
 * from status when an alert is first seen in a term (restart, failover).
 */
import { parseCpuMillicores, parseMemoryBytes } from '../../api/quantity.js';
import { labelSelectorMatches } from '../../api/v1alpha1/labels.js';
import { normalizeResourceAlert, type ResourceAlertConfig } from '../../api/v1alpha1/normalize.js';
import type { ResourceAlert } from '../../api/v1alpha1/resourcealert.js';
import { evaluate, type Transition } from '../../operator/alerting/evaluator.js';
import type { AlertRule } from '../../operator/alerting/rule.js';
import { emptyAlertState, type AlertState } from '../../operator/alerting/state.js';
import { fromStatus } from '../../operator/alerting/status.js';
import type { CycleSink } from '../../operator/collector/collector.js';
import { errorMessage, type Logger } from '../../operator/logging.js';
import type { OperatorMetrics } from '../../operator/metrics.js';
import {
  objectKey,
  objectRef,
  type Clock,
  type CollectionCycle,
  type ObjectKey,
} from '../../operator/model.js';

/** Published for the HTTP API's live stream. */
export interface AlertTransitionListener {
  (alert: ObjectKey, transition: Transition, rule: AlertRule): void;
}

export interface AlertMemory {
  /** The spec generation the rule and notifiers were built from. */
  generation: number | undefined;
  config: ResourceAlertConfig;
  rule: AlertRule;
  state: AlertState;
  /** Transitions evaluated but not yet written to status (and so not yet announced). */
  unannounced: Transition[];
  /**
   * Firings announced (handed to the dispatcher) and not yet delivered or given up, per
   * target and metric: status shows them with `firingNotified: false`, so that a process
   * killed before their delivery announces them again after its restart.
   */
  undelivered: Map<string, number>;
  /**
   * Resolutions announced and not yet delivered or given up, per target and metric, with the
   * last of them: status lists each as a Normal entry with `resolvedAt`, so that a process
   * killed before the delivery has the next one announce it.
   */
  undeliveredResolutions: Map<string, { count: number; transition: Transition }>;
  /** Targets per state at the last status computation, for the alert gauges. */
  counts?: { Firing: number; Pending: number; NoBasis: number };
}

export interface AlertEvaluationDeps {
  alerts(namespace: string): readonly ResourceAlert[];
  /** Queues an alert's key for reconcile (its status shows the new evaluation). */
  enqueue: (key: ObjectKey) => void;
  /** Called when an alert's memory is (re)built from a new spec generation. */
  onConfigured: (key: ObjectKey, alert: ResourceAlert, config: ResourceAlertConfig) => void;
  clock: Clock;
  logger: Logger;
  metrics: Pick<OperatorMetrics, 'alertTransitions' | 'alertsByState'>;
  onTransition?: AlertTransitionListener;
}

export function ruleOf(key: ObjectKey, namespace: string, config: ResourceAlertConfig): AlertRule {
  const selector = config.selector;
  return {
    key,
    policy: objectKey(namespace, config.policyRef.name),
    scope: config.scope,
    ...(selector && {
      selector: (labels) => labelSelectorMatches(selector, Object.fromEntries(labels.map((l) => [l.k, l.v]))),
    }),
    ...(config.cpu && { cpu: config.cpu }),
    ...(config.memory && { memory: config.memory }),
    for: config.for,
    recoverAfter: config.recoverAfter,
    noData: config.noData,
    ...(config.muteUntil !== undefined && { muteUntil: config.muteUntil }),
    suspend: config.suspend,
    severity: config.severity,
  };
}

export class AlertEvaluation implements CycleSink {
  private readonly memory = new Map<ObjectKey, AlertMemory>();

  constructor(private readonly deps: AlertEvaluationDeps) {}

  /** Forgets every alert: a new term resumes each from its status. */
  clear(): void {
    this.memory.clear();
    this.updateGauges();
  }

  /** Evaluates every alert on the cycle's policy and queues it; its reconcile writes status, then notifies. */
  onCycle(cycle: CollectionCycle): void {
    const { namespace, name } = objectRef(cycle.policy);
    const now = this.deps.clock.now();
    for (const alert of this.deps.alerts(namespace)) {
      if (alert.spec?.policyRef?.name !== name) continue;
      const key = objectKey(alert.metadata.namespace, alert.metadata.name);
      const memory = this.memoryOf(key, alert);
      if (!memory) continue;
      try {
        const { state, transitions } = evaluate(memory.rule, memory.state, cycle, now);
        memory.state = state;
        for (const transition of transitions) {
          this.deps.metrics.alertTransitions.inc({ transition: transition.kind });
          this.deps.onTransition?.(key, transition, memory.rule);
          if (transition.notify) memory.unannounced.push(transition);
        }
      } catch (err) {
        this.deps.logger.error('alert evaluation failed', { ...objectRef(key), error: errorMessage(err) });
      }
      this.deps.enqueue(key);
    }
  }

  forget(key: ObjectKey): void {
    this.memory.delete(key);
    this.updateGauges();
  }

  /** The alert's memory, (re)built when its spec changed; resumes from status when first seen. */
  memoryOf(key: ObjectKey, alert: ResourceAlert): AlertMemory | undefined {
    const existing = this.memory.get(key);
    const generation = alert.metadata.generation;
    if (existing && existing.generation === generation) return existing;
    const normalized = normalizeResourceAlert(alert);
    if (!normalized.ok) return undefined;
    const config = normalized.config;
    const memory: AlertMemory = {
      generation,
      config,
      rule: ruleOf(key, alert.metadata.namespace, config),
      state: existing?.state ?? this.resume(key, alert),
      // First seen in this term: resolutions that the status says are owed are announced.
      unannounced: existing?.unannounced ?? this.owedResolutions(key, alert),
      undelivered: existing?.undelivered ?? new Map(),
      undeliveredResolutions: existing?.undeliveredResolutions ?? new Map(),
    };
    this.memory.set(key, memory);
    this.deps.onConfigured(key, alert, config);
    return memory;
  }

  /** Records the alert's target counts for the gauges (summed over every alert). */
  setCounts(memory: AlertMemory, counts: NonNullable<AlertMemory['counts']>): void {
    memory.counts = counts;
    this.updateGauges();
  }

  /** The resolutions the stored status lists as not delivered (entries with resolvedAt). */
  private owedResolutions(key: ObjectKey, alert: ResourceAlert): Transition[] {
    const owed: Transition[] = [];
    for (const t of alert.status?.targets ?? []) {
      if (t.resolvedAt === undefined || t.state !== 'Normal' || t.namespace === undefined) continue;
      try {
        const metric = t.metric;
        const quantity = (text: string | undefined) =>
          text === undefined ? null : metric === 'cpu' ? parseCpuMillicores(text) : parseMemoryBytes(text);
        const time = (text: string | undefined, field: string) => {
          const ms = text === undefined ? NaN : Date.parse(text);
          if (!Number.isFinite(ms)) throw new Error(`${field}: not a time: ${JSON.stringify(text)}`);
          return ms;
        };
        owed.push({
          kind: 'resolved',
          ref: {
            namespace: t.namespace,
            pod: t.pod,
            ...(t.container !== undefined && { container: t.container }),
          },
          metric,
          cause: 'recovered',
          value: quantity(t.value),
          threshold: quantity(t.threshold),
          breaches: t.breaches,
          firingSince: time(t.since, 'since'),
          at: time(t.resolvedAt, 'resolvedAt'),
          notify: true,
          delayed: false,
        });
      } catch (err) {
        this.deps.logger.warn('an owed resolution in status cannot be read; not announced', {
          ...objectRef(key),
          pod: t.pod,
          error: errorMessage(err),
        });
      }
    }
    return owed;
  }

  private resume(key: ObjectKey, alert: ResourceAlert): AlertState {
    try {
      return alert.status?.targets
        ? fromStatus(alert.status as Parameters<typeof fromStatus>[0])
        : emptyAlertState();
    } catch (err) {
      this.deps.logger.warn('alert status not resumable; counting from zero', {
        ...objectRef(key),
        error: errorMessage(err),
      });
      return emptyAlertState();
    }
  }

  private updateGauges(): void {
    const totals = { Firing: 0, Pending: 0, NoBasis: 0 };
    for (const { counts } of this.memory.values()) {
      if (!counts) continue;
      totals.Firing += counts.Firing;
      totals.Pending += counts.Pending;
      totals.NoBasis += counts.NoBasis;
    }
    for (const [state, value] of Object.entries(totals))
      this.deps.metrics.alertsByState.set({ state }, value);
  }
}
