/** Kubernetes Events on the ResourceAlert for each announced transition. */
import type { Notification, Notifier } from './notification.js';

/** The object an Event is about. */
export interface EventObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

/**
 * Records Events. The runtime's EventRecorder fits as it is: it aggregates repeated Events
 * (same object, reason and message) into one with a count and rate-limits per object, as
 * client-go's recorder does. A rejected promise is a failed delivery (retried).
 */
export interface TransitionEventRecorder {
  record(
    object: EventObjectRef,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): void | Promise<void>;
}

export const EVENT_REASONS = { fired: 'AlertFiring', resolved: 'AlertResolved' } as const;

export class EventsNotifier implements Notifier {
  readonly name = 'events';
  readonly lane = 'local';
  readonly receiver = 'events';

  constructor(
    private readonly recorder: TransitionEventRecorder,
    private readonly object: EventObjectRef,
  ) {}

  async send(n: Notification): Promise<void> {
    const type = n.transition === 'fired' ? 'Warning' : 'Normal';
    await this.recorder.record(this.object, type, EVENT_REASONS[n.transition], n.message);
  }
}
