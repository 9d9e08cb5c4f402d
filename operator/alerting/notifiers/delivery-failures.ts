/**
 * Delivery trouble per alert and notifier, as the alert's NotificationsFailing condition and
 * its readiness show it: a notification given up or dropped marks the notifier as failing
 * for that alert until a later delivery through it succeeds; the count of such notifications
 * and the last error stay for as long as the alert is configured. Every change is reported
 * (`onChange`), so that the controller can update the alert's status.
 */
import { errorMessage, type Logger } from '../../logging.js';
import type { ObjectKey } from '../../model.js';
import type { Timers } from '../../runtime/clock.js';

/** Delivery trouble of one notifier of one alert. */
export interface NotifierFailure {
  notifier: string;
  /** The last notification through it was given up or dropped, and none has succeeded since. */
  failing: boolean;
  /** Notifications given up or dropped since the operator started. */
  failedNotifications: number;
  lastError: string;
  /** The class of the last error: "timeout", "HTTP 500", "destination forbidden", ... */
  lastErrorClass: string;
  /** With "destination forbidden": the class of address refused. */
  addressClass?: string;
  lastFailureTime: number;
}

export class DeliveryFailures {
  private readonly byAlert = new Map<ObjectKey, Map<string, NotifierFailure>>();

  constructor(
    private readonly deps: { timers: Timers; logger: Logger; onChange?: (alert: ObjectKey) => void },
  ) {}

  /** Notifiers of the alert that have failed since the operator started (failing or recovered). */
  of(alert: ObjectKey): NotifierFailure[] {
    return [...(this.byAlert.get(alert)?.values() ?? [])].map((f) => ({ ...f }));
  }

  /** A notification through the notifier was given up or dropped. */
  failed(alert: ObjectKey, notifier: string, error: string, errorClass: string, addressClass?: string): void {
    let perNotifier = this.byAlert.get(alert);
    if (!perNotifier) this.byAlert.set(alert, (perNotifier = new Map()));
    const previous = perNotifier.get(notifier);
    perNotifier.set(notifier, {
      notifier,
      failing: true,
      failedNotifications: (previous?.failedNotifications ?? 0) + 1,
      lastError: error,
      lastErrorClass: errorClass,
      ...(addressClass !== undefined && { addressClass }),
      lastFailureTime: this.deps.timers.now(),
    });
    this.changed(alert);
  }

  /** A delivery through the notifier succeeded: it is failing no more. */
  succeeded(alert: ObjectKey, notifier: string): void {
    const failure = this.byAlert.get(alert)?.get(notifier);
    if (!failure?.failing) return;
    failure.failing = false;
    this.deps.logger.info('notifications delivered again', { alert, notifier });
    this.changed(alert);
  }

  remove(alert: ObjectKey): void {
    this.byAlert.delete(alert);
  }

  private changed(alert: ObjectKey): void {
    try {
      this.deps.onChange?.(alert);
    } catch (err) {
      this.deps.logger.error('onFailureChange failed', { alert, error: errorMessage(err) });
    }
  }
}
