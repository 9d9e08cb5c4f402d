/**
 * Joins the scheduler and the collector for the UsagePolicy controller: each scheduled tick
 * collects the policy's latest target and then reports back, so that the controller writes
 * the new lastCollectionTime and conditions.
 */
import type { ObjectKey } from '../model.js';
import type { CollectionTarget, PolicyCollectionState, PolicyCollector } from './collector.js';
import type { CollectionScheduler, ScheduleSpec } from './schedule.js';

export class CollectionControl {
  private readonly targets = new Map<ObjectKey, CollectionTarget>();

  constructor(
    private readonly scheduler: CollectionScheduler,
    private readonly collector: PolicyCollector,
    /** Called after every cycle of a policy (e.g. to requeue it for a status update). */
    private readonly onCollected: (policy: ObjectKey) => void,
  ) {}

  /** Starts, updates or suspends a policy's schedule; ticks use the latest target given here. */
  schedule(policy: ObjectKey, spec: ScheduleSpec, target: CollectionTarget): void {
    this.targets.set(policy, target);
    this.scheduler.upsert(policy, spec, async (signal) => {
      const latest = this.targets.get(policy);
      if (!latest) return;
      await this.collector.collect(latest, signal);
      if (!signal.aborted) this.onCollected(policy);
    });
  }

  unschedule(policy: ObjectKey): void {
    this.targets.delete(policy);
    this.scheduler.remove(policy);
    this.collector.forget(policy);
  }

  state(policy: ObjectKey): PolicyCollectionState | undefined {
    return this.collector.state(policy);
  }

  stopAll(): void {
    this.scheduler.stopAll();
  }
}
