/**
 * The ResourceAlert reconcile: reads the cached alert and its evaluation in the alert
 * pipeline (operator/alerting/pipeline.ts), computes the desired status (the pipeline's
 * status of the alert's targets, Ready from the alert's readiness, NotificationsFailing from
 * its deliveries), writes the difference, and only then reports the write to the pipeline,
 * which hands the transitions that status records to the notifiers. The transitions announced
 * are exactly those taken when the status was computed.
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
 * SIGKILL itself there (test/harness/operator-kill-hook.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import { ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { normalizeResourceAlert } from '../../api/v1alpha1/normalize.js';
import type { ResourceAlert } from '../../api/v1alpha1/resourcealert.js';
import type { UsagePolicy } from '../../api/v1alpha1/usagepolicy.js';
import { formatFieldErrors } from '../../api/v1alpha1/validation.js';
import type { Transition } from '../../operator/alerting/evaluator.js';
import type { AlertEvaluation, AlertStateReader, ReadinessProblem } from '../../operator/alerting/index.js';
import { notificationsCondition, type AlertStatus } from '../../operator/alerting/status.js';
import { objectKey, objectRef, type ObjectKey } from '../../operator/model.js';
import type { ReconcileResult } from '../../operator/runtime/controller.js';
import type {
  DesiredCondition,
  DesiredStatus,
  StatusObject,
  StatusSink,
} from '../../operator/runtime/status-writer.js';
import { alertQuotaProblem, type AdminBounds } from '../admin-bounds.js';

export interface ResourceAlertCaches {
  alert(namespace: string, name: string): ResourceAlert | undefined;
  alerts(namespace?: string): readonly ResourceAlert[];
  policy(namespace: string, name: string): UsagePolicy | undefined;
}

export interface ResourceAlertReconcilerDeps {
  caches: ResourceAlertCaches;
  status: StatusSink;
  /** The alerts' evaluation and notifications (the reconcile reads it and reports its writes). */
  pipeline: AlertStateReader;
  maxStatusTargets?: number;
  /** Called after a status write and before its transitions are announced (a test hook). */
  afterStatusWrite?: (key: ObjectKey, recorded: readonly Transition[]) => void;
  /** The admin's bound on ResourceAlerts per namespace; unbounded when absent. */
  bounds?: Pick<AdminBounds, 'maxAlertsPerNamespace'>;
}

export class ResourceAlertReconciler {
  constructor(private readonly deps: ResourceAlertReconcilerDeps) {}

  /** Keys of the alerts that reference a policy (to requeue them when the policy changes). */
  alertsOf(policy: ObjectKey): ObjectKey[] {
    const { namespace, name } = objectRef(policy);
    return this.deps.caches
      .alerts(namespace)
      .filter((a) => a.spec?.policyRef?.name === name)
      .map((a) => objectKey(a.metadata.namespace, a.metadata.name));
  }

  reconcile = async (key: string, signal: AbortSignal): Promise<ReconcileResult | void> => {
    const { pipeline } = this.deps;
    if (!pipeline.inTerm) return;
    const { namespace, name } = objectRef(key);
    const alert = this.deps.caches.alert(namespace, name);
    if (!alert) {
      pipeline.release(key);
      return;
    }
    const normalized = normalizeResourceAlert(alert);
    if (!normalized.ok) {
      pipeline.release(key);
      const message = `invalid spec: ${formatFieldErrors(normalized.errors)}`;
      await this.write(alert, this.notReady(alert, Reason.InvalidSpec, message), signal);
      return;
    }
    const overQuota =
      this.deps.bounds && alertQuotaProblem(alert, this.deps.caches.alerts(namespace), this.deps.bounds);
    if (overQuota) {
      pipeline.release(key);
      await this.write(alert, this.notReady(alert, overQuota.reason, overQuota.message), signal);
      return;
    }
    const evaluation = pipeline.evaluationOf(key, alert);
    if (!evaluation) return;
    const policyRef = objectRef(evaluation.rule.policy);
    const policy = this.deps.caches.policy(policyRef.namespace, policyRef.name);
    const problem = await pipeline.readiness(alert, evaluation, policy);

    // The transitions this status records: only these are announced after the write. Their
    // firings are stored as not notified until the dispatcher settles them.
    const pending = pipeline.nextStatus(key, { maxTargets: this.deps.maxStatusTargets ?? 50 });
    if (!pending) return;
    const desired = this.desiredStatus(alert, evaluation, pending.status, problem);
    try {
      await this.write(alert, desired, signal);
    } catch (err) {
      pending.notWritten();
      throw err;
    }
    if (signal.aborted) {
      // The term ended: the write may or may not have happened; the next term resumes from
      // the stored status, where these firings are not notified: it announces them.
      return;
    }
    this.deps.afterStatusWrite?.(key, pending.transitions);
    pending.written();
  };

  private desiredStatus(
    alert: ResourceAlert,
    evaluation: AlertEvaluation,
    status: AlertStatus,
    problem: ReadinessProblem | undefined,
  ): DesiredStatus {
    const conditions: DesiredCondition[] = [
      problem
        ? this.condition(alert, ConditionType.Ready, 'False', problem.reason, problem.message)
        : evaluation.config.suspend
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
              `evaluating every collection of UsagePolicy ${evaluation.config.policyRef.name}`,
            ),
      ...status.conditions.map((c) => ({ ...c, ...this.generation(alert) })),
    ];
    const failures = this.deps.pipeline.failures(evaluation.rule.key);
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
