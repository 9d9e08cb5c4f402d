/**
 * What the {@link Manager} runs: informer caches and HTTP on every replica, controllers,
 * collection and retention only during a leadership term. Each runnable says which it is.
 */
import type { LeadershipTerm } from './leader-election.js';

/** A term of leadership as the runnables see it; see {@link LeadershipTerm}. */
export type Term = LeadershipTerm;

export interface RunContext {
  /** The leadership term this start belongs to; undefined for runnables that need none. */
  readonly term: Term | undefined;
}

export interface Runnable {
  /** Names the runnable in logs. */
  readonly name: string;
  /**
   * True: started at the beginning of every leadership term and stopped at its end (so it
   * must be startable again after a stop); false: runs on every replica, whether it leads.
   */
  readonly needsLeadership: boolean;
  /** Starts the work and returns once it runs. */
  start(context: RunContext): Promise<void> | void;
  /** Stops the work and resolves once everything it started has finished. */
  stop(): Promise<void>;
}

/** A cache that must be synced before the replica competes for the lease (an informer). */
export interface SyncedCache {
  readonly hasSynced: boolean;
  start(): void;
  stop(): Promise<void>;
  /** True once synced; false when `signal` aborts first. */
  waitForSync(signal: AbortSignal): Promise<boolean>;
}
