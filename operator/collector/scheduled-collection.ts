/**
 * Joins the scheduler and the collector for the UsagePolicy controller: each scheduled tick
 * collects the policy's latest target and then reports back, so that the controller writes
 * the new lastCollectionTime and conditions. A leader-only runnable: stopping it (end of a
 * term) stops every schedule and waits until the collections in flight have returned.
 */
import type { ObjectKey } from '../model.js';
import type { CollectionTarget, PolicyCollectionState, PolicyCollector } from './collector.js';
import type { CollectionScheduler, ScheduleSpec } from './schedule.js';

export class ScheduledCollection {
  readonly name = 'collection';
  readonly needsLeadership = true;
  private readonly targets = new Map<ObjectKey, CollectionTarget>();
  private readonly listeners: ((policy: ObjectKey) => void)[] = [];
  private running = false;

  /**
   * @param termStarts others that continue from the store at each term's start (e.g. the agents'
   *   I/O bases, sources/agent/agent-io.ts)
   */
  constructor(
    private readonly scheduler: CollectionScheduler,
    private readonly collector: PolicyCollector,
    private readonly termStarts: readonly { beginTerm(): void }[] = [],
  ) {}

  /** Calls `listener` after every completed cycle of a policy (e.g. to requeue it for a status update). */
  onCollected(listener: (policy: ObjectKey) => void): void {
    this.listeners.push(listener);
  }

  /** A new term: the series cursors (and the others') continue from the store's last readings. */
  start(): void {
    this.collector.beginTerm();
    for (const other of this.termStarts) other.beginTerm();
    this.running = true;
  }

  /** Ends the term's collection: no more ticks; resolves when the runs in flight have returned. */
  async stop(): Promise<void> {
    this.running = false;
    this.targets.clear();
    await this.scheduler.stop();
  }

  /** Starts, updates or suspends a policy's schedule; ticks use the latest target given here. */
  schedule(policy: ObjectKey, spec: ScheduleSpec, target: CollectionTarget): void {
    if (!this.running) return;
    this.targets.set(policy, target);
    this.collector.setTarget(target);
    this.scheduler.upsert(policy, spec, async (signal) => {
      const latest = this.targets.get(policy);
      if (!latest) return;
      await this.collector.collect(latest, signal);
      if (!signal.aborted) for (const listener of this.listeners) listener(policy);
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
}
