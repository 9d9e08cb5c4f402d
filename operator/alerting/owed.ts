/**
 * Notifications owed to the receivers: transitions whose status has been written (and which
 * were then handed to the dispatcher) that are not yet delivered or given up, per target and
 * metric. The status shows them, so that a process killed before their delivery announces
 * them again after its restart: an owed firing is written with `firingNotified: false` (the
 * next process announces it on its next evaluation); an owed resolution stays listed as a
 * Normal entry with `resolvedAt` (the next process announces it as soon as it reads the
 * status: owedResolutions in resume.ts).
 */
import type { Transition } from './evaluator.js';
import { formatQuantity, formatTime } from './format.js';
import { targetKeyOf } from './state.js';
import type { AlertStatus } from './status.js';

/** A target and metric, as the owed notifications are counted. */
export function firingKeyOf(t: {
  ref: { namespace: string; pod: string; container?: string };
  metric: string;
}): string {
  return `${targetKeyOf(t.ref.namespace, t.ref.pod, t.ref.container)}|${t.metric}`;
}

export class OwedNotifications {
  private readonly firings = new Map<string, number>();
  /** With the last resolution of each target and metric (the one status lists). */
  private readonly resolutions = new Map<string, { count: number; transition: Transition }>();

  /** `delta` 1: the transition is recorded in a status being written; -1: settled, or that write failed. */
  count(t: Transition, delta: 1 | -1): void {
    const key = firingKeyOf(t);
    if (t.kind === 'fired') {
      const n = (this.firings.get(key) ?? 0) + delta;
      if (n > 0) this.firings.set(key, n);
      else this.firings.delete(key);
    } else {
      const entry = this.resolutions.get(key);
      const count = (entry?.count ?? 0) + delta;
      if (count <= 0) this.resolutions.delete(key);
      else this.resolutions.set(key, { count, transition: delta > 0 ? t : entry!.transition });
    }
  }

  /**
   * Shows what is owed in a status computed from the state: owed firings as not notified,
   * owed resolutions listed (as Normal, with resolvedAt) within `maxTargets` entries.
   */
  showIn(status: AlertStatus, maxTargets: number): void {
    for (const target of status.targets) {
      if (!target.firingNotified) continue;
      const k = firingKeyOf({ ref: target, metric: target.metric });
      if ((this.firings.get(k) ?? 0) > 0) target.firingNotified = false;
    }
    const listed = new Set(status.targets.map((t) => firingKeyOf({ ref: t, metric: t.metric })));
    for (const [k, { transition: t }] of this.resolutions) {
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
  }
}
