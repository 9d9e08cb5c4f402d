/**
 * Seeds the shared series cursors (or any per-series bases, e.g. the node agents' I/O counters)
 * from the store at the start of a leadership term, lazily:
 * - Before the term's first reading is accounted (when the source tells it), the time of the
 *   store's newest reading is asked for once (what the store accounts up to): a container
 *   started after it has no stored reading and is billed from its start, so a pod started (or
 *   restarted) during the failover loses nothing. While the store cannot answer, every series waits; after `attempts` cycles the term
 *   goes on with the term's start as that time (the failover's new containers are then only a
 *   base: usage is lost, never billed twice).
 * - The first time a cycle meets a series, its last stored reading is asked for (once per series
 *   per term, concurrent cycles sharing one lookup), so a new leader continues the series where
 *   the previous one stopped and the failover window is billed by the first counter difference.
 *   While the store cannot answer, the series waits (its readings are not accounted, so nothing
 *   is billed twice) for up to `attempts` cycles, then starts without a base.
 * See docs/accounting.md (failover).
 */
import type { Logger } from '../logging.js';
import { errorMessage } from '../logging.js';
import type { SeriesBase } from '../model.js';

/** What is seeded: the series cursors (SeriesCursors), or the agents' I/O bases (sources/agent/agent-io.ts). */
export interface SeededSeries<B> {
  has(key: string): boolean;
  seed(key: string, base: B): void;
  /** Where billing from a container's start begins this term (the series cursors only). */
  accountedUntil?(time: number): void;
}

/** Where the bases are read: the store's last reading of each series. */
export interface BaseSource<B> {
  latestReadings(keys: readonly string[]): Promise<Map<string, B>>;
  /** The time of the store's newest reading (the series cursors' source; see SeriesBaseSource). */
  lastReadingTime?(): Promise<number | undefined>;
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
  /** Whether this term knows what the store accounts up to (or gave up asking). */
  private horizonSettled = false;
  private horizonFailures = 0;
  private horizonLookup: Promise<boolean> | undefined;

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
    this.horizonSettled = false;
    this.horizonFailures = 0;
    this.horizonLookup = undefined;
  }

  /** Drops what is kept for series of pods that are gone. */
  prune(live: (podUid: string) => boolean): void {
    for (const key of this.settled) if (!live(key.slice(0, key.lastIndexOf('/')))) this.settled.delete(key);
  }

  /** Seeds the series of `keys` that are new this term; resolves the keys that are not ready yet. */
  async prepare(keys: Iterable<string>): Promise<Set<string>> {
    const notReady = new Set<string>();
    if (this.source === undefined) return notReady;
    if (!(await this.horizon())) {
      for (const key of keys) if (!this.cursors.has(key)) notReady.add(key);
      return notReady;
    }
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

  /** Whether the term's horizon is settled; asks the store once for all concurrent cycles. */
  private horizon(): Promise<boolean> {
    if (this.horizonSettled || this.source?.lastReadingTime === undefined) return Promise.resolve(true);
    this.horizonLookup ??= this.lookupHorizon();
    return this.horizonLookup;
  }

  private async lookupHorizon(): Promise<boolean> {
    const term = this.term;
    let time: number | undefined;
    try {
      time = await this.source!.lastReadingTime!();
    } catch (err) {
      if (term !== this.term) return false;
      this.horizonLookup = undefined;
      this.failed(err, 'cannot read from the store what it accounts up to: new series wait');
      if (++this.horizonFailures < this.attempts) return false;
      this.horizonSettled = true;
      this.options.logger.warn(
        "the store's newest reading is unknown: containers started during the failover are billed from their first reading",
        { attempts: this.horizonFailures },
      );
      return true;
    }
    if (term !== this.term) return false;
    this.recovered();
    this.horizonSettled = true;
    if (time !== undefined) {
      this.cursors.accountedUntil?.(time);
      this.options.logger.info("collection continues after the store's newest reading", {
        lastReadingTime: new Date(time).toISOString(),
      });
    }
    return true;
  }

  private failed(err: unknown, message: string): void {
    if (this.failing) return;
    this.failing = true;
    this.options.logger.warn(message, { bases: this.options.what ?? 'series', error: errorMessage(err) });
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.options.logger.info('series bases read from the store again', {
      bases: this.options.what ?? 'series',
    });
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
      this.failed(err, 'cannot read the series bases from the store: new series wait');
      return false;
    }
    if (term !== this.term) return false;
    this.recovered();
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
