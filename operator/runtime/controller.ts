import { errorMessage, type Logger } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import type { BackoffPolicy, Timers } from './clock.js';
import { isConflict } from './errors.js';
import { WorkQueue } from './workqueue.js';

/** What a reconcile asks for besides success: to run again after a delay. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

/**
 * Brings one object (`namespace/name`) to its desired state. Level-triggered: it reads the
 * latest object itself and is safe to run any number of times. `signal` aborts when the
 * controller stops (for example when leadership is lost): stop before writing anything.
 * A thrown error requeues the key with backoff.
 */
export type Reconciler = (key: string, signal: AbortSignal) => Promise<ReconcileResult | void>;

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  logger: Logger;
  /** Keys reconciled at the same time (never the same key twice). Default 1. */
  workers?: number;
  timers?: Timers;
  backoff?: BackoffPolicy;
  metrics?: Pick<
    OperatorMetrics,
    'workQueueDepth' | 'workQueueRetries' | 'reconcileDuration' | 'reconcileErrors'
  >;
}

/**
 * Runs N workers that take keys from a {@link WorkQueue} and reconcile them. Informer
 * handlers only call {@link enqueue}. Single use: start once, stop once.
 */
export class Controller {
  private readonly queue: WorkQueue<string>;
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private workers: Promise<void>[] = [];
  /** The last error of each failing key, so that a key failing the same way is logged once. */
  private readonly failing = new Map<string, string>();

  constructor(private readonly options: ControllerOptions) {
    this.logger = options.logger.child({ controller: options.name });
    this.queue = new WorkQueue({
      name: options.name,
      timers: options.timers,
      backoff: options.backoff,
      metrics: options.metrics,
    });
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  enqueueAfter(key: string, delayMs: number): void {
    this.queue.addAfter(key, delayMs);
  }

  start(): void {
    if (this.workers.length > 0) throw new Error(`controller ${this.options.name} already started`);
    const count = this.options.workers ?? 1;
    this.workers = Array.from({ length: count }, () => this.work());
    this.logger.info('controller started', { workers: count });
  }

  /** Stops intake, drops queued keys, aborts the reconciles' signal and waits for them to return. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.queue.shutDown();
    await Promise.all(this.workers);
    this.logger.info('controller stopped');
  }

  private async work(): Promise<void> {
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      try {
        await this.reconcile(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcile(key: string): Promise<void> {
    const { name, metrics } = this.options;
    const endTimer = metrics?.reconcileDuration.startTimer({ controller: name });
    try {
      const result = await this.options.reconcile(key, this.stopping.signal);
      this.queue.forget(key);
      this.recovered(key);
      if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      metrics?.reconcileErrors.inc({ controller: name });
      const retryInMs = this.queue.addRateLimited(key);
      this.failed(key, err, retryInMs);
    } finally {
      endTimer?.();
    }
  }

  private failed(key: string, err: unknown, retryInMs: number): void {
    const message = errorMessage(err);
    const [namespace, name] = splitKey(key);
    const meta = { namespace, name, error: message, retryInMs, requeues: this.queue.numRequeues(key) };
    // A conflict is routine (the cache was behind the server); a repeated failure is logged once.
    if (isConflict(err) || this.failing.get(key) === message) {
      this.logger.debug('reconcile failed; retrying', meta);
      return;
    }
    this.failing.set(key, message);
    this.logger.warn('reconcile failed; retrying', meta);
  }

  private recovered(key: string): void {
    if (!this.failing.delete(key)) return;
    const [namespace, name] = splitKey(key);
    this.logger.info('reconcile succeeded after failures', { namespace, name });
  }
}

function splitKey(key: string): [string | undefined, string] {
  const slash = key.indexOf('/');
  return slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
}
