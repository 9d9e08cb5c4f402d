import type { Clock } from '../model.js';

interface Entry<V> {
  value: Promise<V>;
  expiresAt: number;
}

/**
 * A bounded cache of asynchronous results with a time to live. Concurrent loads of one key
 * share a single call; failed loads are not kept. When full, the oldest entry goes first.
 */
export class ExpiringCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The value of a live entry, or undefined. */
  get(key: string): Promise<V> | undefined {
    const cached = this.entries.get(key);
    if (!cached) return undefined;
    if (cached.expiresAt > this.clock.now()) return cached.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Stores a value (bounded: the oldest entry goes first). */
  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value: Promise.resolve(value), expiresAt: this.clock.now() + this.ttlMs });
    if (this.entries.size > this.maxEntries) this.evictOldest();
  }

  getOrLoad(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.clock.now();
    const cached = this.entries.get(key);
    if (cached && cached.expiresAt > now) return cached.value;
    this.entries.delete(key);

    const entry: Entry<V> = { value: load(), expiresAt: now + this.ttlMs };
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) this.evictOldest();
    entry.value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return entry.value;
  }

  private evictOldest(): void {
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}
