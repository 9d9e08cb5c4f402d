/**
 * Wiring of the store for the operator: the MongoDB store behind an outage buffer, and what the
 * rest of the operator reads from them.
 */
import { errorMessage, type Logger } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import { systemClock, type Clock, type Retention, type SeriesBase } from '../model.js';
import { MongoUsageStore } from './mongo-store.js';
import { OutageBuffer } from './outage-buffer.js';
import type { IoBase } from './io-counters.js';
import type { ReportLedger } from './report-ledger.js';
import type { RetentionRunner, SampleWriter, UsageQueries } from './types.js';

/** What policies show about the store (their Degraded condition). */
export interface StoreHealth {
  /** Samples dropped (oldest first) since the operator started because the buffer was full. */
  droppedSamples(): number;
  /** A message while samples wait in memory for the store, else undefined. */
  outage(): string | undefined;
}

export interface UsageStore {
  /** Buffered writer: never rejects because the store is unreachable. */
  writer: SampleWriter;
  queries: UsageQueries;
  retention: RetentionRunner;
  health: StoreHealth;
  /** Reports made once across replicas and leadership terms. */
  reports: ReportLedger;
  /** True when the server answers, else why not. */
  ping(): Promise<true | string>;
  /**
   * Starts a leadership term: writes carry its fencing token, the first one claims it in the
   * database and recomputes the open buckets there; writes of older terms are refused.
   */
  beginTerm(fencingToken: number): void;
  /** The latest stored reading of each series (podUid/container), for a collector to continue from. */
  latestReadings(seriesKeys: readonly string[], lookbackMs?: number): Promise<Map<string, SeriesBase>>;
  /** The I/O counters each series' latest stored reading with I/O ends at, for the agents' I/O to continue from. */
  latestIoTotals(seriesKeys: readonly string[], lookbackMs?: number): Promise<Map<string, IoBase>>;
  /**
   * The time of the newest stored reading of any series, ms (undefined when none is stored):
   * what the store accounts up to, where a new term's collection continues from.
   */
  lastReadingTime(): Promise<number | undefined>;
  /**
   * Writes what waits in memory (buffered samples, open rollup buckets). Call it when this
   * replica stops writing, at the end of a leadership term, before the lease is released.
   */
  flush(): Promise<void>;
  /** Writes what it can (buffer, open rollup buckets) and disconnects. */
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  uri: string;
  database?: string;
  /** Samples the outage buffer holds at most. */
  outageBufferSize?: number;
  /** The longest retention a policy may ask for (TTL indexes on a real MongoDB). */
  ttlBackstop?: Retention;
  metrics: OperatorMetrics;
  logger: Logger;
  clock?: Clock;
}

/**
 * Creates the store and starts connecting in the background: an unreachable server is an outage
 * (samples are buffered), not a reason to fail start-up.
 */
export async function openStore(options: OpenStoreOptions): Promise<UsageStore> {
  const deps = { logger: options.logger, metrics: options.metrics, clock: options.clock ?? systemClock };
  const store = new MongoUsageStore(
    { uri: options.uri, database: options.database, ttlBackstop: options.ttlBackstop },
    deps,
  );
  const buffer = new OutageBuffer(store, deps, { capacity: options.outageBufferSize });
  await store
    .start()
    .catch((err: unknown) =>
      options.logger.warn('store not reachable at start-up; will retry on use', { error: errorMessage(err) }),
    );
  return {
    writer: buffer,
    queries: store,
    retention: store,
    reports: store.reports,
    health: {
      droppedSamples: () => buffer.droppedTotal,
      outage: () => {
        const status = buffer.status();
        if (status.storeAvailable) return undefined;
        const since = new Date(status.outageSince ?? 0).toISOString();
        const merged =
          status.mergedTotal > 0
            ? ` (${status.mergedTotal} merged into longer spans since start: usage kept, resolution lost)`
            : '';
        return `store unavailable since ${since} (${status.lastError}); ${status.buffered} samples wait in memory${merged}`;
      },
    },
    ping: () => store.ping(),
    beginTerm: (fencingToken) => store.beginTerm(fencingToken),
    latestReadings: (keys, lookbackMs) => store.latestReadings(keys, lookbackMs),
    latestIoTotals: (keys, lookbackMs) => store.latestIoTotals(keys, lookbackMs),
    lastReadingTime: () => store.lastReadingTime(),
    flush: async () => {
      await buffer.flush();
      await store.flush();
    },
    close: async () => {
      await buffer.close();
      await store.close();
    },
  };
}
