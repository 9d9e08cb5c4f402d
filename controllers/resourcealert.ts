/**
 * The ResourceAlert controller. After every collection cycle of a policy, the alerts that
 * reference it are evaluated in memory (a pure state machine) and queued; the reconcile of an
 * alert writes its status and only then hands its transitions to the notifiers, so a
 * transition whose announcement is recorded in status is never announced twice. State
 * resumes from status after a restart or failover.
 */
import { isDeepStrictEqual } from 'node:util';
import { ConditionType } from '../api/v1alpha1/conditions.js';
import { labelSelectorMatches } from '../api/v1alpha1/labels.js';
import { normalizeResourceAlert, type ResourceAlertConfig } from '../api/v1alpha1/normalize.js';
import type { ResourceAlert } from '../api/v1alpha1/resourcealert.js';
import { API_VERSION } from '../api/v1alpha1/schema-helpers.js';
import { formatFieldErrors } from '../api/v1alpha1/validation.js';
import { evaluate, type Transition } from '../operator/alerting/evaluator.js';
import {
  AlertmanagerNotifier,
  type AlertmanagerTargets,
} from '../operator/alerting/notifiers/alertmanager.js';
import { DestinationPolicy } from '../operator/alerting/notifiers/destination-policy.js';
import type { NotificationDispatcher } from '../operator/alerting/notifiers/dispatcher.js';
import { EventsNotifier, type TransitionEventRecorder } from '../operator/alerting/notifiers/events.js';
import {
  firingNotifications,
  toNotification,
  type Notifier,
} from '../operator/alerting/notifiers/notification.js';
import {
  unusableSecretMessage,
  WebhookNotifier,
  type SecretReader,
} from '../operator/alerting/notifiers/webhook.js';
import type { AlertRule } from '../operator/alerting/rule.js';
import { emptyAlertState, type AlertState } from '../operator/alerting/state.js';
import { fromStatus, notificationsCondition, toStatus } from '../operator/alerting/status.js';
import type { CycleSink } from '../operator/collector/collector.js';
import type { Logger } from '../operator/logging.js';
import { errorMessage } from '../operator/logging.js';
import type { OperatorMetrics } from '../operator/metrics.js';
import { objectKey, objectRef, type Clock, type CollectionCycle, type ObjectKey } from '../operator/model.js';
import type { ReconcileResult } from '../operator/runtime/controller.js';
import type { DesiredCondition, DesiredStatus, StatusObject } from '../operator/runtime/status-writer.js';
import type { StatusSink } from './usagepolicy.js';

export interface ResourceAlertCaches {
  alert(namespace: string, name: string): ResourceAlert | undefined;
  alerts(namespace?: string): readonly ResourceAlert[];
  /** Whether the named UsagePolicy exists and collects (valid, allowed, not suspended). */
  policyCollects(policy: ObjectKey): boolean;
  policyExists(policy: ObjectKey): boolean;
}

/** Published for the HTTP API's live stream. */
export interface AlertTransitionListener {
  (alert: ObjectKey, transition: Transition, rule: AlertRule): void;
}

export interface ResourceAlertControllerDeps {
  caches: ResourceAlertCaches;
  status: StatusSink;
  dispatcher: NotificationDispatcher;
  events: TransitionEventRecorder;
  secrets: SecretReader;
  /** Queues an alert's key for reconcile. */
  enqueue: (key: ObjectKey) => void;
  clock: Clock;
  logger: Logger;
  metrics: Pick<OperatorMetrics, 'alertTransitions' | 'alertsByState'>;
  onTransition?: AlertTransitionListener;
  maxStatusTargets?: number;
  /** Where tenant webhooks may connect; refuses in-cluster and private destinations by default. */
  destinations?: DestinationPolicy;
  /** The operator's Alertmanagers (configured by the admin); alerts opt in. */
  alertmanager?: AlertmanagerTargets;
}

export const REASONS = {
  evaluating: 'Evaluating',
  suspended: 'Suspended',
  invalidSpec: 'InvalidSpec',
  policyNotFound: 'PolicyNotFound',
  policyNotCollecting: 'PolicyNotCollecting',
  webhookSecretUnavailable: 'WebhookSecretUnavailable',
  destinationForbidden: 'DestinationForbidden',
  alertmanagerNotConfigured: 'AlertmanagerNotConfigured',
} as const;

interface AlertMemory {
  /** The spec generation the rule and notifiers were built from. */
  generation: number | undefined;
  config: ResourceAlertConfig;
  rule: AlertRule;
  state: AlertState;
  /** Transitions evaluated but not yet handed to the notifiers (after the next status write). */
  unannounced: Transition[];
  /** Targets per state at the last status computation, for the alert gauges. */
  counts?: { Firing: number; Pending: number; NoBasis: number };
}

function ruleOf(key: ObjectKey, namespace: string, config: ResourceAlertConfig): AlertRule {
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

export class ResourceAlertController implements CycleSink {
  private readonly memory = new Map<ObjectKey, AlertMemory>();

  constructor(private readonly deps: ResourceAlertControllerDeps) {}

  /** Evaluates every alert on the cycle's policy; reconciles write status, then notify. */
  onCycle(cycle: CollectionCycle): void {
    const { namespace, name } = objectRef(cycle.policy);
    const now = this.deps.clock.now();
    for (const alert of this.deps.caches.alerts(namespace)) {
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

  /** Keys of the alerts that reference a policy (to requeue them when the policy changes). */
  alertsOf(policy: ObjectKey): ObjectKey[] {
    const { namespace, name } = objectRef(policy);
    return this.deps.caches
      .alerts(namespace)
      .filter((a) => a.spec?.policyRef?.name === name)
      .map((a) => objectKey(a.metadata.namespace, a.metadata.name));
  }

  reconcile = async (key: string, signal: AbortSignal): Promise<ReconcileResult | void> => {
    const { namespace, name } = objectRef(key);
    const alert = this.deps.caches.alert(namespace, name);
    if (!alert) {
      this.memory.delete(key);
      this.deps.dispatcher.remove(key);
      this.updateGauges();
      return;
    }
    const normalized = normalizeResourceAlert(alert);
    if (!normalized.ok) {
      this.memory.delete(key);
      this.deps.dispatcher.remove(key);
      await this.write(
        alert,
        this.notReady(alert, REASONS.invalidSpec, `invalid spec: ${formatFieldErrors(normalized.errors)}`),
        signal,
      );
      return;
    }
    const memory = this.memoryOf(key, alert);
    if (!memory) return;
    const policy = memory.rule.policy;
    const problem = await this.readinessProblem(alert, memory.config, policy);

    const status = toStatus(memory.state, memory.rule, this.deps.clock.now(), {
      maxTargets: this.deps.maxStatusTargets ?? 50,
    });
    const conditions: DesiredCondition[] = [
      problem
        ? this.condition(alert, ConditionType.Ready, 'False', problem.reason, problem.message)
        : memory.config.suspend
          ? this.condition(
              alert,
              ConditionType.Ready,
              'True',
              REASONS.suspended,
              'evaluation is suspended (spec.suspend)',
            )
          : this.condition(
              alert,
              ConditionType.Ready,
              'True',
              REASONS.evaluating,
              `evaluating every collection of UsagePolicy ${memory.config.policyRef.name}`,
            ),
      ...status.conditions.map((c) => ({ ...c, ...this.generation(alert) })),
    ];
    memory.counts = {
      Firing: status.firingTargets,
      Pending: status.pendingTargets,
      NoBasis: status.noBasisTargets,
    };
    this.updateGauges();
    const failures = this.deps.dispatcher.failures(key);
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
    await this.write(alert, desired, signal);
    if (signal.aborted) return;
    this.announce(key, memory);
  };

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

  /** Hands the evaluated transitions to the notifiers, after their status was written. */
  private announce(key: ObjectKey, memory: AlertMemory): void {
    for (const transition of memory.unannounced.splice(0)) {
      this.deps.dispatcher.enqueue(toNotification(memory.rule, transition));
    }
    this.deps.dispatcher.setFiring(key, firingNotifications(memory.rule, memory.state));
  }

  /** The alert's memory, (re)built when its spec changed; resumes from status when first seen. */
  private memoryOf(key: ObjectKey, alert: ResourceAlert): AlertMemory | undefined {
    const existing = this.memory.get(key);
    const generation = alert.metadata.generation;
    if (existing && existing.generation === generation) return existing;
    const normalized = normalizeResourceAlert(alert);
    if (!normalized.ok) return undefined;
    const config = normalized.config;
    let state = existing?.state;
    if (!state) {
      try {
        state = alert.status?.targets
          ? fromStatus(alert.status as Parameters<typeof fromStatus>[0])
          : emptyAlertState();
      } catch (err) {
        this.deps.logger.warn('alert status not resumable; counting from zero', {
          ...objectRef(key),
          error: errorMessage(err),
        });
        state = emptyAlertState();
      }
    }
    const memory: AlertMemory = {
      generation,
      config,
      rule: ruleOf(key, alert.metadata.namespace, config),
      state,
      unannounced: existing?.unannounced ?? [],
    };
    this.memory.set(key, memory);
    this.deps.dispatcher.configure(key, this.notifiers(alert, config));
    return memory;
  }

  private notifiers(alert: ResourceAlert, config: ResourceAlertConfig): Notifier[] {
    const notifiers: Notifier[] = [];
    const { namespace, name, uid } = alert.metadata;
    if (config.notify.events) {
      notifiers.push(
        new EventsNotifier(this.deps.events, {
          apiVersion: API_VERSION,
          kind: 'ResourceAlert',
          namespace,
          name,
          ...(uid && { uid }),
        }),
      );
    }
    const targets = this.deps.alertmanager;
    if (config.notify.alertmanager && targets && targets.urls.length > 0) {
      notifiers.push(
        new AlertmanagerNotifier({
          targets,
          labels: config.notify.alertmanager.labels,
          clock: this.deps.clock,
        }),
      );
    }
    const webhook = config.notify.webhook;
    if (webhook) {
      const secret = (ref: { name: string; key: string }) => ({
        secrets: this.deps.secrets,
        ref: { namespace, ...ref },
      });
      const url = webhook.urlSecretRef ? secret(webhook.urlSecretRef) : webhook.url;
      if (url !== undefined)
        notifiers.push(
          new WebhookNotifier({
            url,
            policy: this.destinations,
            ...(webhook.secretRef && { token: secret(webhook.secretRef) }),
          }),
        );
    }
    return notifiers;
  }

  private async readinessProblem(
    alert: ResourceAlert,
    config: ResourceAlertConfig,
    policy: ObjectKey,
  ): Promise<{ reason: string; message: string } | undefined> {
    const policyName = config.policyRef.name;
    if (!this.deps.caches.policyExists(policy)) {
      return {
        reason: REASONS.policyNotFound,
        message: `spec.policyRef: UsagePolicy "${policyName}" does not exist in namespace "${alert.metadata.namespace}"`,
      };
    }
    if (!this.deps.caches.policyCollects(policy)) {
      return {
        reason: REASONS.policyNotCollecting,
        message: `UsagePolicy "${policyName}" is not collecting (see its Ready condition); nothing to evaluate`,
      };
    }
    if (config.notify.alertmanager && !(this.deps.alertmanager && this.deps.alertmanager.urls.length > 0)) {
      return {
        reason: REASONS.alertmanagerNotConfigured,
        message:
          'spec.notify.alertmanager: this operator has no Alertmanager configured; ask the cluster admin to set --alertmanager-url, or remove spec.notify.alertmanager',
      };
    }
    const webhook = config.notify.webhook;
    if (webhook) {
      const readable = async (field: string, ref: { name: string; key: string }) => {
        try {
          const value = (await this.deps.secrets.read(alert.metadata.namespace, ref.name, ref.key)).trim();
          if (value !== '') return { value };
        } catch {
          // One message whatever is missing (below).
        }
        return {
          problem: { reason: REASONS.webhookSecretUnavailable, message: unusableSecretMessage(field, ref) },
        };
      };
      let url = webhook.url;
      let urlField = 'spec.notify.webhook.url';
      if (webhook.urlSecretRef) {
        const read = await readable('spec.notify.webhook.urlSecretRef', webhook.urlSecretRef);
        if (read.problem) return read.problem;
        url = read.value;
        urlField = 'spec.notify.webhook.urlSecretRef';
        let parsed: URL | undefined;
        try {
          parsed = new URL(url);
        } catch {
          parsed = undefined;
        }
        if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.hostname === '') {
          return {
            reason: REASONS.invalidSpec,
            message: `${urlField}: the Secret's value must be an http:// or https:// URL with a host`,
          };
        }
      }
      if (webhook.secretRef) {
        const read = await readable('spec.notify.webhook.secretRef', webhook.secretRef);
        if (read.problem) return read.problem;
      }
      const forbidden = url === undefined ? undefined : await this.destinationProblem(url);
      const failed = this.deps.dispatcher
        .failures(objectKey(alert.metadata.namespace, alert.metadata.name))
        .find((f) => f.notifier === 'webhook' && f.failing && f.lastErrorClass === 'destination forbidden');
      const addressClass = forbidden ?? failed?.addressClass;
      if (addressClass !== undefined) {
        return { reason: REASONS.destinationForbidden, message: destinationMessage(urlField, addressClass) };
      }
    }
    return undefined;
  }

  private get destinations(): DestinationPolicy {
    return (this.deps.destinations ??= new DestinationPolicy());
  }

  /** The refused class of the URL's destination now (its name, or what it resolves to). */
  private async destinationProblem(url: string): Promise<string | undefined> {
    let host: string;
    try {
      host = new URL(url).hostname;
    } catch {
      return undefined;
    }
    if (host.startsWith('[')) host = host.slice(1, -1);
    return this.destinations.check(host);
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

function destinationMessage(field: string, addressClass: string): string {
  const what = addressClass === 'in-cluster name' ? 'an in-cluster name' : `a ${addressClass} address`;
  return (
    `${field}: the webhook's destination is ${what}, which ResourceAlerts may not send to; ` +
    "use a receiver reachable on a public address, or ask the operator's admin to allow this destination (--webhook-allow)"
  );
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
