import type { OperatorMetrics } from '../metrics.js';
import { backoffDelay, systemTimers, type BackoffPolicy, type TimerHandle, type Timers } from './clock.js';

export interface WorkQueueOptions {
  /** Names the queue in metrics. */
  name: string;
  timers?: Timers;
  /** Per-key backoff of {@link WorkQueue.addRateLimited}; default 5 ms doubling up to 5 min. */
  backoff?: BackoffPolicy;
  /** Overall bound on retries of all keys together; default 10 per second, bursts of 100. */
  rateLimit?: RateLimit;
  metrics?: Pick<OperatorMetrics, 'workQueueDepth' | 'workQueueAdds' | 'workQueueRetries'>;
}

/** A token bucket: `perSecond` tokens a second, holding at most `burst`. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

const DEFAULT_QUEUE_BACKOFF: BackoffPolicy = { baseMs: 5, maxMs: 5 * 60_000 };
/** client-go's default controller rate limiter: the larger of the per-key backoff and this bucket. */
const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 10, burst: 100 };

/**
 * The overall bound on retries of all keys of a queue together: a token bucket that hands out
 * reservations (as golang.org/x/time/rate's Reserve). Each call takes a token, and says how long
 * to wait until that token is there; a retry over the bound is delayed, never refused.
 */
export class RetryRateLimiter {
  private tokens: number;
  private updatedMs: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly timers: Pick<Timers, 'now'>,
  ) {
    this.tokens = limit.burst;
    this.updatedMs = timers.now();
  }

  /** Takes one token; returns the delay (ms) until it is available, 0 when at once. */
  reserve(): number {
    const now = this.timers.now();
    const refill = ((now - this.updatedMs) / 1000) * this.limit.perSecond;
    this.tokens = Math.min(this.limit.burst, this.tokens + refill);
    this.updatedMs = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.limit.perSecond) * 1000);
  }
}

/**
 * A work queue with client-go's guarantees:
 * - a key waiting in the queue is held once, however often it is added (de-duplication);
 * - a key is never handed to two workers at once: adding a key that is being processed
 *   marks it dirty, and it is queued again only when the worker calls {@link done};
 * - failed keys come back after a per-key exponential, capped delay ({@link addRateLimited},
 *   reset by {@link forget});
 * - {@link addAfter} queues a key later (the earliest pending time wins).
 */
export class WorkQueue<K = string> {
  private readonly queue: K[] = [];
  /** Keys that need processing: queued, or re-added while being processed. */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly delayed = new Map<K, { at: number; handle: TimerHandle }>();
  private readonly failures = new Map<K, number>();
  private readonly waiters: Array<(key: K | undefined) => void> = [];
  private readonly idleWaiters: Array<() => void> = [];
  private readonly timers: Timers;
  private readonly backoff: BackoffPolicy;
  private readonly bucket: RetryRateLimiter;
  private shuttingDown = false;

  constructor(private readonly options: WorkQueueOptions) {
    this.timers = options.timers ?? systemTimers;
    this.backoff = options.backoff ?? DEFAULT_QUEUE_BACKOFF;
    this.bucket = new RetryRateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT, this.timers);
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.options.metrics?.workQueueAdds.inc({ name: this.options.name });
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  addAfter(key: K, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.timers.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.timers.clearTimeout(pending.handle);
    const handle = this.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { at, handle });
  }

  /**
   * Queues the key again after its backoff, which doubles with each call until {@link forget},
   * or later when retries of all keys together exceed the overall rate. Returns the delay.
   */
  addRateLimited(key: K): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delayMs = Math.max(backoffDelay(failures, this.backoff), this.bucket.reserve());
    this.options.metrics?.workQueueRetries.inc({ name: this.options.name });
    this.addAfter(key, delayMs);
    return delayMs;
  }

  /** Ends the key's backoff: its next failure waits the base delay again. */
  forget(key: K): void {
    this.failures.delete(key);
  }

  /** How many times the key was requeued with backoff since it was last forgotten. */
  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * The next key to process, waiting until there is one. Resolves `undefined` once the queue
   * is shut down. The caller must call {@link done} with the key when it has finished.
   */
  get(): Promise<K | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.pop();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks the key as processed; if it was added meanwhile, it is queued again. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
    if (this.processing.size === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
  }

  /** Keys waiting to be processed (not counting delayed ones). */
  get length(): number {
    return this.queue.length;
  }

  /**
   * Stops intake: later adds are ignored, waiting and delayed keys are dropped, and waiting
   * workers receive `undefined`. Resolves when every key being processed is {@link done}.
   */
  shutDown(): Promise<void> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      for (const { handle } of this.delayed.values()) this.timers.clearTimeout(handle);
      this.delayed.clear();
      this.queue.length = 0;
      this.dirty.clear();
      this.updateDepth();
      this.waiters.splice(0).forEach((wake) => wake(undefined));
    }
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private push(key: K): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.startProcessing(key);
      waiter(key);
      return;
    }
    this.queue.push(key);
    this.updateDepth();
  }

  private pop(): K | undefined {
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    this.updateDepth();
    this.startProcessing(key);
    return key;
  }

  private startProcessing(key: K): void {
    this.dirty.delete(key);
    this.processing.add(key);
  }

  private updateDepth(): void {
    this.options.metrics?.workQueueDepth.set({ name: this.options.name }, this.queue.length);
  }
}
