import { errorMessage, type Logger } from '../logging.js';
import {
  backoffDelay,
  jittered,
  sleep,
  systemTimers,
  type BackoffPolicy,
  type TimerHandle,
  type Timers,
} from './clock.js';
import { isGone } from './errors.js';

/** The part of a Kubernetes object the informer relies on. Objects are plain JSON, as served. */
export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
}

export type WatchEvent<T> =
  { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T } | { type: 'BOOKMARK'; resourceVersion: string };

/** Lists and watches one kind of object (one resource, optionally one namespace and selectors). */
export interface ListWatcher<T> {
  /**
   * Lists every object in pages of a consistent snapshot, handing each page's objects to `onPage`
   * as the page arrives (the page is not kept: the next is fetched after `onPage` returns), and
   * resolves with the snapshot's resourceVersion.
   */
  list(signal: AbortSignal, onPage: (items: T[]) => void): Promise<string>;
  /**
   * Streams changes after `resourceVersion` until the server ends the watch (resolves) or it
   * fails (rejects; an expired resourceVersion rejects with code 410). Stops when `signal` aborts.
   */
  watch(resourceVersion: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void>;
}

/**
 * What the handlers are told. An object is identified by its UID: one received under a cached
 * name with another UID (the name was deleted and re-created between two watch events, or while a
 * re-list was due) is the deletion of the cached object and the addition of the new one.
 */
export interface InformerHandlers<T> {
  onAdd?(object: T): void;
  /** Also called by the periodic resync, with `old === object`. */
  onUpdate?(object: T, old: T): void;
  onDelete?(object: T): void;
}

export interface InformerOptions<T> {
  /** Names the informer in logs, e.g. `pods`. */
  name: string;
  source: ListWatcher<T>;
  logger: Logger;
  timers?: Timers;
  random?: () => number;
  /** Re-deliver every cached object to onUpdate this often; 0 turns it off. Default 10 min. */
  resyncPeriodMs?: number;
  /** Restart when nothing (no event, no new watch) was seen for this long. Default 5 min. */
  watchdogMs?: number;
  /** Delay between restarts after errors; default 1 s doubling to 30 s, with jitter. */
  backoff?: BackoffPolicy;
  /**
   * Turns each listed or watched object into what is cached and handed to the handlers (as
   * client-go's SetTransform), e.g. to keep only the fields the operator reads. It runs on each
   * object as its list page or watch event arrives, so that only what it returns is kept (an
   * object whose resourceVersion is already cached is not transformed again). It must keep
   * metadata.namespace, name, resourceVersion and uid.
   */
  transform?: (object: T) => T;
}

/** A watch that ends this quickly with no event counts as a failure (no tight reconnect loop). */
const MIN_WATCH_MS = 1000;

/**
 * Keeps an up-to-date cache of one kind of object, like client-go's reflector + informer:
 * list, then watch from the list's resourceVersion; a watch that ends is resumed from the last
 * resourceVersion seen; an expired one (410) lists again; any other error restarts after a
 * jittered exponential backoff. A watchdog restarts a list or watch that has been silent too
 * long, and a periodic resync re-delivers every object so that level-triggered controllers
 * catch up on anything missed. Problems are logged on change of state, not per retry.
 */
export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly timers: Timers;
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private readonly syncWaiters: Array<() => void> = [];
  private resourceVersion = '';
  private synced = false;
  private loop?: Promise<void>;
  private attempt?: AbortController;
  private lastActivityMs = 0;
  private watchdog?: TimerHandle;
  private resync?: TimerHandle;
  private failures = 0;

  constructor(private readonly options: InformerOptions<T>) {
    this.timers = options.timers ?? systemTimers;
    this.logger = options.logger.child({ informer: options.name });
  }

  /** Handlers run synchronously for every change; they should only enqueue keys. */
  addHandlers(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
  }

  start(): void {
    if (this.loop) throw new Error(`informer ${this.options.name} already started`);
    this.lastActivityMs = this.timers.now();
    this.armWatchdog();
    this.armResync();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.attempt?.abort();
    if (this.watchdog !== undefined) this.timers.clearTimeout(this.watchdog);
    if (this.resync !== undefined) this.timers.clearTimeout(this.resync);
    await this.loop;
  }

  /** True once the first list has been delivered to the handlers. */
  get hasSynced(): boolean {
    return this.synced;
  }

  /**
   * Resolves with true once synced, or with false when the informer stops or `signal` aborts
   * first (a cache that never syncs, e.g. its CRD is not installed, must not block shutdown).
   */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.stopping.signal.aborted || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = (): void => {
        const index = this.syncWaiters.indexOf(wake);
        if (index >= 0) this.syncWaiters.splice(index, 1);
        resolve(false);
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.synced);
      };
      this.syncWaiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(cacheKey(namespace, name));
  }

  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const attempt = (this.attempt = new AbortController());
      try {
        if (!this.resourceVersion) await this.relist(attempt.signal);
        await this.watchOnce(attempt.signal);
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        if (attempt.signal.aborted) {
          this.logger.warn('no activity from the apiserver; restarting the watch', {
            silentMs: this.options.watchdogMs,
          });
        } else if (isGone(err) && this.resourceVersion) {
          this.logger.debug('resourceVersion expired; listing again');
          this.resourceVersion = '';
        } else {
          await this.backOff(err);
        }
      }
    }
    this.syncWaiters.splice(0).forEach((wake) => wake());
  }

  /**
   * Lists everything again, page by page: each page's objects are transformed and applied to the
   * cache as the page arrives (adds and updates are delivered then), and the cached objects the
   * list did not return are deleted once the last page is in. Only the keys seen are held beside
   * the cache, never the served pages, so a re-list costs about one page above the steady state.
   */
  private async relist(signal: AbortSignal): Promise<void> {
    const seen = new Set<string>();
    const onPage = (items: T[]): void => {
      if (signal.aborted) return;
      this.markActive();
      for (const object of items) {
        const key = keyOf(object);
        seen.add(key);
        this.upsert(key, object);
      }
    };
    const resourceVersion = await abortable(this.options.source.list(signal, onPage), signal);
    this.markActive();
    for (const [key, object] of this.cache) {
      if (!seen.has(key)) this.remove(key, object);
    }
    this.resourceVersion = resourceVersion;
    if (!this.synced) {
      this.synced = true;
      this.logger.info('synced', { objects: this.cache.size });
      this.syncWaiters.splice(0).forEach((wake) => wake());
    }
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    const startedMs = this.timers.now();
    let events = 0;
    this.markActive();
    await abortable(
      this.options.source.watch(
        this.resourceVersion,
        (event) => {
          if (signal.aborted) return;
          if (events++ === 0) this.recovered();
          this.markActive();
          this.apply(event);
        },
        signal,
      ),
      signal,
    );
    if (events === 0 && this.timers.now() - startedMs < MIN_WATCH_MS) {
      throw new Error('the watch ended at once without events');
    }
    this.recovered();
  }

  private apply(event: WatchEvent<T>): void {
    if (event.type === 'BOOKMARK') {
      this.resourceVersion = event.resourceVersion;
      return;
    }
    const key = keyOf(event.object);
    if (event.type === 'DELETED') {
      const cached = this.cache.get(key);
      if (cached) this.remove(key, cached);
    } else {
      this.upsert(key, event.object);
    }
    this.resourceVersion = event.object.metadata?.resourceVersion ?? this.resourceVersion;
  }

  private upsert(key: string, received: T): void {
    let old = this.cache.get(key);
    if (old && old.metadata?.resourceVersion === received.metadata?.resourceVersion) return;
    if (old && replaced(old, received)) {
      this.remove(key, old);
      old = undefined;
    }
    const object = this.options.transform ? this.options.transform(received) : received;
    this.cache.set(key, object);
    const previous = old;
    this.notify((h) => (previous ? h.onUpdate?.(object, previous) : h.onAdd?.(object)));
  }

  private remove(key: string, object: T): void {
    this.cache.delete(key);
    this.notify((h) => h.onDelete?.(object));
  }

  private notify(deliver: (handlers: InformerHandlers<T>) => void): void {
    for (const handlers of this.handlers) {
      try {
        deliver(handlers);
      } catch (err) {
        this.logger.error('event handler failed', { error: errorMessage(err) });
      }
    }
  }

  private async backOff(err: unknown): Promise<void> {
    const delayMs = jittered(
      backoffDelay(this.failures, this.options.backoff ?? { baseMs: 1000, maxMs: 30_000 }),
      0.5,
      this.options.random,
    );
    if (this.failures === 0) {
      this.logger.warn('list/watch failed; retrying with backoff', { error: errorMessage(err) });
    } else {
      this.logger.debug('list/watch failed again', {
        error: errorMessage(err),
        retryInMs: Math.round(delayMs),
      });
    }
    this.failures++;
    await sleep(this.timers, delayMs, this.stopping.signal);
  }

  private recovered(): void {
    if (this.failures > 0) this.logger.info('list/watch recovered', { failures: this.failures });
    this.failures = 0;
  }

  private markActive(): void {
    this.lastActivityMs = this.timers.now();
  }

  private armWatchdog(): void {
    const limitMs = this.options.watchdogMs ?? 5 * 60_000;
    const check = (): void => {
      if (this.timers.now() - this.lastActivityMs >= limitMs) {
        this.markActive();
        this.attempt?.abort();
      }
      this.watchdog = this.timers.setTimeout(check, limitMs / 4);
    };
    this.watchdog = this.timers.setTimeout(check, limitMs / 4);
  }

  private armResync(): void {
    const periodMs = this.options.resyncPeriodMs ?? 10 * 60_000;
    if (periodMs <= 0) return;
    this.resync = this.timers.setTimeout(() => {
      if (this.synced)
        for (const object of this.cache.values()) this.notify((h) => h.onUpdate?.(object, object));
      this.armResync();
    }, periodMs);
  }
}

/** Another object under the same name: both have a UID and they differ. */
function replaced(cached: KubeObject, received: KubeObject): boolean {
  const before = cached.metadata?.uid;
  const after = received.metadata?.uid;
  return before !== undefined && after !== undefined && before !== after;
}

function cacheKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function keyOf(object: KubeObject): string {
  return cacheKey(object.metadata?.namespace, object.metadata?.name ?? '');
}

/** Settles with `promise`, or rejects as soon as `signal` aborts (a hung call cannot block a restart). */
function abortable<V>(promise: Promise<V>, signal: AbortSignal): Promise<V> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(errorMessage(err)));
      },
    );
  });
}
