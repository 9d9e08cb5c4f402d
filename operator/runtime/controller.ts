import { errorMessage, type Logger } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import type { BackoffPolicy, Timers } from './clock.js';
import { isConflict } from './errors.js';
import type { InformerHandlers, KubeObject } from './informer.js';
import type { RunContext, Runnable, Term } from './runnable.js';
import { WorkQueue, type RateLimit } from './workqueue.js';

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

/**
 * A reconciler's state that lives for one leadership term: built afresh when the controller
 * starts (before any reconcile), released when it has stopped (after the last one).
 */
export interface TermScoped {
  startTerm(term: Term | undefined): void;
  stopTerm(): Promise<void>;
}

/** The part of an informer a controller watches. */
export interface WatchedSource<T> {
  addHandlers(handlers: InformerHandlers<T>): void;
  list(): T[];
}

/** What {@link Controller.complete} takes: the reconcile and, optionally, its term-scoped state. */
export interface ReconcilerObject extends Partial<TermScoped> {
  reconcile: Reconciler;
}

export interface ControllerOptions {
  name: string;
  /** The reconcile, unless given later with {@link Controller.complete}. */
  reconcile?: Reconciler;
  /** Term-scoped state of the reconciler, started before and stopped after the workers. */
  lifecycle?: TermScoped;
  logger: Logger;
  /** Keys reconciled at the same time (never the same key twice). Default 1. */
  workers?: number;
  timers?: Timers;
  backoff?: BackoffPolicy;
  rateLimit?: RateLimit;
  metrics?: Pick<
    OperatorMetrics,
    'workQueueDepth' | 'workQueueAdds' | 'workQueueRetries' | 'reconcileDuration' | 'reconcileErrors'
  >;
}

/** One run of the controller (a leadership term): its queue, workers and abort signal. */
interface Run {
  queue: WorkQueue<string>;
  stopping: AbortController;
  workers: Promise<void>[];
  /** The last error of each failing key, so that a key failing the same way is logged once. */
  failing: Map<string, string>;
}

export function keyOf(object: KubeObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

/**
 * Runs N workers that take keys from a {@link WorkQueue} and reconcile them, during each
 * leadership term (a fresh queue per term). It declares what it watches, like
 * controller-runtime's builder: {@link forObjects} for the kind it reconciles (every cached
 * object is queued when a term starts) and {@link watches} for other kinds, mapped to the keys
 * they affect. Informer events outside a term are ignored: the next term lists everything.
 */
export class Controller implements Runnable {
  readonly needsLeadership = true;
  private readonly logger: Logger;
  private readonly primaries: WatchedSource<KubeObject>[] = [];
  private run?: Run;
  private reconciler?: Reconciler;
  private lifecycle?: TermScoped;

  constructor(private readonly options: ControllerOptions) {
    this.logger = options.logger.child({ controller: options.name });
    this.reconciler = options.reconcile;
    this.lifecycle = options.lifecycle;
  }

  /** Sets the reconciler (for one that needs the controller, e.g. to enqueue keys itself). */
  complete(reconciler: ReconcilerObject): this {
    this.reconciler = reconciler.reconcile;
    const { startTerm, stopTerm } = reconciler;
    if (startTerm && stopTerm)
      this.lifecycle = { startTerm: startTerm.bind(reconciler), stopTerm: stopTerm.bind(reconciler) };
    return this;
  }

  get name(): string {
    return this.options.name;
  }

  /** Reconciles every object of this source, by its own key, on any change. */
  forObjects<T extends KubeObject>(source: WatchedSource<T>): this {
    this.primaries.push(source as WatchedSource<KubeObject>);
    return this.watches(source, (object) => [keyOf(object)]);
  }

  /** On any change of an object of this source, reconciles the keys `map` returns. */
  watches<T>(source: WatchedSource<T>, map: (object: T) => Iterable<string>): this {
    const enqueue = (object: T): void => {
      if (!this.run) return;
      for (const key of map(object)) this.enqueue(key);
    };
    source.addHandlers({ onAdd: enqueue, onUpdate: (object) => enqueue(object), onDelete: enqueue });
    return this;
  }

  /** Queues a key; ignored while the controller does not run. */
  enqueue(key: string): void {
    this.run?.queue.add(key);
  }

  start(context: RunContext): void {
    if (this.run) throw new Error(`controller ${this.options.name} already started`);
    const { name, timers, backoff, rateLimit, metrics } = this.options;
    const queue = new WorkQueue<string>({ name, timers, backoff, rateLimit, metrics });
    if (!this.reconciler) throw new Error(`controller ${this.options.name} has no reconciler`);
    this.lifecycle?.startTerm(context.term);
    const run: Run = { queue, stopping: new AbortController(), workers: [], failing: new Map() };
    this.run = run;
    for (const source of this.primaries) for (const object of source.list()) queue.add(keyOf(object));
    const count = this.options.workers ?? 1;
    run.workers = Array.from({ length: count }, () => this.work(run));
    this.logger.info('controller started', { workers: count });
  }

  /** Stops intake, drops queued keys, aborts the reconciles' signal and waits for them to return. */
  async stop(): Promise<void> {
    const run = this.run;
    if (!run) return;
    this.run = undefined;
    run.stopping.abort();
    await run.queue.shutDown();
    await Promise.all(run.workers);
    await this.lifecycle?.stopTerm();
    this.logger.info('controller stopped');
  }

  private async work(run: Run): Promise<void> {
    const { queue } = run;
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      try {
        await this.reconcile(run, key);
      } finally {
        queue.done(key);
      }
    }
  }

  private async reconcile(run: Run, key: string): Promise<void> {
    const { name, metrics } = this.options;
    const { queue } = run;
    const endTimer = metrics?.reconcileDuration.startTimer({ controller: name });
    try {
      const result = await this.reconciler!(key, run.stopping.signal);
      queue.forget(key);
      this.recovered(run, key);
      if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      metrics?.reconcileErrors.inc({ controller: name });
      const retryInMs = queue.addRateLimited(key);
      this.failed(run, key, err, retryInMs);
    } finally {
      endTimer?.();
    }
  }

  private failed(run: Run, key: string, err: unknown, retryInMs: number): void {
    const message = errorMessage(err);
    const [namespace, name] = splitKey(key);
    const meta = { namespace, name, error: message, retryInMs, requeues: run.queue.numRequeues(key) };
    // A conflict is routine (the cache was behind the server); a repeated failure is logged once.
    if (isConflict(err) || run.failing.get(key) === message) {
      this.logger.debug('reconcile failed; retrying', meta);
      return;
    }
    run.failing.set(key, message);
    this.logger.warn('reconcile failed; retrying', meta);
  }

  private recovered(run: Run, key: string): void {
    if (!run.failing.delete(key)) return;
    const [namespace, name] = splitKey(key);
    this.logger.info('reconcile succeeded after failures', { namespace, name });
  }
}

function splitKey(key: string): [string | undefined, string] {
  const slash = key.indexOf('/');
  return slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
}
