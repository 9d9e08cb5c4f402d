/**
 * The store's database layout: feature detection (FerretDB or MongoDB), collections, indexes
 * and the schema version. Everything here is idempotent and runs at every start-up.
 */
import {
  MongoServerError,
  ReadPreference,
  type Collection,
  type Db,
  type IndexDescription,
  type MongoClient,
  type WriteConcernSettings,
} from 'mongodb';
import type { Retention } from '../model.js';
import { keepMs, RESOLUTION_MS, ROLLUP_RESOLUTIONS, type Resolution } from './resolutions.js';
import type { ReportDoc } from './report-ledger.js';
import { labelSetId } from './label-sets.js';
import { rollupId, seriesOfDoc, type RollupDoc } from './rollups.js';
import { newestReadingTime, type SnapshotDoc } from './snapshots.js';
import { readWatermarks, type MetaDoc } from './watermarks.js';

/** What the server can do; these are the only branches between FerretDB and MongoDB. */
export interface ServerFeatures {
  /** e.g. `MongoDB 8.0.4` or `FerretDB v1.24.2`. */
  server: string;
  ferretdb: boolean;
  /** TTL indexes (not on FerretDB). */
  ttlIndexes: boolean;
  /** Time-series collections with arbitrary deletes (MongoDB 7 and later). */
  timeSeries: boolean;
  /**
   * A replica set or a sharded cluster (`hello` names a set, or is answered by a mongos): a
   * write can be acknowledged by a majority of the members, and must be (storeWriteConcern).
   */
  replicated: boolean;
}

export async function detectFeatures(db: Db): Promise<ServerFeatures> {
  const info = await db.admin().command({ buildInfo: 1 });
  const ferretdbVersion: unknown = info.ferretdbVersion;
  if (typeof ferretdbVersion === 'string') {
    return {
      server: `FerretDB ${ferretdbVersion}`,
      ferretdb: true,
      ttlIndexes: false,
      timeSeries: false,
      replicated: false,
    };
  }
  const version = String(info.version);
  const major = Number.parseInt(version, 10);
  const hello = await db.admin().command({ hello: 1 });
  const replicated = typeof hello.setName === 'string' || hello.msg === 'isdbgrid';
  return {
    server: `MongoDB ${version}`,
    ferretdb: false,
    ttlIndexes: true,
    timeSeries: major >= 7,
    replicated,
  };
}

/** How long a write waits for a majority of the members before it fails (and is retried). */
export const MAJORITY_TIMEOUT_MS = 10_000;

/**
 * The write concern of every write of the store: a majority of the members, journaled, on a
 * replica set or sharded cluster, whatever the connection string or the server's default says.
 * The fence, the watermarks and the readings are what a new leader continues from after a
 * failover: one acknowledged by the primary alone can be rolled back when it fails, and with it
 * a term's claim (so a stale writer would be let through) or a reading whose span the collector
 * has moved past (usage lost). A write that times out fails; the write path retries it
 * idempotently. Undefined on a single server (FerretDB, a standalone MongoDB): there is nothing
 * to replicate to, and the server's default applies.
 */
export function storeWriteConcern(features: ServerFeatures): WriteConcernSettings | undefined {
  return features.replicated ? { w: 'majority', journal: true, wtimeoutMS: MAJORITY_TIMEOUT_MS } : undefined;
}

/**
 * The store's database on `client`: writes with the store's write concern (storeWriteConcern),
 * reads from the primary whatever the connection string prefers. The write path reads what it has
 * just written (the fence after its claim, a series' latest reading after its insert), and every
 * replica must answer from the same data: a secondary may lag behind both.
 */
export function storeDatabase(client: MongoClient, name: string, features: ServerFeatures): Db {
  const writeConcern = storeWriteConcern(features);
  return client.db(name, {
    readPreference: ReadPreference.primary,
    ...(writeConcern !== undefined && { writeConcern }),
  });
}

export const COLLECTION_NAMES = {
  snapshots: 'snapshots',
  meta: 'meta',
  /** Reports made once across replicas (report-ledger.ts); created on first use. */
  reports: 'reports',
  rollups: { '5m': 'rollups_5m', '1h': 'rollups_1h', '1d': 'rollups_1d' },
} as const satisfies { rollups: Record<Resolution, string> } & Record<string, unknown>;

interface SchemaDoc {
  _id: 'schema';
  version: number;
}

export interface StoreCollections {
  snapshots: Collection<SnapshotDoc>;
  meta: Collection<MetaDoc>;
  reports: Collection<ReportDoc>;
  rollups: Readonly<Record<Resolution, Collection<RollupDoc>>>;
  /** True when raw snapshots live in a time-series collection (no unique `_id` there). */
  snapshotsTimeSeries: boolean;
}

/**
 * The schema version this code writes. Bump it with a new step in `migrate`.
 * - 1: snapshots and rollups at four resolutions.
 * - 2: rollups without the `{namespace, time}` index (`{namespace, pod, time}` serves those
 *   queries), no `{series, time}` index (only the first version 1 layout had it), and rollup
 *   documents without the fields no reader used (`series`, `node`, `seconds`, `requestMax`,
 *   `limitMax`): both make each of the many bucket writes cheaper. Documents written by version 1
 *   keep those fields until retention removes them; readers ignore them.
 * - 3: exact accounting (docs/accounting.md). One series per container (`series` on every
 *   document, pod UID and container name), readings with their span (`from`, increments, counter
 *   base, `term`, `expireAt`), buckets with measured time (`ms`), `term`, `expireAt`,
 *   `finerExpireAt`, and in `meta` the fence and the watermarks. Migrating from 1 or 2 keeps the
 *   data where it is: buckets get their measured time (the bucket's width where it has readings),
 *   the watermarks are set where the previous layout had closed buckets, and `legacy.until`
 *   records where its readings end (a new series starts no earlier, so the first span of a
 *   container seen again is not counted twice). Readers keep one of a container's per-policy
 *   buckets of that layout, as it did.
 * - 4: no 1m buckets. The 1m level was kept exactly as long as the raw readings, so it is
 *   computed from them when asked (history at 1m, the open tail of an answer); its collection,
 *   `rollups_1m`, is dropped, and the 5m buckets past their watermark are recomputed from the
 *   raw readings. Halves the bucket documents written per reading.
 * - 5: what identifies stored data (docs/accounting.md). Readings and buckets carry the UID of
 *   the namespace the usage belongs to (`namespaceUid`), and a bucket holds one series under one
 *   label set: its `_id` ends with the label set's id (label-sets.ts), so a relabelled container
 *   has a bucket per label set where it changed. Migrating re-keys the buckets past each level's
 *   watermark (the ones a new term recomputes and replaces by `_id`); closed buckets keep their
 *   ids: they hold their series under the labels of their latest reading, and a late part merged
 *   into one lands in a document of its own beside it, which readers add. Documents without a
 *   namespace UID belong to whoever had the name at their time.
 */
export const SCHEMA_VERSION = 5;

/** The collection of the 1m buckets that schema 3 and earlier stored. */
export const DROPPED_MINUTE_ROLLUPS = 'rollups_1m';

/** How long after its end the previous layout closed a bucket (its grace period). */
const LEGACY_GRACE_MS = 120_000;

export interface LayoutOptions {
  /**
   * The longest retention any policy may ask for. On a server with TTL indexes, documents older
   * than that are removed by the server too (e.g. the data of a deleted policy). Without it, only
   * the operator's own retention deletes data.
   */
  ttlBackstop?: Retention;
}

/**
 * Brings the database to the current schema: collections, indexes, TTL, schema version. Every
 * step is idempotent, so repeated start-ups are safe, and so are concurrent ones (on FerretDB v1
 * the second of two identical index creations at once loses its connection; the store retries its
 * start on its next use). Refuses a database written by a newer schema.
 */
export async function migrate(
  db: Db,
  features: ServerFeatures,
  options: LayoutOptions = {},
): Promise<StoreCollections> {
  const meta = db.collection<SchemaDoc>(COLLECTION_NAMES.meta);
  const recorded = (await meta.findOne({ _id: 'schema' }))?.version ?? 0;
  if (recorded > SCHEMA_VERSION) {
    throw new Error(
      `database ${db.databaseName} has schema version ${recorded}, newer than this operator's ${SCHEMA_VERSION}; upgrade the operator`,
    );
  }
  const snapshotsTimeSeries = await ensureSnapshots(db, features, options);
  for (const resolution of ROLLUP_RESOLUTIONS) await ensureRollups(db, resolution, features, options);
  const collections = collectionsOf(db, snapshotsTimeSeries);
  if (recorded > 0 && recorded < 3) await migrateToExactAccounting(collections);
  if (recorded > 0 && recorded < 4) await dropMinuteRollups(db);
  if (recorded > 0 && recorded < 5) await keyOpenBucketsByLabelSet(collections);
  await meta.updateOne({ _id: 'schema' }, { $max: { version: SCHEMA_VERSION } }, { upsert: true });
  return collections;
}

/** Step to version 3 (see SCHEMA_VERSION); idempotent, like every step. */
async function migrateToExactAccounting(collections: StoreCollections): Promise<void> {
  for (const resolution of ROLLUP_RESOLUTIONS) {
    const rollups = collections.rollups[resolution];
    for (const metric of ['cpu', 'memory'] as const) {
      const field = `${metric}.ms`;
      await rollups.updateMany(
        { [field]: { $exists: false }, [`${metric}.n`]: { $gt: 0 } },
        { $set: { [field]: RESOLUTION_MS[resolution] } },
      );
      await rollups.updateMany({ [field]: { $exists: false } }, { $set: { [field]: 0 } });
    }
  }
  const end = await newestReadingTime(collections.snapshots);
  if (end === undefined) return;
  await collections.meta.updateOne({ _id: 'legacy' }, { $max: { until: end } }, { upsert: true });
  const marks: Record<string, number> = {};
  for (const resolution of ROLLUP_RESOLUTIONS) {
    const width = RESOLUTION_MS[resolution];
    marks[resolution] = Math.floor((end - LEGACY_GRACE_MS) / width) * width;
  }
  await collections.meta.updateOne({ _id: 'watermarks' }, { $max: marks }, { upsert: true });
}

/** Step to version 4 (see SCHEMA_VERSION); idempotent. */
async function dropMinuteRollups(db: Db): Promise<void> {
  const found = await db.listCollections({ name: DROPPED_MINUTE_ROLLUPS }, { nameOnly: true }).toArray();
  if (found.length > 0) await db.dropCollection(DROPPED_MINUTE_ROLLUPS);
}

/**
 * Step to version 5 (see SCHEMA_VERSION); idempotent. Each bucket past its level's watermark is
 * copied to its `_id` with the label set, then removed under the old one (a step cut short leaves
 * at most the copy and the original of a bucket, which a rerun resolves).
 */
async function keyOpenBucketsByLabelSet(collections: StoreCollections): Promise<void> {
  const marks = await readWatermarks(collections.meta);
  for (const resolution of ROLLUP_RESOLUTIONS) {
    const rollups = collections.rollups[resolution];
    const since = Number.isFinite(marks[resolution]) ? { time: { $gte: new Date(marks[resolution]) } } : {};
    // Buckets of schema 2 (without a series, one per policy) are left as they are.
    for (const doc of await rollups.find({ ...since, series: { $exists: true } }).toArray()) {
      const id = rollupId(resolution, doc.time.getTime(), seriesOfDoc(doc), labelSetId(doc.labels));
      if (doc._id === id) continue;
      try {
        await rollups.insertOne({ ...doc, _id: id });
      } catch (err) {
        if (!(err instanceof MongoServerError && err.code === DUPLICATE_KEY)) throw err;
      }
      await rollups.deleteOne({ _id: doc._id });
    }
  }
}

export function collectionsOf(db: Db, snapshotsTimeSeries: boolean): StoreCollections {
  const rollups = Object.fromEntries(
    ROLLUP_RESOLUTIONS.map((r) => [r, db.collection<RollupDoc>(COLLECTION_NAMES.rollups[r])]),
  ) as Record<Resolution, Collection<RollupDoc>>;
  return {
    snapshots: db.collection<SnapshotDoc>(COLLECTION_NAMES.snapshots),
    meta: db.collection<MetaDoc>(COLLECTION_NAMES.meta),
    reports: db.collection<ReportDoc>(COLLECTION_NAMES.reports),
    rollups,
    snapshotsTimeSeries,
  };
}

/** Indexes every query and the retention deletes use; `time` alone is created with the TTL. */
const SNAPSHOT_INDEXES: IndexDescription['key'][] = [
  { namespace: 1, pod: 1, time: -1 }, // latest, raw history
  { policy: 1, time: 1 }, // retention of data without its own expiry
  { series: 1, time: -1 }, // a series' latest reading (write path, latestReadings)
  { expireAt: 1 }, // retention
  { long: 1, time: 1 }, // the few long spans that reach into a window from far after it
];
const ROLLUP_INDEXES: IndexDescription['key'][] = [
  { namespace: 1, pod: 1, time: 1 }, // history; top and summary of some namespaces
  { policy: 1, time: 1 }, // retention of data without its own expiry
  { expireAt: 1 }, // retention
];
/**
 * Indexes earlier layouts created and this one does not use (each costs on every write):
 * `{series, time}` of the first version 1 layout, `{namespace, time}` of rollups until version 2.
 */
const OBSOLETE_INDEXES: IndexDescription['key'][] = [
  { series: 1, time: 1 },
  { namespace: 1, time: 1 },
];

async function ensureSnapshots(db: Db, features: ServerFeatures, options: LayoutOptions): Promise<boolean> {
  const name = COLLECTION_NAMES.snapshots;
  const ttlSeconds = options.ttlBackstop && Math.ceil(keepMs('raw', options.ttlBackstop) / 1000);
  let existing = (await db.listCollections({ name }).toArray())[0];
  if (existing === undefined) {
    await ignoreAlreadyExists(
      db.createCollection(
        name,
        features.timeSeries
          ? {
              timeseries: { timeField: 'time', metaField: 'series', granularity: 'seconds' },
              ...(ttlSeconds !== undefined && { expireAfterSeconds: ttlSeconds }),
            }
          : {},
      ),
    );
    existing = (await db.listCollections({ name }).toArray())[0];
  }
  const timeSeries = existing?.type === 'timeseries';
  if (timeSeries) {
    await ensureIndexes(db, name, SNAPSHOT_INDEXES, null);
    if (ttlSeconds !== undefined) await db.command({ collMod: name, expireAfterSeconds: ttlSeconds });
  } else {
    await ensureIndexes(db, name, SNAPSHOT_INDEXES, features.ttlIndexes ? ttlSeconds : undefined);
  }
  return timeSeries;
}

async function ensureRollups(
  db: Db,
  resolution: Resolution,
  features: ServerFeatures,
  options: LayoutOptions,
): Promise<void> {
  const name = COLLECTION_NAMES.rollups[resolution];
  if ((await db.listCollections({ name }).toArray()).length === 0)
    await ignoreAlreadyExists(db.createCollection(name));
  const keep = options.ttlBackstop && keepMs(resolution, options.ttlBackstop) + RESOLUTION_MS[resolution];
  await ensureIndexes(
    db,
    name,
    ROLLUP_INDEXES,
    features.ttlIndexes && keep !== undefined ? Math.ceil(keep / 1000) : undefined,
  );
}

/**
 * Creates the indexes that do not exist yet (asking for existing ones again is allowed by
 * MongoDB, but makes FerretDB v1 drop the connection) and drops the obsolete ones. Unless
 * `timeTtlSeconds` is null, also `{time: 1}`, with a TTL when it is a number; an existing one gets
 * the TTL changed in place (and keeps one it has when none is asked for: MongoDB cannot remove it).
 */
async function ensureIndexes(
  db: Db,
  name: string,
  keys: readonly IndexDescription['key'][],
  timeTtlSeconds: number | undefined | null,
): Promise<void> {
  const collection = db.collection(name);
  const existing = new Map(
    (await collection.listIndexes().toArray()).map((index) => [JSON.stringify(index.key), index]),
  );
  const missing = keys.filter((key) => !existing.has(JSON.stringify(key)));
  if (missing.length > 0) await collection.createIndexes(missing.map((key) => ({ key })));
  for (const key of OBSOLETE_INDEXES) {
    const obsolete = existing.get(JSON.stringify(key));
    if (obsolete !== undefined) await dropIndexIfPresent(collection, obsolete.name as string);
  }
  if (timeTtlSeconds === null) return;
  const time = existing.get('{"time":1}');
  if (time === undefined) {
    await collection.createIndex(
      { time: 1 },
      timeTtlSeconds === undefined ? {} : { expireAfterSeconds: timeTtlSeconds },
    );
  } else if (timeTtlSeconds !== undefined && time.expireAfterSeconds !== timeTtlSeconds) {
    await db.command({
      collMod: name,
      index: { keyPattern: { time: 1 }, expireAfterSeconds: timeTtlSeconds },
    });
  }
}

/** One dropped meanwhile by another replica is not an error. */
async function dropIndexIfPresent(collection: Collection, name: string): Promise<void> {
  try {
    await collection.dropIndex(name);
  } catch (err) {
    if (!(err instanceof MongoServerError && err.code === INDEX_NOT_FOUND)) throw err;
  }
}

const NAMESPACE_EXISTS = 48;
const DUPLICATE_KEY = 11000;
const INDEX_NOT_FOUND = 27;

async function ignoreAlreadyExists(creation: Promise<unknown>): Promise<void> {
  try {
    await creation;
  } catch (err) {
    if (!(err instanceof MongoServerError && err.code === NAMESPACE_EXISTS)) throw err;
  }
}
