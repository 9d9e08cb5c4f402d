/**
 * The MongoDB store: the one class the operator wires in for writing samples, reading usage and
 * applying retention. Connects lazily (and again after a failure), so an unreachable server at
 * start-up is an outage like any other, handled by the OutageBuffer in front of it.
 */
import { StoredReportLedger, type ReportLedger } from './report-ledger.js';
import { MongoClient } from 'mongodb';
import { errorMessage, type Logger } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import type { Clock, ContainerSample, ObjectKey, Retention, SeriesBase } from '../model.js';
import {
  detectFeatures,
  migrate,
  storeDatabase,
  type ServerFeatures,
  type StoreCollections,
} from './connection.js';
import { DEFAULT_OUTAGE_BUFFER_CAPACITY } from './outage-buffer.js';
import { history, latestSamples, summary, top } from './queries.js';
import { distributions } from './distributions.js';
import { deleteExpired, deleteExpiredSeries, type RetentionLimits } from './retention.js';
import { invalidSampleField } from './snapshots.js';
import type {
  DistributionQuery,
  SeriesDistribution,
  HistoryQuery,
  HistoryResult,
  NodeWriter,
  RetentionRunner,
  SampleWriter,
  SummaryQuery,
  SummaryResult,
  TopQuery,
  TopResult,
  UsageQueries,
  WriteOutcome,
} from './types.js';
import { WritePath, type WritePathOptions } from './write-path.js';
import type { IoBase } from './io-counters.js';

export interface MongoUsageStoreOptions {
  /** `mongodb://...`; a database named in the URI is used unless `database` is given. */
  uri: string;
  database?: string;
  /** See LayoutOptions.ttlBackstop: the longest retention a policy may ask for. */
  ttlBackstop?: Retention;
  /** How long after its end a rollup bucket waits for late samples; default 2 minutes. */
  graceMs?: number;
  /** Retention deletes: ids per delete (default 1,000) and batches per collection and run (default 100). */
  retentionLimits?: Partial<RetentionLimits>;
  /** Ids of samples from failed inserts remembered to roll them up on retry; default the outage buffer's capacity. */
  uncertainCapacity?: number;
  /** How long an operation waits for a reachable server before failing; default 5 s. */
  serverSelectionTimeoutMs?: number;
}

export interface MongoUsageStoreDeps {
  logger: Logger;
  metrics: OperatorMetrics;
  clock: Clock;
}

interface Connected {
  collections: StoreCollections;
  writePath: WritePath;
  features: ServerFeatures;
}

export const DEFAULT_DATABASE = 'kube_usage';

export class MongoUsageStore implements SampleWriter, UsageQueries, RetentionRunner {
  private readonly client: MongoClient;
  private connecting: Promise<Connected> | undefined;
  private connected: Connected | undefined;
  /** Writes run one after another (the write path relies on it). */
  private writes: Promise<unknown> = Promise.resolve();
  private readonly retentionLimits: RetentionLimits;
  /** The leadership term writes carry (0 for a replica without leader election). */
  private term = 0;

  constructor(
    private readonly options: MongoUsageStoreOptions,
    private readonly deps: MongoUsageStoreDeps,
  ) {
    this.client = new MongoClient(options.uri, {
      serverSelectionTimeoutMS: options.serverSelectionTimeoutMs ?? 5_000,
      ignoreUndefined: true,
    });
    this.retentionLimits = { batchSize: 1_000, maxBatches: 100, ...options.retentionLimits };
  }

  /** Reports made once across replicas (report-ledger.ts), in this store's database. */
  readonly reports: ReportLedger = new StoredReportLedger(
    async () => (await this.connection()).collections.reports,
  );

  /** Connects, detects the server's features and migrates the schema; every operation does it when needed. */
  async start(): Promise<ServerFeatures> {
    return (await this.connection()).features;
  }

  /** True when the server answers, else why not (for the readiness probe). */
  async ping(): Promise<true | string> {
    try {
      await (await this.connection()).collections.snapshots.db.command({ ping: 1 });
      return true;
    } catch (err) {
      return errorMessage(err);
    }
  }

  /** Containers whose rollup buckets are open in memory. */
  get trackedContainers(): number {
    return this.connected?.writePath.trackedSeries ?? 0;
  }

  async write(samples: ContainerSample[]): Promise<WriteOutcome> {
    const valid = this.validSamples(samples);
    await this.serialized('write', async (c) => c.writePath.write(valid));
    this.deps.metrics.samplesWritten.inc(valid.length);
    return { written: valid.length, buffered: 0, dropped: 0 };
  }

  latest(namespace: string, pod: string): Promise<ContainerSample[]> {
    return this.timed('latest', (c) => latestSamples(c.collections, namespace, pod));
  }

  history(query: HistoryQuery): Promise<HistoryResult> {
    return this.timed('history', (c) => history(c.collections, query, this.deps.clock.now()));
  }

  top(query: TopQuery): Promise<TopResult> {
    return this.timed('top', (c) => top(c.collections, query, this.deps.clock.now()));
  }

  summary(query: SummaryQuery): Promise<SummaryResult> {
    return this.timed('summary', (c) => summary(c.collections, query, this.deps.clock.now()));
  }

  distributions(query: DistributionQuery): Promise<SeriesDistribution[]> {
    return this.timed('distributions', (c) => distributions(c.collections, query, this.deps.clock.now()));
  }

  /**
   * Writes from now on carry this leadership term (the Lease's fencing token). The next write
   * claims it in the database and recomputes the open buckets there; writes of an older term are
   * refused from then on, here and in any other process.
   */
  beginTerm(term: number): void {
    this.term = term;
    this.connected?.writePath.beginTerm(term);
  }

  /** The latest stored reading of each series (a collector continues them from there). */
  latestReadings(seriesKeys: readonly string[], lookbackMs?: number): Promise<Map<string, SeriesBase>> {
    return this.timed('latest-readings', (c) => c.writePath.latestReadings(seriesKeys, lookbackMs));
  }

  /** The I/O counters each series' latest stored reading with I/O ends at (a new term continues them). */
  latestIoTotals(seriesKeys: readonly string[], lookbackMs?: number): Promise<Map<string, IoBase>> {
    return this.timed('latest-io-totals', (c) => c.writePath.latestIoTotals(seriesKeys, lookbackMs));
  }

  /** The time of the newest stored reading of any series (what a new term continues after). */
  lastReadingTime(): Promise<number | undefined> {
    return this.timed('last-reading-time', (c) => c.writePath.lastReadingTime());
  }

  /**
   * A writer of one node's readings and buckets under the node's own fence (node-fence.ts), for a
   * pipeline that collects that node. Its operations run one after another.
   */
  nodeWriter(node: string): NodeWriter {
    let writePath: WritePath | undefined;
    let queue: Promise<unknown> = Promise.resolve();
    const run = <T>(operation: string, task: (w: WritePath) => Promise<T>): Promise<T> => {
      const result = queue.then(() =>
        this.timed(operation, (c) => {
          writePath ??= new WritePath(c.collections, this.deps.clock, { ...this.writePathOptions(), node });
          return task(writePath);
        }),
      );
      queue = result.catch(() => undefined);
      return result;
    };
    return {
      node,
      take: () => run('node-take', (w) => w.take()),
      write: async (samples) => {
        const valid = this.validSamples(samples);
        await run('node-write', (w) => w.write(valid));
        this.deps.metrics.samplesWritten.inc(valid.length);
        return { written: valid.length, buffered: 0, dropped: 0 };
      },
      latestReadings: (seriesKeys, lookbackMs) =>
        run('latest-readings', (w) => w.latestReadings(seriesKeys, lookbackMs)),
      lastReadingTime: () => run('last-reading-time', (w) => w.lastReadingTime()),
      release: () => run('node-release', (w) => w.flush()),
    };
  }

  async applyExpiry(now: number): Promise<{ deleted: number }> {
    // Closes the buckets that are due first (a leader with nothing to collect writes none
    // otherwise), so the watermarks move on before the finer levels below them expire.
    await this.write([]);
    const deleted = await this.timed('retention', (c) =>
      deleteExpiredSeries(c.collections, now, this.retentionLimits),
    );
    return { deleted };
  }

  async applyRetention(policy: ObjectKey, retention: Retention, now: number): Promise<{ deleted: number }> {
    const deleted = await this.timed('retention', (c) =>
      deleteExpired(c.collections, policy, retention, now, this.retentionLimits),
    );
    return { deleted };
  }

  /**
   * Writes the rollup buckets open in memory, when this replica stops writing: at the end of a
   * leadership term and at shutdown. Readers do not rely on it (they read what is past each
   * watermark from the raw readings), and the next writer recomputes these buckets anyway.
   */
  async flush(): Promise<void> {
    if (this.connected) await this.serialized('flush', (c) => c.writePath.flush());
  }

  /** Flushes (see flush) and disconnects. */
  async close(): Promise<void> {
    await this.flush().catch((err: unknown) =>
      this.deps.logger.warn(
        'could not write open rollup buckets at shutdown; the next writer recomputes them',
        {
          error: errorMessage(err),
        },
      ),
    );
    await this.client.close();
  }

  private writePathOptions(): WritePathOptions {
    return {
      graceMs: this.options.graceMs ?? 120_000,
      uncertainCapacity: this.options.uncertainCapacity ?? DEFAULT_OUTAGE_BUFFER_CAPACITY,
    };
  }

  private validSamples(samples: ContainerSample[]): ContainerSample[] {
    const valid: ContainerSample[] = [];
    let firstProblem: { sample: ContainerSample; field: string } | undefined;
    for (const sample of samples) {
      const field = invalidSampleField(sample);
      if (field === null) valid.push(sample);
      else firstProblem ??= { sample, field };
    }
    if (firstProblem) {
      const rejected = samples.length - valid.length;
      this.deps.metrics.storeErrors.inc({ operation: 'invalid-sample' }, rejected);
      const { sample, field } = firstProblem;
      this.deps.logger.warn('samples rejected by the store', {
        rejected,
        first: `${sample.namespace}/${sample.pod}/${sample.container}`,
        policy: sample.policy,
        problem: field,
      });
    }
    return valid;
  }

  private serialized<T>(operation: string, run: (c: Connected) => Promise<T>): Promise<T> {
    const result = this.writes.then(() => this.timed(operation, run));
    this.writes = result.catch(() => undefined);
    return result;
  }

  private async timed<T>(operation: string, run: (c: Connected) => Promise<T>): Promise<T> {
    const stop = this.deps.metrics.storeLatency.startTimer({ operation });
    try {
      return await run(await this.connection());
    } catch (err) {
      this.deps.metrics.storeErrors.inc({ operation });
      throw err;
    } finally {
      stop();
    }
  }

  private connection(): Promise<Connected> {
    if (this.connected) return Promise.resolve(this.connected);
    this.connecting ??= this.connect().then(
      (connected) => (this.connected = connected),
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }

  private async connect(): Promise<Connected> {
    await this.client.connect();
    const name = this.options.database ?? (dbNameOf(this.options.uri) || DEFAULT_DATABASE);
    const features = await detectFeatures(this.client.db(name));
    const db = storeDatabase(this.client, name, features);
    const collections = await migrate(db, features, { ttlBackstop: this.options.ttlBackstop });
    const writePath = new WritePath(collections, this.deps.clock, this.writePathOptions());
    writePath.beginTerm(this.term);
    this.deps.logger.info('connected to the store', {
      server: features.server,
      database: db.databaseName,
      writeConcern: db.writeConcern?.w ?? 'server default',
      snapshots: collections.snapshotsTimeSeries ? 'time-series' : 'collection',
    });
    return { collections, writePath, features };
  }
}

/** The database named in a MongoDB URI's path, or ''. */
function dbNameOf(uri: string): string {
  const path = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]*)/.exec(uri)?.[1] ?? '';
  return decodeURIComponent(path);
}
