/**
 * The process's lifecycle, in the manner of controller-runtime's manager: caches (informers)
 * and the runnables that need no leadership start on every replica; once every cache has
 * synced, the replica competes for the lease; each term of leadership starts the leader-only
 * runnables in the order they were added and, when it ends, stops them in reverse order and
 * waits (bounded) for everything they started before the replica competes again or releases
 * the lease. stop() always returns within its bounds, with the lease released when held.
 */
import { errorMessage, type Logger } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import { systemTimers, withTimeout, type Timers } from './clock.js';
import { LeaderElector, type LeaderElectionTiming, type LeaseClient } from './leader-election.js';
import type { Runnable, SyncedCache, Term } from './runnable.js';

export type { RunContext, Runnable, SyncedCache, Term } from './runnable.js';

export interface ManagerLeaderElection extends LeaderElectionTiming {
  identity: string;
  lease: LeaseClient;
}

export interface ManagerOptions {
  logger: Logger;
  /** Compete for this lease; without it the replica leads alone, in one term (token 0). */
  leaderElection?: ManagerLeaderElection;
  /** Bound on stopping one term's runnables. Default 10 s. */
  termStopTimeoutMs?: number;
  /** Bound on releasing the lease at stop. Default the renew deadline. */
  releaseTimeoutMs?: number;
  timers?: Timers;
  random?: () => number;
  metrics?: Pick<OperatorMetrics, 'isLeader'>;
}

export class Manager {
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly caches: SyncedCache[] = [];
  private readonly everywhere: Runnable[] = [];
  private readonly leaderOnly: Runnable[] = [];
  private readonly stopping = new AbortController();
  private readonly elector?: LeaderElector;
  /** The term of a replica without leader election. */
  private soleTerm?: { controller: AbortController; work: Promise<void> };
  private current?: Term;
  private started = false;
  private competing?: Promise<void>;
  private startedEverywhere: Runnable[] = [];

  constructor(private readonly options: ManagerOptions) {
    this.logger = options.logger.child({ component: 'manager' });
    this.timers = options.timers ?? systemTimers;
    const election = options.leaderElection;
    if (election) {
      this.elector = new LeaderElector({
        ...election,
        logger: options.logger,
        timers: this.timers,
        random: options.random,
        metrics: options.metrics,
        releaseTimeoutMs: options.releaseTimeoutMs,
        onStartedLeading: (term) => this.lead(term),
      });
    }
  }

  /** A cache every replica keeps; the replica competes for the lease once all have synced. */
  addCache(cache: SyncedCache): this {
    this.caches.push(cache);
    return this;
  }

  /** A runnable; leader-only ones start with each term in the order added and stop in reverse. */
  add(runnable: Runnable): this {
    (runnable.needsLeadership ? this.leaderOnly : this.everywhere).push(runnable);
    return this;
  }

  get cachesSynced(): boolean {
    return this.caches.every((cache) => cache.hasSynced);
  }

  get isLeader(): boolean {
    return this.current !== undefined;
  }

  /** The term this replica leads in now, with its signal and fencing token; undefined otherwise. */
  get term(): Term | undefined {
    return this.current;
  }

  /**
   * Starts the caches and the runnables that need no leadership (returns once they run), then,
   * in the background, waits for the caches to sync and competes for the lease.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('manager already started');
    this.started = true;
    for (const cache of this.caches) cache.start();
    for (const runnable of this.everywhere) {
      await runnable.start({ term: undefined });
      this.startedEverywhere.push(runnable);
    }
    this.competing = this.compete();
  }

  /**
   * Stops everything: the wait for the caches (it may never end, e.g. a CRD is not installed),
   * the current term (its runnables in reverse order, bounded), then releases the lease, stops
   * the runnables that need no leadership (in reverse order) and the caches.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.competing;
    if (this.elector) await this.elector.stop();
    else if (this.soleTerm) {
      this.soleTerm.controller.abort();
      await this.soleTerm.work;
    }
    for (const runnable of this.startedEverywhere.reverse()) {
      await runnable
        .stop()
        .catch((err: unknown) =>
          this.logger.warn('stopping failed', { runnable: runnable.name, error: errorMessage(err) }),
        );
    }
    await Promise.all(this.caches.map((cache) => cache.stop()));
  }

  private async compete(): Promise<void> {
    const signal = this.stopping.signal;
    const synced = await Promise.all(this.caches.map((cache) => cache.waitForSync(signal)));
    if (signal.aborted || !synced.every(Boolean)) {
      this.logger.info('stopped before the caches synced; never competed for the lease');
      return;
    }
    this.logger.info('caches synced', { caches: this.caches.length });
    if (this.elector) {
      this.elector.start();
      return;
    }
    const controller = new AbortController();
    this.options.metrics?.isLeader.set(1);
    this.soleTerm = { controller, work: this.lead({ signal: controller.signal, fencingToken: 0 }) };
  }

  /** One term: start the leader-only runnables, wait for the term to end, stop them (bounded). */
  private async lead(term: Term): Promise<void> {
    this.current = term;
    const started: Runnable[] = [];
    try {
      for (const runnable of this.leaderOnly) {
        if (term.signal.aborted) break;
        try {
          await runnable.start({ term });
          started.push(runnable);
        } catch (err) {
          this.logger.error('a leader runnable failed to start', {
            runnable: runnable.name,
            error: errorMessage(err),
          });
        }
      }
      if (!term.signal.aborted) {
        this.logger.info('leading', {
          fencingToken: term.fencingToken,
          runnables: started.map((r) => r.name),
        });
        await new Promise<void>((resolve) =>
          term.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
    } finally {
      if (this.current === term) this.current = undefined;
      if (!this.elector) this.options.metrics?.isLeader.set(0);
      await this.stopTerm(term, started.reverse());
    }
  }

  private async stopTerm(term: Term, runnables: Runnable[]): Promise<void> {
    const timeoutMs = this.options.termStopTimeoutMs ?? 10_000;
    let stopping: string | undefined;
    try {
      await withTimeout(this.timers, timeoutMs, 'stopping the term', async () => {
        for (const runnable of runnables) {
          stopping = runnable.name;
          await runnable
            .stop()
            .catch((err: unknown) =>
              this.logger.warn('stopping failed', { runnable: runnable.name, error: errorMessage(err) }),
            );
        }
        stopping = undefined;
      });
      this.logger.info('term stopped', { fencingToken: term.fencingToken });
    } catch (err) {
      this.logger.error('the term did not stop in time; going on without it', {
        fencingToken: term.fencingToken,
        stillStopping: stopping,
        error: errorMessage(err),
      });
    }
  }
}
