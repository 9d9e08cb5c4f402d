/**
 * One timer per UsagePolicy: runs its collection every interval, never two at once for a policy.
 * A tick that finds the previous run still going is skipped and counted. Leader-only: the
 * operator schedules policies while it leads and calls stop() when the term ends, which
 * waits until every run in flight has returned, so no run outlives its term.
 */
import type { Logger } from '../logging.js';
import { errorMessage } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import { objectRef, type ObjectKey } from '../model.js';
import type { Timers } from '../runtime/clock.js';

export interface ScheduleSpec {
  intervalMs: number;
  suspended: boolean;
}

/** One collection; must end soon after `signal` aborts (policy removed or suspended, leadership lost). */
export type CollectionRun = (signal: AbortSignal) => Promise<void>;

export interface CollectionSchedulerDeps {
  /** Clock and timers (systemTimers from operator/runtime/clock.ts in production). */
  timers: Timers;
  metrics: Pick<OperatorMetrics, 'collectionsSkipped'>;
  logger: Logger;
  /** In [0, 1); spreads first runs so that policies created together do not collect together. */
  random?: () => number;
  /** Upper bound on the delay before a new policy's first run. */
  firstRunMaxDelayMs?: number;
}

interface Entry {
  spec: ScheduleSpec;
  run: CollectionRun;
  timer?: unknown;
  /** When the pending timer fires, ms since epoch. */
  due?: number;
  /** When the last tick fired. */
  lastTick?: number;
  skipped: number;
}

export class CollectionScheduler {
  private readonly entries = new Map<ObjectKey, Entry>();
  /** Runs still going, kept past remove() so that a re-added policy does not overlap its old run. */
  private readonly inFlight = new Map<ObjectKey, { controller: AbortController; done: Promise<void> }>();
  private readonly random: () => number;
  private readonly firstRunMaxDelayMs: number;

  constructor(private readonly deps: CollectionSchedulerDeps) {
    this.random = deps.random ?? Math.random;
    this.firstRunMaxDelayMs = deps.firstRunMaxDelayMs ?? 5_000;
  }

  /**
   * Adds or updates a policy's schedule. `run` replaces the previous one from the next tick on.
   * A changed interval takes effect from the last tick; suspending stops the timer and aborts
   * the run in flight.
   */
  upsert(policy: ObjectKey, spec: ScheduleSpec, run: CollectionRun): void {
    if (!(spec.intervalMs > 0)) {
      throw new Error(`schedule of ${policy}: intervalMs must be > 0, got ${spec.intervalMs}`);
    }
    const existing = this.entries.get(policy);
    const entry: Entry = existing ?? { spec, run, skipped: 0 };
    const rearm =
      existing === undefined || existing.spec.intervalMs !== spec.intervalMs || entry.timer === undefined;
    entry.spec = spec;
    entry.run = run;
    this.entries.set(policy, entry);
    if (spec.suspended) {
      this.disarm(entry);
      this.inFlight.get(policy)?.controller.abort(new Error(`policy ${policy} suspended`));
      return;
    }
    if (rearm) this.arm(policy, entry, this.delayToNextTick(entry));
  }

  /** Forgets a policy: no more ticks, the run in flight is aborted. */
  remove(policy: ObjectKey): void {
    const entry = this.entries.get(policy);
    if (entry) this.disarm(entry);
    this.entries.delete(policy);
    this.inFlight.get(policy)?.controller.abort(new Error(`policy ${policy} removed`));
  }

  /**
   * Stops every schedule, aborts every run in flight and resolves once they have all returned
   * (leadership lost, shutdown). The scheduler can be used again afterwards.
   */
  async stop(): Promise<void> {
    for (const policy of [...this.entries.keys()]) this.remove(policy);
    const runs = [...this.inFlight.values()];
    for (const { controller } of runs) controller.abort(new Error('collection stopped'));
    await Promise.all(runs.map((run) => run.done));
  }

  /** Collections running now. */
  get running(): number {
    return this.inFlight.size;
  }

  /** Ticks of this policy skipped because its previous run was still going. */
  skippedCycles(policy: ObjectKey): number {
    return this.entries.get(policy)?.skipped ?? 0;
  }

  /** One interval after the last tick; for a policy never run, soon (jittered, bounded). */
  private delayToNextTick(entry: Entry): number {
    const now = this.deps.timers.now();
    if (entry.lastTick !== undefined) return Math.max(0, entry.lastTick + entry.spec.intervalMs - now);
    return Math.floor(this.random() * Math.min(entry.spec.intervalMs, this.firstRunMaxDelayMs));
  }

  private arm(policy: ObjectKey, entry: Entry, delayMs: number): void {
    this.disarm(entry);
    entry.due = this.deps.timers.now() + delayMs;
    entry.timer = this.deps.timers.setTimeout(() => this.tick(policy, entry), delayMs);
  }

  private disarm(entry: Entry): void {
    if (entry.timer !== undefined) this.deps.timers.clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.due = undefined;
  }

  private tick(policy: ObjectKey, entry: Entry): void {
    if (this.entries.get(policy) !== entry || entry.spec.suspended) return;
    const now = this.deps.timers.now();
    const interval = entry.spec.intervalMs;
    // Fixed rate from the due time, so timer lateness does not drift the schedule.
    const next = (entry.due ?? now) + interval;
    entry.lastTick = now;
    this.arm(policy, entry, next > now ? next - now : interval);
    if (this.inFlight.has(policy)) {
      entry.skipped++;
      this.deps.metrics.collectionsSkipped.inc({ policy });
      return;
    }
    this.start(policy, entry.run);
  }

  private start(policy: ObjectKey, run: CollectionRun): void {
    const controller = new AbortController();
    const done = (async () => {
      try {
        await run(controller.signal);
      } catch (err) {
        if (!controller.signal.aborted)
          this.deps.logger.error('collection run failed', { ...objectRef(policy), error: errorMessage(err) });
      } finally {
        this.inFlight.delete(policy);
      }
    })();
    this.inFlight.set(policy, { controller, done });
  }
}
