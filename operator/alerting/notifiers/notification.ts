/** What the notifiers deliver, and the boundary every notifier implements. */
import type { ObjectKey } from '../../model.js';
import { describeMetricState, describeTransition } from '../describe.js';
import type { Transition } from '../evaluator.js';
import { METRICS, type AlertRule, type Metric } from '../rule.js';
import type { AlertState, TargetRef } from '../state.js';

/** One announced transition of one target and metric. */
export interface Notification {
  /** The ResourceAlert, `namespace/name`. */
  alert: ObjectKey;
  /** The UsagePolicy it evaluates, `namespace/name`. */
  policy: ObjectKey;
  transition: 'fired' | 'resolved';
  target: TargetRef;
  metric: Metric;
  /** Millicores (cpu) or bytes (memory); null when the target had no data. */
  value: number | null;
  threshold: number | null;
  /** When the target started firing, ms since epoch. */
  startsAt: number;
  /** When it resolved (resolved only). */
  endsAt?: number;
  severity: string;
  message: string;
}

/** Delivers notifications to one receiver. Throws (preferably a DeliveryError) when it could not. */
export interface Notifier {
  /** Names the receiver in metrics, logs and conditions: `events`, `alertmanager`, `webhook`. */
  readonly name: string;
  /**
   * `local` (Kubernetes Events) deliveries have their own workers and never wait behind `http`
   * ones; `http` when absent.
   */
  readonly lane?: 'local' | 'http';
  /** The receiver, for the circuit breaker (one per receiver): e.g. `webhook https://hooks.example`. */
  readonly receiver?: string;
  send(notification: Notification, signal: AbortSignal): Promise<void>;
}

/** A receiver that forgets active alerts unless they are sent again periodically (Alertmanager). */
export interface RepeatingNotifier extends Notifier {
  /** Sends every still-firing alert again, in one call. */
  resend(firing: readonly Notification[], signal: AbortSignal): Promise<void>;
}

export function isRepeating(notifier: Notifier): notifier is RepeatingNotifier {
  return typeof (notifier as Partial<RepeatingNotifier>).resend === 'function';
}

/** A failed delivery; `retryable` is false when sending the same again cannot succeed (e.g. HTTP 400). */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** What went wrong, as a class for status conditions: "timeout", "HTTP 500", "destination forbidden". */
    readonly failureClass: string = 'delivery failed',
    /** With "destination forbidden": the class of address refused, e.g. "loopback". */
    readonly addressClass?: string,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** Re-sends of firing alerts happen this often; Alertmanager's default resolve_timeout is 5 minutes. */
export const DEFAULT_RESEND_INTERVAL_MS = 60_000;

export function toNotification(rule: AlertRule, transition: Transition): Notification {
  const notification: Notification = {
    alert: rule.key,
    policy: rule.policy,
    transition: transition.kind,
    target: transition.ref,
    metric: transition.metric,
    value: transition.value,
    threshold: transition.threshold,
    startsAt: transition.firingSince,
    severity: rule.severity,
    message: describeTransition(rule, transition),
  };
  if (transition.kind === 'resolved') notification.endsAt = transition.at;
  return notification;
}

/** The announced firings of an alert, for the dispatcher's periodic re-send (NotificationDispatcher.setFiring). */
export function firingNotifications(rule: AlertRule, state: AlertState): Notification[] {
  const firing: Notification[] = [];
  for (const entry of state.targets.values()) {
    for (const metric of METRICS) {
      const s = entry.metrics[metric];
      if (s?.state !== 'Firing' || !s.firingNotified) continue;
      firing.push({
        alert: rule.key,
        policy: rule.policy,
        transition: 'fired',
        target: entry.ref,
        metric,
        value: s.value,
        threshold: s.threshold,
        startsAt: s.since,
        severity: rule.severity,
        message: describeMetricState(rule, entry.ref, metric, s),
      });
    }
  }
  return firing;
}
