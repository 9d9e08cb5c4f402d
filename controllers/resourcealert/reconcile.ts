/**
 * The ResourceAlert reconcile: reads the cached alert, computes its status from the term's
 * evaluation (see evaluation.ts) and readiness, writes the difference, and only then hands the
 * transitions that status records to the notifiers. The transitions announced are exactly
 * those taken when the status was computed.
 *
 * A firing is written with `firingNotified: false` until the dispatcher has settled it
 * (delivered to every notifier, or given up), then with `true` by the next write; a resolution
 * stays listed as a Normal entry with `resolvedAt` until it is settled. A process killed
 * between the status write and the delivery leaves both in status: the next one announces the
 * firing on its next evaluation, and the resolution as soon as it sees the alert. One killed
 * after the delivery but before the next write announces it a second time (at least once:
 * the one window left).
 *
 * `afterStatusWrite` is a test hook: the kill-between-write-and-notify test makes the process
 * SIGKILL itself there (cmd/operator.ts, only with KUO_TEST_KILL_AFTER_ALERT_WRITE set).
 */
import { isDeepStrictEqual } from 'node:util';
import { ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { normalizeResourceAlert } from '../../api/v1alpha1/normalize.js';
import type { ResourceAlert } from '../../api/v1alpha1/resourcealert.js';
import type { UsagePolicy } from '../../api/v1alpha1/usagepolicy.js';
import { formatFieldErrors } from '../../api/v1alpha1/validation.js';
import type { Transition } from '../../operator/alerting/evaluator.js';
import type { AlertmanagerTargets } from '../../operator/alerting/notifiers/alertmanager.js';
import { DestinationPolicy } from '../../operator/alerting/notifiers/destination-policy.js';
import type { NotificationDispatcher } from '../../operator/alerting/notifiers/dispatcher.js';
import type { TransitionEventRecorder } from '../../operator/alerting/notifiers/events.js';
import { firingNotifications, toNotification } from '../../operator/alerting/notifiers/notification.js';
import type { SecretReader } from '../../operator/alerting/notifiers/webhook.js';
import { formatQuantity, formatTime } from '../../operator/alerting/format.js';
import { targetKeyOf } from '../../operator/alerting/state.js';
import { notificationsCondition, toStatus } from '../../operator/alerting/status.js';
import type { Logger } from '../../operator/logging.js';
import type { OperatorMetrics } from '../../operator/metrics.js';
import { objectKey, objectRef, type ObjectKey } from '../../operator/model.js';
import type { Timers } from '../../operator/runtime/clock.js';
import type { ReconcileResult } from '../../operator/runtime/controller.js';
import type { DesiredCondition, DesiredStatus, StatusObject } from '../../operator/runtime/status-writer.js';
import type { StatusSink } from '../usagepolicy/reconcile.js';
import { AlertEvaluation, type AlertMemory, type AlertTransitionListener } from './evaluation.js';
import { notifiersFor, type NotifierDeps } from './notifiers.js';
import { readinessProblem } from './readiness.js';
import { alertQuotaProblem, alertsWithinQuota, type AdminBounds } from '../admin-bounds.js';

export type { AlertTransitionListener } from './evaluation.js';

export interface ResourceAlertCaches {
  alert(namespace: string, name: string): ResourceAlert | undefined;
  alerts(namespace?: string): readonly ResourceAlert[];
  policy(namespace: string, name: string): UsagePolicy | undefined;
}

export interface ResourceAlertReconcilerDeps {
  caches: ResourceAlertCaches;
  status: StatusSink;
  /** A dispatcher for one term; `onFailureChange` requeues the alert whose delivery changed. */
  newDispatcher: (onFailureChange: (alert: ObjectKey) => void) => NotificationDispatcher;
  events: TransitionEventRecorder;
  secrets: SecretReader;
  /** Queues an alert's key for reconcile. */
  enqueue: (key: ObjectKey) => void;
  /** Time, and the notifiers' timers. */
  clock: Timers;
  logger: Logger;
  metrics: Pick<OperatorMetrics, 'alertTransitions' | 'alertsByState'>;
  onTransition?: AlertTransitionListener;
  maxStatusTargets?: number;
  /** Where tenant webhooks may connect; refuses in-cluster and private destinations by default. */
  destinations?: DestinationPolicy;
  /** The operator's Alertmanagers (configured by the admin); alerts opt in. */
  alertmanager?: AlertmanagerTargets;
  /** Bound on delivering what is queued when a term ends. Default 5 s. */
  drainTimeoutMs?: number;
  /** Called after a status write and before its transitions are announced (a test hook). */
  afterStatusWrite?: (key: ObjectKey, recorded: readonly Transition[]) => void;
  /** The admin's bound on ResourceAlerts per namespace; unbounded when absent. */
  bounds?: Pick<AdminBounds, 'maxAlertsPerNamespace'>;
}

export class ResourceAlertReconciler {
  /** Receives every collection cycle (a cycle sink); lives as long as the process. */
  readonly evaluation: AlertEvaluation;
  private dispatcher?: NotificationDispatcher;
  private readonly notifierDeps: NotifierDeps;

  constructor(private readonly deps: ResourceAlertReconcilerDeps) {
    this.notifierDeps = {
      events: deps.events,
      secrets: deps.secrets,
      clock: deps.clock,
      destinations: deps.destinations ?? new DestinationPolicy(),
      ...(deps.alertmanager && { alertmanager: deps.alertmanager }),
    };
    this.evaluation = new AlertEvaluation({
      // Alerts beyond their namespace's quota are not evaluated (their Ready says why).
      alerts: (namespace) => alertsWithinQuota(deps.caches.alerts(namespace), deps.bounds),
      enqueue: deps.enqueue,
      onConfigured: (key, alert, config) =>
        this.dispatcher?.configure(key, notifiersFor(alert, config, this.notifierDeps)),
      clock: deps.clock,
      logger: deps.logger,
      metrics: deps.metrics,
      onTransition: deps.onTransition,
    });
  }

  /** A term starts from the alerts' status (no memory) with its own dispatcher. */
  startTerm(): void {
    this.evaluation.clear();
    this.dispatcher = this.deps.newDispatcher((alert) => this.deps.enqueue(alert));
  }

  /** Delivers what is queued (bounded), then forgets the term. */
  async stopTerm(): Promise<void> {
    const dispatcher = this.dispatcher;
    this.dispatcher = undefined;
    this.evaluation.clear();
    await dispatcher?.close(this.deps.drainTimeoutMs ?? 5_000);
  }

  /** Keys of the alerts that reference a policy (to requeue them when the policy changes). */
  alertsOf(policy: ObjectKey): ObjectKey[] {
    const { namespace, name } = objectRef(policy);
    return this.deps.caches
      .alerts(namespace)
      .filter((a) => a.spec?.policyRef?.name === name)
      .map((a) => objectKey(a.metadata.namespace, a.metadata.name));
  }

  reconcile = async (key: string, signal: AbortSignal): Promise<ReconcileResult | void> => {
    const dispatcher = this.dispatcher;
    if (!dispatcher) return;
    const { namespace, name } = objectRef(key);
    const alert = this.deps.caches.alert(namespace, name);
    if (!alert) {
      this.evaluation.forget(key);
      dispatcher.remove(key);
      return;
    }
    const normalized = normalizeResourceAlert(alert);
    if (!normalized.ok) {
      this.evaluation.forget(key);
      dispatcher.remove(key);
      const message = `invalid spec: ${formatFieldErrors(normalized.errors)}`;
      await this.write(alert, this.notReady(alert, Reason.InvalidSpec, message), signal);
      return;
    }
    const overQuota =
      this.deps.bounds && alertQuotaProblem(alert, this.deps.caches.alerts(namespace), this.deps.bounds);
    if (overQuota) {
      this.evaluation.forget(key);
      dispatcher.remove(key);
      await this.write(alert, this.notReady(alert, overQuota.reason, overQuota.message), signal);
      return;
    }
    const memory = this.evaluation.memoryOf(key, alert);
    if (!memory) return;
    const policyRef = objectRef(memory.rule.policy);
    const policy = this.deps.caches.policy(policyRef.namespace, policyRef.name);
    const problem = await readinessProblem(
      alert,
      memory.config,
      policy,
      dispatcher.failures(key),
      this.notifierDeps,
    );

    // The transitions this status records: only these are announced after the write. Their
    // firings are stored as not notified until the dispatcher settles them.
    const recorded = memory.unannounced.splice(0);
    const fired = recorded.filter((t) => t.kind === 'fired').map(firingKeyOf);
    const resolved = recorded.filter((t) => t.kind === 'resolved');
    for (const k of fired) countUndelivered(memory, k, 1);
    for (const t of resolved) countUndeliveredResolution(memory, t, 1);
    const desired = this.desiredStatus(alert, memory, problem, dispatcher);
    try {
      await this.write(alert, desired, signal);
    } catch (err) {
      memory.unannounced.unshift(...recorded);
      for (const k of fired) countUndelivered(memory, k, -1);
      for (const t of resolved) countUndeliveredResolution(memory, t, -1);
      throw err;
    }
    if (signal.aborted) {
      // The term ended: the write may or may not have happened; the next term resumes from
      // the stored status, where these firings are not notified: it announces them.
      return;
    }
    this.deps.afterStatusWrite?.(key, recorded);
    this.announce(dispatcher, key, memory, recorded);
  };

  private desiredStatus(
    alert: ResourceAlert,
    memory: AlertMemory,
    problem: { reason: string; message: string } | undefined,
    dispatcher: NotificationDispatcher,
  ): DesiredStatus {
    const key = memory.rule.key;
    const status = toStatus(memory.state, memory.rule, this.deps.clock.now(), {
      maxTargets: this.deps.maxStatusTargets ?? 50,
    });
    for (const target of status.targets) {
      if (!target.firingNotified) continue;
      const k = firingKeyOf({ ref: target, metric: target.metric });
      if ((memory.undelivered.get(k) ?? 0) > 0) target.firingNotified = false;
    }
    // Resolutions not yet delivered stay listed (as Normal, with resolvedAt), within the bound.
    const maxTargets = this.deps.maxStatusTargets ?? 50;
    const listed = new Set(status.targets.map((t) => firingKeyOf({ ref: t, metric: t.metric })));
    for (const [k, { transition: t }] of memory.undeliveredResolutions) {
      if (listed.has(k) || status.targets.length >= maxTargets) continue;
      status.targets.push({
        namespace: t.ref.namespace,
        pod: t.ref.pod,
        ...(t.ref.container !== undefined && { container: t.ref.container }),
        metric: t.metric,
        ...(t.value !== null && { value: formatQuantity(t.metric, t.value) }),
        ...(t.threshold !== null && { threshold: formatQuantity(t.metric, t.threshold) }),
        breaches: 0,
        healthy: 0,
        state: 'Normal',
        since: formatTime(t.firingSince),
        resolvedAt: formatTime(t.at),
      });
    }
    const conditions: DesiredCondition[] = [
      problem
        ? this.condition(alert, ConditionType.Ready, 'False', problem.reason, problem.message)
        : memory.config.suspend
          ? this.condition(
              alert,
              ConditionType.Ready,
              'True',
              Reason.Suspended,
              'evaluation is suspended (spec.suspend)',
            )
          : this.condition(
              alert,
              ConditionType.Ready,
              'True',
              Reason.Evaluating,
              `evaluating every collection of UsagePolicy ${memory.config.policyRef.name}`,
            ),
      ...status.conditions.map((c) => ({ ...c, ...this.generation(alert) })),
    ];
    this.evaluation.setCounts(memory, {
      Firing: status.firingTargets,
      Pending: status.pendingTargets,
      NoBasis: status.noBasisTargets,
    });
    const failures = dispatcher.failures(key);
    if (failures.length > 0)
      conditions.push({ ...notificationsCondition(failures), ...this.generation(alert) });
    const desired: DesiredStatus = {
      ...status,
      ...this.generation(alert),
      ...(failures.length > 0 && {
        notificationFailures: failures.reduce((n, f) => n + f.failedNotifications, 0),
      }),
      conditions,
    };
    // Evaluating alone is no change worth a write: keep the stored evaluation time unless
    // something else changed.
    const current = alert.status as Record<string, unknown> | undefined;
    if (current?.lastEvaluationTime && sameExceptEvaluationTime(current, desired)) {
      desired.lastEvaluationTime = current.lastEvaluationTime;
    }
    return desired;
  }

  /** Hands the recorded transitions to the notifiers, after their status was written. */
  private announce(
    dispatcher: NotificationDispatcher,
    key: ObjectKey,
    memory: AlertMemory,
    recorded: readonly Transition[],
  ): void {
    for (const transition of recorded) {
      // Delivered (or given up): the next write records it.
      const settled = () => {
        if (transition.kind === 'fired') countUndelivered(memory, firingKeyOf(transition), -1);
        else countUndeliveredResolution(memory, transition, -1);
        this.deps.enqueue(key);
      };
      dispatcher.enqueue(toNotification(memory.rule, transition), settled);
    }
    dispatcher.setFiring(key, firingNotifications(memory.rule, memory.state));
  }

  private notReady(alert: ResourceAlert, reason: string, message: string): DesiredStatus {
    return {
      ...this.generation(alert),
      conditions: [this.condition(alert, ConditionType.Ready, 'False', reason, message)],
    };
  }

  private generation(alert: ResourceAlert): { observedGeneration?: number } {
    return alert.metadata.generation !== undefined ? { observedGeneration: alert.metadata.generation } : {};
  }

  private condition(
    alert: ResourceAlert,
    type: string,
    status: 'True' | 'False' | 'Unknown',
    reason: string,
    message: string,
  ): DesiredCondition {
    return { type, status, reason, message, ...this.generation(alert) };
  }

  private async write(alert: ResourceAlert, desired: DesiredStatus, signal: AbortSignal): Promise<void> {
    await this.deps.status.write(alert as unknown as StatusObject, desired, signal);
  }
}

/** A target and metric, as AlertMemory.undelivered counts them. */
function firingKeyOf(t: {
  ref: { namespace: string; pod: string; container?: string };
  metric: string;
}): string {
  return `${targetKeyOf(t.ref.namespace, t.ref.pod, t.ref.container)}|${t.metric}`;
}

function countUndelivered(memory: AlertMemory, key: string, delta: number): void {
  const n = (memory.undelivered.get(key) ?? 0) + delta;
  if (n > 0) memory.undelivered.set(key, n);
  else memory.undelivered.delete(key);
}

function countUndeliveredResolution(memory: AlertMemory, t: Transition, delta: number): void {
  const key = firingKeyOf(t);
  const entry = memory.undeliveredResolutions.get(key);
  const count = (entry?.count ?? 0) + delta;
  if (count <= 0) memory.undeliveredResolutions.delete(key);
  else memory.undeliveredResolutions.set(key, { count, transition: delta > 0 ? t : entry!.transition });
}

function sameExceptEvaluationTime(current: Record<string, unknown>, desired: DesiredStatus): boolean {
  const strip = (s: Record<string, unknown>): unknown => {
    const {
      lastEvaluationTime: _t,
      conditions,
      ...rest
    } = JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
    const conds = Array.isArray(conditions)
      ? (conditions as Record<string, unknown>[]).map(({ lastTransitionTime: _l, ...c }) => c)
      : conditions;
    return { ...rest, conditions: conds };
  };
  return isDeepStrictEqual(strip(current), strip(desired));
}
