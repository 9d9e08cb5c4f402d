/**
 * Firing alerts, re-sent: receivers such as Alertmanager forget an alert that is not sent
 * again, so the dispatcher re-sends every alert's announced firings to its repeating notifiers
 * every `intervalMs`. This module keeps those firings (a `fired` notification adds its target
 * and metric, a `resolved` one removes it, setFiring replaces them with what the evaluation
 * holds) and runs the timer; what a re-send delivers is the dispatcher's.
 */
import type { ObjectKey } from '../../model.js';
import type { TimerHandle, Timers } from '../../runtime/clock.js';
import { targetKey } from '../state.js';
import type { Notification } from './notification.js';

export class FiringResends {
  private readonly firing = new Map<ObjectKey, Map<string, Notification>>();
  private timer?: TimerHandle;
  private stopped = false;

  constructor(
    private readonly timers: Timers,
    private readonly intervalMs: number,
    /** Called every intervalMs with each alert's firings (none for an alert with none). */
    private readonly resend: (alert: ObjectKey, firing: readonly Notification[]) => void,
  ) {
    this.schedule();
  }

  /** A notification was announced: its target fires, or no longer does. */
  record(notification: Notification): void {
    const firing = this.firing.get(notification.alert) ?? new Map<string, Notification>();
    this.firing.set(notification.alert, firing);
    const key = firingKey(notification);
    if (notification.transition === 'fired') firing.set(key, notification);
    else firing.delete(key);
  }

  /** The alert's announced firings, replacing what was recorded. */
  set(alert: ObjectKey, firing: readonly Notification[]): void {
    this.firing.set(alert, new Map(firing.map((n) => [firingKey(n), n])));
  }

  remove(alert: ObjectKey): void {
    this.firing.delete(alert);
  }

  /** No more re-sends. */
  stop(): void {
    this.stopped = true;
    this.timers.clearTimeout(this.timer);
  }

  private schedule(): void {
    this.timer = this.timers.setTimeout(() => {
      for (const [alert, firing] of this.firing) {
        if (firing.size > 0) this.resend(alert, [...firing.values()]);
      }
      if (!this.stopped) this.schedule();
    }, this.intervalMs);
  }
}

function firingKey(n: Notification): string {
  return `${targetKey(n.target)}|${n.metric}`;
}
