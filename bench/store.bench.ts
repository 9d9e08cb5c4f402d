/**
 * The store's write path, 10,000 containers per collection cycle at a 30 s interval.
 *
 * (a) CPU: samples -> snapshot documents -> open rollup buckets -> closed bucket documents, in
 *     memory. Target >= 200,000 samples/s on one core.
 * (b) Write path (raw insert + rollups, as MongoUsageStore.write does it) against raw driver
 *     insertMany calls into collections with the same indexes, on the same server in the same
 *     run. Two baselines: (b1) the same snapshot documents only, cycle by cycle in turn, so the
 *     ratio includes the cost of the rollup documents; (b2) every document the write path stored
 *     (the snapshots and the bucket documents), so the ratio is what the write path's own
 *     machinery (dedupe, idempotence guards, buckets) costs over plain inserts. Target ratio
 *     >= 0.7. The server is MONGODB_URI, or a FerretDB started here.
 * (c) Memory held per tracked container (its open buckets at the three stored resolutions): heap plus
 *     ArrayBuffer contents. Target <= 2 KB.
 * (d) Read path: a cluster-wide 30-day summary over 10,000 containers, from day buckets. Target:
 *     at most one document per container per day plus the edges; prints documents read and ms.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BSON, MongoClient } from 'mongodb';
import { silentLogger } from '../operator/logging.js';
import { OperatorMetrics } from '../operator/metrics.js';
import type { ContainerSample } from '../operator/model.js';
import { MongoUsageStore } from '../operator/store/mongo-store.js';
import { COLLECTION_NAMES, migrate } from '../operator/store/connection.js';
import { RESOLUTION_MS, ROLLUP_RESOLUTIONS } from '../operator/store/resolutions.js';
import { summary } from '../operator/store/queries.js';
import type { RollupDoc } from '../operator/store/rollups.js';
import { toSnapshotDoc } from '../operator/store/snapshots.js';
import { RollupTracker } from '../operator/store/tracker.js';
import { histogramSwitch } from '../operator/store/histograms.js';
import { startFerretDB } from '../scripts/testenv/ferretdb.js';

const CONTAINERS = 10_000;
const INTERVAL_MS = 30_000;
/** Cycles written in (b): ten minutes, so that 5m buckets close as in steady state. */
const WRITE_CYCLES = 20;
const START = Date.UTC(2026, 10, 21, 10, 0, 0);

function cycle(n: number): ContainerSample[] {
  const samples: ContainerSample[] = new Array(CONTAINERS);
  for (let i = 0; i < CONTAINERS; i++) {
    const pod = `web-${i >> 1}`;
    samples[i] = {
      time: START + n * INTERVAL_MS + (i % 7) * 100,
      policy: `shop-${i % 50}/usage`,
      namespace: `shop-${i % 50}`,
      pod,
      container: i % 2 === 0 ? 'app' : 'sidecar',
      node: `node-${i % 100}`,
      labels: [
        { k: 'app.kubernetes.io/name', v: 'web' },
        { k: 'pod-template-hash', v: '7d9f8c6b5' },
      ],
      cpuMillicores: 100 + ((i * 7 + n * 13) % 900) + 0.25,
      memoryBytes: 2 ** 27 + ((i * 4099 + n) % 2 ** 20) * 256,
      cpuRequestMillicores: 250,
      cpuLimitMillicores: 1000,
      memoryRequestBytes: 2 ** 28,
      memoryLimitBytes: 2 ** 30,
      cpuPercentOfRequest: 40,
      cpuPercentOfLimit: 10,
      memoryPercentOfRequest: 50,
      memoryPercentOfLimit: 12.5,
      uptimeSeconds: 3600 + n * 30,
      intervalSeconds: 30,
      // What the counter-based collector sends: the span since the previous reading, exact increments.
      podUid: `uid-${i >> 1}`,
      from: START + (n - 1) * INTERVAL_MS + (i % 7) * 100,
      cpuCoreSeconds: 0.03 * (100 + ((i * 7 + n * 13) % 900)),
      memoryByteSeconds: 30 * (2 ** 27 + ((i * 4099 + n) % 2 ** 20) * 256),
      cpuCoreSecondsTotal: 1000 + n * 10,
      containerStartTime: START - 3_600_000,
    };
  }
  return samples;
}

const rate = (samples: number, ms: number) =>
  `${Math.round((samples / ms) * 1000).toLocaleString('en-US')} samples/s`;

/** One measurement of (a): 40 cycles through a fresh tracker, the first ten as warm-up. */
function transformRate(): { samplesPerSecond: number; docsPerSample: number } {
  const tracker = new RollupTracker(120_000);
  let closedDocs = 0;
  let ms = 0;
  for (let n = 0; n < 40; n++) {
    // Made outside the measured time, one cycle at a time as the collector hands them over.
    const samples = cycle(n);
    const started = performance.now();
    const docs = samples.map(toSnapshotDoc);
    const closed = tracker.add(samples).map((bucket) => bucket.toDoc(['bench']));
    if (n >= 10) {
      ms += performance.now() - started;
      closedDocs += closed.length;
    }
    if (docs.length !== samples.length) throw new Error('lost samples');
  }
  const measured = 30 * CONTAINERS;
  return { samplesPerSecond: (measured / ms) * 1000, docsPerSample: closedDocs / measured };
}

function transformBench(histograms = true): void {
  histogramSwitch.enabled = histograms;
  // Five measurements: on a shared machine one alone says little.
  const runs = Array.from({ length: 5 }, transformRate);
  histogramSwitch.enabled = true;
  const rates = runs.map((r) => r.samplesPerSecond).sort((a, b) => a - b);
  const format = (rate: number) => Math.round(rate).toLocaleString('en-US');
  console.log(
    `(a) transform + rollups in memory${histograms ? '' : ' WITHOUT histograms'}: median ${format(rates[2] as number)} samples/s on one core ` +
      `(5 runs: ${format(rates[0] as number)} to ${format(rates[4] as number)}; target >= 200,000); ` +
      `${(runs[0] as { docsPerSample: number }).docsPerSample.toFixed(2)} bucket documents per sample`,
  );
}

async function writeBench(uri: string, server: string, histograms = true): Promise<void> {
  histogramSwitch.enabled = histograms;
  const client = await MongoClient.connect(uri);
  const suffix = Date.now().toString(36);
  const baselineDb = client.db(`bench_insert_${suffix}`);
  const storeDb = `bench_store_${suffix}`;
  const store = new MongoUsageStore(
    { uri, database: storeDb },
    { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => START } },
  );
  try {
    const features = await store.start();
    // The baselines get the same collections and indexes as the store.
    const baseline = await migrate(baselineDb, features);
    let snapshotsMs = 0;
    let storeMs = 0;
    for (let n = 0; n < WRITE_CYCLES; n++) {
      const samples = cycle(n);
      const docs = samples.map(toSnapshotDoc);
      let started = performance.now();
      await baseline.snapshots.insertMany(docs, { ordered: false });
      snapshotsMs += performance.now() - started;
      started = performance.now();
      await store.write(samples);
      storeMs += performance.now() - started;
    }
    // (b2): the bucket documents the cycles stored, inserted as they are, in as many batches.
    let bucketsMs = 0;
    let bucketDocs = 0;
    let bucketBytes = 0;
    let histogramBytes = 0;
    for (const resolution of ROLLUP_RESOLUTIONS) {
      const stored = await client
        .db(storeDb)
        .collection<RollupDoc>(COLLECTION_NAMES.rollups[resolution])
        .find()
        .toArray();
      bucketDocs += stored.length;
      for (const doc of stored) {
        bucketBytes += BSON.serialize(doc).length;
        if (doc.hist) histogramBytes += BSON.serialize({ hist: doc.hist }).length;
      }
      const batch = Math.ceil(stored.length / WRITE_CYCLES);
      for (let i = 0; i < stored.length; i += batch) {
        const started = performance.now();
        await baseline.rollups[resolution].insertMany(stored.slice(i, i + batch), { ordered: false });
        bucketsMs += performance.now() - started;
      }
    }
    const total = WRITE_CYCLES * CONTAINERS;
    const closeStarted = performance.now();
    await store.close();
    const closeMs = performance.now() - closeStarted;
    const ratio = (baselineMs: number) => `${(baselineMs / storeMs).toFixed(2)} (target >= 0.7)`;
    // Ten minutes close fewer 5m (and no 1h or 1d) buckets than the long run does: (b1) again at
    // the steady-state mix, charging all of the write path's time beyond the snapshots to buckets.
    const steadyDocsPerSample = ROLLUP_RESOLUTIONS.reduce((n, r) => n + INTERVAL_MS / RESOLUTION_MS[r], 0);
    const snapshotMsPerSample = snapshotsMs / total;
    const bucketMsPerDoc = (storeMs - snapshotsMs) / bucketDocs;
    const steadyRatio = snapshotMsPerSample / (snapshotMsPerSample + steadyDocsPerSample * bucketMsPerDoc);
    console.log(
      `(b) ${server}${histograms ? '' : ' WITHOUT histograms'}, ${WRITE_CYCLES} cycles of ${CONTAINERS.toLocaleString('en-US')}: write path ${rate(total, storeMs)} ` +
        `(${bucketDocs.toLocaleString('en-US')} bucket documents written with the snapshots)\n` +
        `    (b1) vs insertMany of the snapshot documents (${rate(total, snapshotsMs)}): ratio ${ratio(snapshotsMs)}\n` +
        `         at the steady-state ${steadyDocsPerSample.toFixed(2)} bucket documents per sample ` +
        `(${Math.round(snapshotMsPerSample * 1000)} us per snapshot, ${Math.round(bucketMsPerDoc * 1000)} us per bucket): ` +
        `ratio ${steadyRatio.toFixed(2)}\n` +
        `    (b2) vs insertMany of every document stored (snapshots and buckets): ratio ${ratio(snapshotsMs + bucketsMs)}\n` +
        `    writing the open buckets at shutdown: ${Math.round(closeMs)} ms\n` +
        `    bucket documents: ${Math.round(bucketBytes / Math.max(1, bucketDocs))} bytes on average, of which the histograms ` +
        `${Math.round(histogramBytes / Math.max(1, bucketDocs))} (${((100 * histogramBytes) / Math.max(1, bucketBytes)).toFixed(1)}%)`,
    );
  } finally {
    histogramSwitch.enabled = true;
    // Best effort: the figures (or the error) matter more than the cleanup.
    await store.close().catch(() => undefined);
    await client
      .db(storeDb)
      .dropDatabase()
      .catch(() => undefined);
    await baselineDb.dropDatabase().catch(() => undefined);
    await client.close();
  }
}

function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Adds `cycles` cycles. In a function of its own: a loop in heapBench would leave the last
 * cycle's 10,000 samples in its frame (an interpreter register) when `after` is measured, and
 * charge them (about 0.65 KB per container) to the tracker, which does not keep them.
 */
function fill(tracker: RollupTracker, cycles: number): void {
  for (let n = 0; n < cycles; n++) tracker.add(cycle(n));
}

function heapBench(histograms = true): void {
  histogramSwitch.enabled = histograms;
  const gc = collectGarbage();
  // The open buckets are Float64Arrays: their contents count as ArrayBuffer memory, not heap.
  const used = () => {
    gc();
    gc();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    return heapUsed + arrayBuffers;
  };
  const before = used();
  const tracker = new RollupTracker(120_000);
  // Steady state: a few cycles in, with every resolution's bucket open. Everything the tracker
  // keeps counts, including the strings of its series' identities.
  fill(tracker, 3);
  const after = used();
  histogramSwitch.enabled = true;
  console.log(
    `(c) memory (heap + array buffers) per tracked container${histograms ? '' : ' WITHOUT histograms'}: ${((after - before) / tracker.trackedSeries / 1024).toFixed(2)} KB ` +
      `(${tracker.trackedSeries.toLocaleString('en-US')} containers, ${ROLLUP_RESOLUTIONS.length} open buckets each; target <= 2 KB)`,
  );
}

const DAY_MS = 86_400_000;
const READ_DAYS = 30;

/** Day buckets of 10,000 containers over 30 days, and a cluster-wide summary of them. */
async function readBench(uri: string, server: string): Promise<void> {
  const client = await MongoClient.connect(uri);
  const db = client.db(`bench_read_${Date.now().toString(36)}`);
  try {
    // The features as the store detects them; the store is closed, or its client keeps the process alive.
    const probe = new MongoUsageStore(
      { uri, database: db.databaseName },
      { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => START } },
    );
    const features = await probe.start();
    await probe.close();
    const collections = await migrate(db, features);
    const to = Math.floor(START / DAY_MS) * DAY_MS;
    const from = to - READ_DAYS * DAY_MS;
    const metric = (value: number) => ({
      n: 2880,
      sum: value * 2880,
      min: value,
      max: value,
      integral: value * 86_400,
      billedIntegral: value * 86_400,
      ms: DAY_MS,
    });
    for (let day = 0; day < READ_DAYS; day++) {
      const time = from + day * DAY_MS;
      const docs: RollupDoc[] = Array.from({ length: CONTAINERS }, (_, i) => ({
        _id: `1d|${time}|uid-${i}/app`,
        series: `uid-${i}/app`,
        time: new Date(time),
        policy: `shop-${i % 50}/usage`,
        namespace: `shop-${i % 50}`,
        pod: `web-${i}`,
        container: 'app',
        labels: [{ k: 'team', v: `t${i % 7}` }],
        count: 2880,
        cpu: metric(100 + (i % 900)),
        memory: metric(2 ** 27),
        parts: ['bench'],
      }));
      await collections.rollups['1d'].insertMany(docs, { ordered: false });
    }
    await collections.meta.updateOne(
      { _id: 'watermarks' },
      { $set: { '5m': to, '1h': to, '1d': to } },
      { upsert: true },
    );
    const stats = { documentsRead: 0 };
    const started = performance.now();
    const answer = await summary(collections, { from, to, groupBy: { kind: 'namespace' } }, to, stats);
    const ms = performance.now() - started;
    const containers = answer.items.reduce((n, e) => n + e.containers, 0);
    console.log(
      `(d) ${server}, cluster-wide ${READ_DAYS}-day summary over ${containers.toLocaleString('en-US')} containers: ` +
        `${stats.documentsRead.toLocaleString('en-US')} documents read ` +
        `(${(stats.documentsRead / containers / READ_DAYS).toFixed(2)} per container per day; target <= 1 plus the edges), ` +
        `${Math.round(ms).toLocaleString('en-US')} ms; coverage ${answer.coverage.ratio}`,
    );
  } finally {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
  }
}

export async function run(): Promise<void> {
  heapBench(false); // first, on a heap without the garbage of the others
  heapBench();
  // The histograms' cost: each measurement also without them (the write path's only difference).
  transformBench(false);
  transformBench();
  const given = process.env.MONGODB_URI;
  if (given) {
    await writeBench(given, 'MONGODB_URI', false);
    await writeBench(given, 'MONGODB_URI');
    await readBench(given, 'MONGODB_URI');
    return;
  }
  const ferretdb = await startFerretDB();
  try {
    await writeBench(ferretdb.uri, 'FerretDB (SQLite)', false);
    await writeBench(ferretdb.uri, 'FerretDB (SQLite)');
    await readBench(ferretdb.uri, 'FerretDB (SQLite)');
  } finally {
    await ferretdb.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
