/**
 * The alert pipeline, from collection cycles to per-alert state and from status writes to
 * notifications, for one leadership term at a time:
 *
 *   collection cycle --onCycle--> evaluate (evaluator.ts) --> per-alert state, transitions
 *        --> the alert's key queued for reconcile (onChange)
 *   ResourceAlert reconcile --nextStatus--> status with the transitions it records
 *        --written()--> notifications queued (notifiers/dispatcher.ts) --delivered--> onChange
 *
 * It is a cycle sink: after every collection cycle of a policy, each alert that references
 * it (within its namespace's quota) runs through the evaluator, a pure state machine; the
 * transitions wait here until a status that records them has been written, and only then go
 * to the notifiers, so that what is announced is exactly what status shows. A firing or
 * resolution handed to the dispatcher stays owed (owed.ts) until it is delivered or given up.
 *
 * An alert's state is built when a term first reads or evaluates it, from its stored status
 * (resume.ts), and rebuilt (keeping the state) when its spec's generation changes. A term
 * starts with no state and its own dispatcher; at its end the dispatcher delivers what is
 * queued (bounded by `drainTimeoutMs`) and the state is dropped.
 */
import { normalizeResourceAlert, type ResourceAlertConfig } from '../../api/v1alpha1/normalize.js';
import type { ResourceAlert } from '../../api/v1alpha1/resourcealert.js';
import type { UsagePolicy } from '../../api/v1alpha1/usagepolicy.js';
import type { CycleSink } from '../collector/collector.js';
import { errorMessage, type Logger } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import { objectKey, objectRef, type CollectionCycle, type ObjectKey } from '../model.js';
import type { Timers } from '../runtime/clock.js';
import { evaluate, type Transition } from './evaluator.js';
import type { AlertmanagerTargets } from './notifiers/alertmanager.js';
import { DestinationPolicy } from './notifiers/destination-policy.js';
import type { NotificationDispatcher, NotifierFailure } from './notifiers/dispatcher.js';
import type { TransitionEventRecorder } from './notifiers/events.js';
import { notifiersFor, type NotifierDeps } from './notifiers/from-spec.js';
import { firingNotifications, toNotification } from './notifiers/notification.js';
import type { SecretReader } from './notifiers/webhook.js';
import { OwedNotifications } from './owed.js';
import { readinessProblem, type ReadinessProblem } from './readiness.js';
import { owedResolutions, resumedState } from './resume.js';
import { ruleOf, type AlertRule } from './rule.js';
import type { AlertState } from './state.js';
import { toStatus, type AlertStatus, type StatusLimits } from './status.js';

/** Published for the HTTP API's live stream. */
export interface AlertTransitionListener {
  (alert: ObjectKey, transition: Transition, rule: AlertRule): void;
}

/** An alert's evaluation in this term: the spec it follows, as the reconcile reads it. */
export interface AlertEvaluation {
  readonly config: ResourceAlertConfig;
  readonly rule: AlertRule;
}

/** A status computed from an alert's state, with the transitions it records. */
export interface PendingStatus {
  /** Counters, targets (owed notifications shown) and the Firing condition. */
  readonly status: AlertStatus;
  /** The transitions this status records: exactly these are announced once it is written. */
  readonly transitions: readonly Transition[];
  /** The status was written: its transitions go to the notifiers. */
  written(): void;
  /** The write failed: its transitions wait for the next status. */
  notWritten(): void;
}

/** What the ResourceAlert reconcile reads of the pipeline, and what it reports back. */
export interface AlertStateReader {
  /** Whether a term runs: outside one there is no state to read. */
  readonly inTerm: boolean;
  /** The alert's evaluation, built (or resumed from status) when first read; undefined for an invalid spec. */
  evaluationOf(key: ObjectKey, alert: ResourceAlert): AlertEvaluation | undefined;
  /** Why the alert cannot do its job (Ready=False), from its policy and notifiers; undefined when it can. */
  readiness(
    alert: ResourceAlert,
    evaluation: AlertEvaluation,
    policy: UsagePolicy | undefined,
  ): Promise<ReadinessProblem | undefined>;
  /** Delivery trouble of the alert's notifiers in this term. */
  failures(key: ObjectKey): NotifierFailure[];
  /**
   * The alert's status from its state now. Takes the transitions evaluated since the last
   * call: report the write's outcome (written or notWritten) on the result.
   */
  nextStatus(key: ObjectKey, limits: StatusLimits): PendingStatus | undefined;
  /** The alert is not evaluated (deleted, invalid, over its namespace's quota): its state and notifiers go. */
  release(key: ObjectKey): void;
}

export interface AlertPipelineDeps {
  /** The alerts evaluated in a namespace: those within its quota. */
  alerts(namespace: string): readonly ResourceAlert[];
  /** A dispatcher for one term; `onFailureChange` names the alert whose delivery changed. */
  newDispatcher: (onFailureChange: (alert: ObjectKey) => void) => NotificationDispatcher;
  events: TransitionEventRecorder;
  secrets: SecretReader;
  /** Where tenant webhooks may connect; refuses in-cluster and private destinations by default. */
  destinations?: DestinationPolicy;
  /** The operator's Alertmanagers (configured by the admin); alerts opt in. */
  alertmanager?: AlertmanagerTargets;
  /** Time, and the notifiers' timers. */
  clock: Timers;
  logger: Logger;
  metrics: Pick<OperatorMetrics, 'alertTransitions' | 'alertsByState'>;
  onTransition?: AlertTransitionListener;
  /** Bound on delivering what is queued when a term ends. Default 5 s. */
  drainTimeoutMs?: number;
}

interface AlertMemory extends AlertEvaluation {
  /** The spec generation the rule and notifiers were built from. */
  generation: number | undefined;
  state: AlertState;
  /** Transitions evaluated but not yet written to status (and so not yet announced). */
  unannounced: Transition[];
  owed: OwedNotifications;
  /** Targets per state at the last status computation, for the alert gauges. */
  counts?: { Firing: number; Pending: number; NoBasis: number };
}

export class AlertPipeline implements CycleSink, AlertStateReader {
  private readonly memory = new Map<ObjectKey, AlertMemory>();
  private readonly listeners: ((key: ObjectKey) => void)[] = [];
  private readonly notifierDeps: NotifierDeps;
  private dispatcher?: NotificationDispatcher;

  constructor(private readonly deps: AlertPipelineDeps) {
    this.notifierDeps = {
      events: deps.events,
      secrets: deps.secrets,
      clock: deps.clock,
      destinations: deps.destinations ?? new DestinationPolicy(),
      ...(deps.alertmanager && { alertmanager: deps.alertmanager }),
    };
  }

  /** Called with an alert's key whenever its status would change (a new evaluation, a delivery). */
  onChange(listener: (key: ObjectKey) => void): void {
    this.listeners.push(listener);
  }

  get inTerm(): boolean {
    return this.dispatcher !== undefined;
  }

  /** A term starts from the alerts' status (no state) with its own dispatcher. */
  startTerm(): void {
    this.clear();
    this.dispatcher = this.deps.newDispatcher((alert) => this.changed(alert));
  }

  /** Delivers what is queued (bounded), then forgets the term. */
  async stopTerm(): Promise<void> {
    const dispatcher = this.dispatcher;
    this.dispatcher = undefined;
    this.clear();
    await dispatcher?.close(this.deps.drainTimeoutMs ?? 5_000);
  }

  /** Evaluates every alert on the cycle's policy and reports it changed. */
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
      this.changed(key);
    }
  }

  evaluationOf(key: ObjectKey, alert: ResourceAlert): AlertEvaluation | undefined {
    return this.memoryOf(key, alert);
  }

  readiness(
    alert: ResourceAlert,
    evaluation: AlertEvaluation,
    policy: UsagePolicy | undefined,
  ): Promise<ReadinessProblem | undefined> {
    return readinessProblem(
      alert,
      evaluation.config,
      policy,
      this.failures(evaluation.rule.key),
      this.notifierDeps,
    );
  }

  failures(key: ObjectKey): NotifierFailure[] {
    return this.dispatcher?.failures(key) ?? [];
  }

  nextStatus(key: ObjectKey, limits: StatusLimits): PendingStatus | undefined {
    const memory = this.memory.get(key);
    if (!memory) return undefined;
    const transitions = memory.unannounced.splice(0);
    // Owed from now on: the status shows them until they are delivered.
    for (const t of transitions) memory.owed.count(t, 1);
    const status = toStatus(memory.state, memory.rule, this.deps.clock.now(), limits);
    memory.owed.showIn(status, limits.maxTargets);
    memory.counts = {
      Firing: status.firingTargets,
      Pending: status.pendingTargets,
      NoBasis: status.noBasisTargets,
    };
    this.updateGauges();
    return {
      status,
      transitions,
      written: () => this.announce(key, memory, transitions),
      notWritten: () => {
        memory.unannounced.unshift(...transitions);
        for (const t of transitions) memory.owed.count(t, -1);
      },
    };
  }

  release(key: ObjectKey): void {
    this.memory.delete(key);
    this.updateGauges();
    this.dispatcher?.remove(key);
  }

  /** Hands the transitions a written status records to the notifiers. */
  private announce(key: ObjectKey, memory: AlertMemory, transitions: readonly Transition[]): void {
    const dispatcher = this.dispatcher;
    if (!dispatcher) return;
    for (const transition of transitions) {
      // Delivered (or given up): the next status no longer shows it owed.
      const settled = () => {
        memory.owed.count(transition, -1);
        this.changed(key);
      };
      dispatcher.enqueue(toNotification(memory.rule, transition), settled);
    }
    dispatcher.setFiring(key, firingNotifications(memory.rule, memory.state));
  }

  /** The alert's memory, (re)built when its spec changed; resumes from status when first seen. */
  private memoryOf(key: ObjectKey, alert: ResourceAlert): AlertMemory | undefined {
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
      state: existing?.state ?? resumedState(key, alert, this.deps.logger),
      // First seen in this term: resolutions that the status says are owed are announced.
      unannounced: existing?.unannounced ?? owedResolutions(key, alert, this.deps.logger),
      owed: existing?.owed ?? new OwedNotifications(),
    };
    this.memory.set(key, memory);
    this.dispatcher?.configure(key, notifiersFor(alert, config, this.notifierDeps));
    return memory;
  }

  private changed(key: ObjectKey): void {
    for (const listener of this.listeners) listener(key);
  }

  /** Forgets every alert: a new term resumes each from its status. */
  private clear(): void {
    this.memory.clear();
    this.updateGauges();
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
