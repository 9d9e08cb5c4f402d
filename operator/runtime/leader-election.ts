import { errorMessage, type Logger } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import { jittered, sleep, systemTimers, type TimerHandle, type Timers } from './clock.js';
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

/** Reads and writes one Lease. `update` must fail (409) when `resourceVersion` is not the current one. */
export interface LeaseClient {
  /** `undefined` when the Lease does not exist. */
  get(): Promise<ObservedLease | undefined>;
  create(record: LeaseRecord): Promise<ObservedLease>;
  update(record: LeaseRecord, resourceVersion: string): Promise<ObservedLease>;
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
   * Starts the leader-only work. It must stop as soon as `signal` aborts; the returned promise
   * (if any) settles when the work has stopped, and {@link LeaderElector.stop} waits for it
   * before releasing the lease.
   */
  onStartedLeading: (signal: AbortSignal) => Promise<void> | void;
  /** Called at the moment leadership ends (lost, or given up on shutdown). */
  onStoppedLeading?: () => void;
  timers?: Timers;
  random?: () => number;
  metrics?: Pick<OperatorMetrics, 'isLeader'>;
}

interface Term {
  controller: AbortController;
  work: Promise<void>;
  deadline?: TimerHandle;
}

type Attempt = 'acquired' | 'held' | 'failed';

/**
 * Lease-based leader election in the manner of client-go. A candidate takes the Lease when it
 * does not exist, was released, or has not changed for a lease duration (measured on the local
 * clock, so clock skew between replicas does not matter). The leader renews every retry
 * period and stops leading at once, aborting the leader work's signal, when the lease is taken
 * or the renew deadline passes without a successful renewal. After losing, it competes again
 * once the previous term's work has stopped.
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

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { lease, identity } = this.options;
    const now = this.timers.now();
    try {
      const current = await lease.get();
      if (!current) {
        this.observe(await lease.create(this.recordAt(now)));
        return this.succeeded();
      }
      this.observe(current);
      const { holderIdentity, leaseDurationMs } = current.record;
      const heldByOther = holderIdentity !== '' && holderIdentity !== identity;
      if (heldByOther && this.observedAtMs + leaseDurationMs > now) return 'held';
      this.observe(await lease.update(this.recordAt(now, current.record), current.resourceVersion));
      return this.succeeded();
    } catch (err) {
      this.failed(err);
      return 'failed';
    }
  }

  private recordAt(now: number, previous?: LeaseRecord): LeaseRecord {
    const { identity, leaseDurationMs } = this.options;
    const keeps = previous?.holderIdentity === identity;
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
    const term: Term = { controller: new AbortController(), work: Promise.resolve() };
    this.term = term;
    this.options.metrics?.isLeader.set(1);
    this.logger.info('became leader');
    this.renewed(term);
    term.work = Promise.resolve()
      .then(() => this.options.onStartedLeading(term.controller.signal))
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

  /** Hands the lease over at once: empty holder, 1 s duration. */
  private async release(): Promise<void> {
    const observed = this.observed;
    if (!observed || observed.record.holderIdentity !== this.options.identity) return;
    const now = this.timers.now();
    const record = {
      ...observed.record,
      holderIdentity: '',
      leaseDurationMs: RELEASED_LEASE_DURATION_MS,
      acquireTimeMs: now,
      renewTimeMs: now,
    };
    try {
      this.observe(await this.options.lease.update(record, observed.resourceVersion));
      this.logger.info('released the lease');
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
