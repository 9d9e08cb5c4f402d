/**
 * Seeds the shared series cursors (or any per-series bases, e.g. the node agents' I/O counters)
 * from the store at the start of a leadership term, lazily: the
 * first time a cycle meets a series, its last stored reading is asked for (once per series per
 * term, concurrent cycles sharing one lookup), so a new leader continues the series where the
 * previous one stopped and the failover window is billed by the first counter difference.
 * While the store cannot answer, the series waits (its readings are not accounted, so nothing is
 * billed twice) for up to `attempts` cycles, then starts without a base.
 */
import type { Logger } from '../logging.js';
import { errorMessage } from '../logging.js';
import type { SeriesBase } from '../model.js';

/** What is seeded: the series cursors (SeriesCursors), or the agents' I/O bases (sources/agent-io.ts). */
export interface SeededSeries<B> {
  has(key: string): boolean;
  seed(key: string, base: B): void;
}

/** Where the bases are read: the store's last reading of each series. */
export interface BaseSource<B> {
  latestReadings(keys: readonly string[]): Promise<Map<string, B>>;
}

export interface SeriesSeedingOptions {
  /** Lookups of a series before it starts without a base. Default 3. */
  attempts?: number;
  /** What the bases are of, in the log (e.g. `I/O`); default `series`. */
  what?: string;
  logger: Logger;
}

export class SeriesSeeding<B = SeriesBase> {
  /** Series asked for this term (answered, or given up on). */
  private readonly settled = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly attempts: number;
  private failing = false;
  private term = 0;

  constructor(
    private readonly cursors: SeededSeries<B>,
    private readonly source: BaseSource<B> | undefined,
    private readonly options: SeriesSeedingOptions,
  ) {
    this.attempts = Math.max(1, options.attempts ?? 3);
  }

  /** A new term: every series is asked for again. */
  reset(): void {
    this.term++;
    this.settled.clear();
    this.failures.clear();
    this.inFlight.clear();
  }

  /** Drops what is kept for series of pods that are gone. */
  prune(live: (podUid: string) => boolean): void {
    for (const key of this.settled) if (!live(key.slice(0, key.lastIndexOf('/')))) this.settled.delete(key);
  }

  /** Seeds the series of `keys` that are new this term; resolves the keys that are not ready yet. */
  async prepare(keys: Iterable<string>): Promise<Set<string>> {
    const notReady = new Set<string>();
    if (this.source === undefined) return notReady;
    const ask: string[] = [];
    const waits: Promise<void>[] = [];
    for (const key of keys) {
      if (this.settled.has(key) || this.cursors.has(key)) continue;
      const pending = this.inFlight.get(key);
      if (pending) {
        waits.push(
          pending.then((ok) => {
            if (!ok) notReady.add(key);
          }),
        );
      } else ask.push(key);
    }
    if (ask.length > 0) {
      const lookup = this.lookup(ask);
      for (const key of ask) this.inFlight.set(key, lookup);
      waits.push(
        lookup.then((ok) => {
          if (!ok) for (const key of ask) if (!this.settled.has(key)) notReady.add(key);
        }),
      );
    }
    await Promise.all(waits);
    return notReady;
  }

  private async lookup(keys: string[]): Promise<boolean> {
    const term = this.term;
    let bases;
    try {
      bases = await this.source!.latestReadings(keys);
    } catch (err) {
      if (term !== this.term) return false;
      for (const key of keys) {
        this.inFlight.delete(key);
        const failures = (this.failures.get(key) ?? 0) + 1;
        if (failures >= this.attempts) {
          this.failures.delete(key);
          this.settled.add(key);
        } else this.failures.set(key, failures);
      }
      if (!this.failing) {
        this.failing = true;
        this.options.logger.warn('cannot read the series bases from the store: new series wait', {
          bases: this.options.what ?? 'series',
          error: errorMessage(err),
          series: keys.length,
        });
      }
      return false;
    }
    if (term !== this.term) return false;
    if (this.failing) {
      this.failing = false;
      this.options.logger.info('series bases read from the store again', {
        bases: this.options.what ?? 'series',
      });
    }
    for (const key of keys) {
      this.inFlight.delete(key);
      this.failures.delete(key);
      this.settled.add(key);
      const base = bases.get(key);
      if (base) this.cursors.seed(key, base);
    }
    return true;
  }
}
