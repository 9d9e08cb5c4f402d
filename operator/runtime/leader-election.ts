import { errorMessage, type Logger } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import { jittered, sleep, systemTimers, withTimeout, type TimerHandle, type Timers } from './clock.js';
import { isConflict } from './errors.js';

/** The holder record of a coordination.k8s.io/v1 Lease, times in ms since the epoch. */
export interface LeaseRecord {
  /** Empty when the lease was released. */
  holderIdentity: string;
  leaseDurationMs: number;
  acquireTimeMs: number;
  renewTimeMs: number;
  leaseTransitions: number;
}

export interface ObservedLease {
  record: LeaseRecord;
  resourceVersion: string;
}

/**
 * Reads and writes one Lease. `update` must fail (409) when `resourceVersion` is not the current
 * one. Each call should give up when `signal` aborts (the elector bounds every call anyway).
 */
export interface LeaseClient {
  /** `undefined` when the Lease does not exist. */
  get(signal?: AbortSignal): Promise<ObservedLease | undefined>;
  create(record: LeaseRecord, signal?: AbortSignal): Promise<ObservedLease>;
  update(record: LeaseRecord, resourceVersion: string, signal?: AbortSignal): Promise<ObservedLease>;
}

/** One term of leadership, as the leader work sees it. */
export interface LeadershipTerm {
  /** Aborts the moment the term ends (lease lost, renew deadline passed, or shutting down). */
  readonly signal: AbortSignal;
  /**
   * The Lease's `leaseTransitions` as written when this term acquired it. Every acquisition
   * increments it, so a later term (of any replica) always has a greater token: a store write
   * that carries it can be refused once a newer term has written.
   */
  readonly fencingToken: number;
}

export interface LeaderElectionTiming {
  /** How long a standby waits, after it last saw the lease change, before it takes the lease. */
  leaseDurationMs: number;
  /** How long the leader keeps leading without a successful renewal. */
  renewDeadlineMs: number;
  /** Interval between attempts to acquire or renew. */
  retryPeriodMs: number;
}

/** Acquisition retries are spread over [retryPeriod, retryPeriod * 2.2), as in client-go. */
const JITTER_FACTOR = 1.2;
/** A released lease expires at once for everyone (client-go writes 1 s). */
const RELEASED_LEASE_DURATION_MS = 1000;

/** Why the timing is unsafe, or `undefined` when it is sound. */
export function leaderElectionTimingProblem(t: LeaderElectionTiming): string | undefined {
  if (!(t.retryPeriodMs > 0)) return 'the retry period must be positive';
  if (!(t.renewDeadlineMs > JITTER_FACTOR * t.retryPeriodMs))
    return `the renew deadline must exceed ${JITTER_FACTOR} x the retry period`;
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) return 'the lease duration must exceed the renew deadline';
  return undefined;
}

export interface LeaderElectorOptions extends LeaderElectionTiming {
  /** Unique per replica (the pod name). */
  identity: string;
  lease: LeaseClient;
  logger: Logger;
  /**
   * Starts the leader-only work. It must stop as soon as `term.signal` aborts; the returned
   * promise (if any) settles when the work has stopped, and the elector waits for it before it
   * competes again or releases the lease (bound it: the elector does not).
   */
  onStartedLeading: (term: LeadershipTerm) => Promise<void> | void;
  /** Called at the moment leadership ends (lost, or given up on shutdown). */
  onStoppedLeading?: () => void;
  /** Bound on releasing the lease at stop; default the renew deadline. */
  releaseTimeoutMs?: number;
  timers?: Timers;
  random?: () => number;
  metrics?: Pick<OperatorMetrics, 'isLeader'>;
}

interface Term {
  controller: AbortController;
  fencingToken: number;
  work: Promise<void>;
  deadline?: TimerHandle;
}

type Attempt = 'acquired' | 'held' | 'failed';

/**
 * Lease-based leader election in the manner of client-go. A candidate takes the Lease when it
 * does not exist, was released, or has not changed for a lease duration (measured on the local
 * clock, so clock skew between replicas does not matter). The leader renews every retry
 * period and stops leading at once, aborting the leader work's signal, when the lease is taken
 * or the renew deadline passes without a successful renewal. Every Lease call is bounded by
 * the renew deadline, so a hung request stalls neither the loop nor stop(). After losing, it
 * competes again once the previous term's work has stopped.
 */
export class LeaderElector {
  private readonly timers: Timers;
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private term?: Term;
  /** The work of the last ended term, which must settle before a new term starts. */
  private endedWork: Promise<void> = Promise.resolve();
  private observed?: ObservedLease;
  private observedAtMs = 0;
  private lastError?: string;

  constructor(private readonly options: LeaderElectorOptions) {
    const problem = leaderElectionTimingProblem(options);
    if (problem) throw new Error(`invalid leader election timing: ${problem}`);
    this.timers = options.timers ?? systemTimers;
    this.logger = options.logger.child({ component: 'leader-election', identity: options.identity });
  }

  get isLeader(): boolean {
    return this.term !== undefined;
  }

  /** The current term's fencing token, undefined while not leading. */
  get fencingToken(): number | undefined {
    return this.term?.fencingToken;
  }

  start(): void {
    if (this.loop) throw new Error('leader elector already started');
    this.loop = this.run();
  }

  /** Stops competing; when leading, aborts the leader work, waits for it, then releases the lease. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    const leading = this.isLeader;
    this.endTerm('shutting down');
    await this.endedWork;
    if (leading) await this.release();
  }

  private async run(): Promise<void> {
    const { retryPeriodMs, random } = this.options;
    while (!this.stopping.signal.aborted) {
      const termBefore = this.term;
      const attempt = await this.tryAcquireOrRenew();
      // A term that ended while the attempt was in flight is not revived by its late answer.
      if (!this.stopping.signal.aborted && this.term === termBefore) {
        if (attempt === 'acquired') {
          if (this.term) this.renewed(this.term);
          else await this.beginTerm();
        } else if (attempt === 'held' && this.term) {
          this.endTerm(`lease taken by ${this.observed?.record.holderIdentity}`);
        }
      }
      const waitMs = this.term ? retryPeriodMs : jittered(retryPeriodMs, JITTER_FACTOR, random);
      await sleep(this.timers, waitMs, this.stopping.signal);
    }
  }

  /** Lease calls of one attempt, bounded together by the renew deadline and aborted by stop(). */
  private bounded<T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withTimeout(this.timers, this.options.renewDeadlineMs, what, call, this.stopping.signal);
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { lease, identity } = this.options;
    const now = this.timers.now();
    const renewing = this.term !== undefined;
    try {
      const current = await this.bounded('reading the lease', (signal) => lease.get(signal));
      if (!current) {
        const created = await this.bounded('creating the lease', (signal) =>
          lease.create(this.recordAt(now, renewing), signal),
        );
        this.observe(created);
        return this.succeeded();
      }
      this.observe(current);
      const { holderIdentity, leaseDurationMs } = current.record;
      const heldByOther = holderIdentity !== '' && holderIdentity !== identity;
      if (heldByOther && this.observedAtMs + leaseDurationMs > now) return 'held';
      const updated = await this.bounded('updating the lease', (signal) =>
        lease.update(this.recordAt(now, renewing, current.record), current.resourceVersion, signal),
      );
      this.observe(updated);
      return this.succeeded();
    } catch (err) {
      if (this.stopping.signal.aborted) return 'failed';
      this.failed(err);
      return 'failed';
    }
  }

  /**
   * The record to write: a renewal keeps acquireTime and leaseTransitions; an acquisition
   * (also of a lease that still names this replica, e.g. after a restart or a missed deadline)
   * counts one more transition, so that each term has its own fencing token.
   */
  private recordAt(now: number, renewing: boolean, previous?: LeaseRecord): LeaseRecord {
    const { identity, leaseDurationMs } = this.options;
    const keeps = renewing && previous?.holderIdentity === identity;
    return {
      holderIdentity: identity,
      leaseDurationMs,
      acquireTimeMs: keeps ? previous.acquireTimeMs : now,
      renewTimeMs: now,
      leaseTransitions: previous === undefined ? 0 : previous.leaseTransitions + (keeps ? 0 : 1),
    };
  }

  /** Remembers the lease and when it last changed, on our clock. Logs a change of leader. */
  private observe(lease: ObservedLease): void {
    if (this.observed?.resourceVersion === lease.resourceVersion) return;
    const previousHolder = this.observed?.record.holderIdentity;
    this.observed = lease;
    this.observedAtMs = this.timers.now();
    const holder = lease.record.holderIdentity;
    if (holder !== previousHolder && holder !== '' && holder !== this.options.identity) {
      this.logger.info('another replica leads', { leader: holder });
    }
  }

  private async beginTerm(): Promise<void> {
    await this.endedWork;
    if (this.stopping.signal.aborted) return;
    const term: Term = {
      controller: new AbortController(),
      fencingToken: this.observed?.record.leaseTransitions ?? 0,
      work: Promise.resolve(),
    };
    this.term = term;
    this.options.metrics?.isLeader.set(1);
    this.logger.info('became leader', { fencingToken: term.fencingToken });
    this.renewed(term);
    const leadership: LeadershipTerm = { signal: term.controller.signal, fencingToken: term.fencingToken };
    term.work = Promise.resolve()
      .then(() => this.options.onStartedLeading(leadership))
      .catch((err: unknown) => {
        this.logger.error('leader work failed', { error: errorMessage(err) });
      });
  }

  /** Leads until the renew deadline, counted from the renew time just written. */
  private renewed(term: Term): void {
    if (term.deadline !== undefined) this.timers.clearTimeout(term.deadline);
    const renewTimeMs = this.observed?.record.renewTimeMs ?? this.timers.now();
    const remainingMs = renewTimeMs + this.options.renewDeadlineMs - this.timers.now();
    term.deadline = this.timers.setTimeout(() => {
      if (this.term === term) this.endTerm('renew deadline exceeded');
    }, remainingMs);
  }

  private endTerm(reason: string): void {
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    if (term.deadline !== undefined) this.timers.clearTimeout(term.deadline);
    term.controller.abort();
    this.endedWork = term.work;
    this.options.metrics?.isLeader.set(0);
    if (reason === 'shutting down') this.logger.info('stopped leading', { reason });
    else this.logger.warn('lost leadership', { reason });
    this.options.onStoppedLeading?.();
  }

  /**
   * Hands the lease over at once: empty holder, 1 s duration. Bounded; when the version we saw
   * is stale (a renewal was cut short by stop), reads the lease again and retries once.
   */
  private async release(): Promise<void> {
    const { lease, identity, renewDeadlineMs } = this.options;
    const timeoutMs = this.options.releaseTimeoutMs ?? renewDeadlineMs;
    try {
      await withTimeout(this.timers, timeoutMs, 'releasing the lease', async (signal) => {
        let observed = this.observed;
        for (let attempt = 0; ; attempt++) {
          if (!observed || observed.record.holderIdentity !== identity) return;
          const now = this.timers.now();
          const record = {
            ...observed.record,
            holderIdentity: '',
            leaseDurationMs: RELEASED_LEASE_DURATION_MS,
            acquireTimeMs: now,
            renewTimeMs: now,
          };
          try {
            this.observe(await lease.update(record, observed.resourceVersion, signal));
            this.logger.info('released the lease');
            return;
          } catch (err) {
            if (!isConflict(err) || attempt > 0) throw err;
            observed = await lease.get(signal);
          }
        }
      });
    } catch (err) {
      this.logger.warn('could not release the lease; a standby takes over when it expires', {
        error: errorMessage(err),
      });
    }
  }

  private succeeded(): 'acquired' {
    if (this.lastError !== undefined) this.logger.info('lease API reachable again');
    this.lastError = undefined;
    return 'acquired';
  }

  /** Logs a failure once per distinct error; a lost race for the lease (409) is routine. */
  private failed(err: unknown): void {
    const message = errorMessage(err);
    if (isConflict(err) || message === this.lastError) {
      this.logger.debug('lease attempt failed', { error: message });
      return;
    }
    this.lastError = message;
    this.logger.warn('lease attempt failed', { error: message, leading: this.isLeader });
  }
}
