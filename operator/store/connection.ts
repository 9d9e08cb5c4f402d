/**
 * The store's database layout: feature detection (FerretDB or MongoDB), collections, indexes
 * and the schema version. Everything here is idempotent and runs at every start-up.
 */
import { MongoServerError, type Collection, type Db, type IndexDescription } from 'mongodb';
import type { Retention } from '../model.js';
import { keepMs, RESOLUTION_MS, ROLLUP_RESOLUTIONS, type Resolution } from './resolutions.js';
import type { RollupDoc } from './rollups.js';
import type { SnapshotDoc } from './snapshots.js';

/** What the server can do; these are the only branches between FerretDB and MongoDB. */
export interface ServerFeatures {
  /** e.g. `MongoDB 8.0.4` or `FerretDB v1.24.2`. */
  server: string;
  ferretdb: boolean;
  /** TTL indexes (not on FerretDB). */
  ttlIndexes: boolean;
  /** Time-series collections with arbitrary deletes (MongoDB 7 and later). */
  timeSeries: boolean;
}

export async function detectFeatures(db: Db): Promise<ServerFeatures> {
  const info = await db.admin().command({ buildInfo: 1 });
  const ferretdbVersion: unknown = info.ferretdbVersion;
  if (typeof ferretdbVersion === 'string') {
    return { server: `FerretDB ${ferretdbVersion}`, ferretdb: true, ttlIndexes: false, timeSeries: false };
  }
  const version = String(info.version);
  const major = Number.parseInt(version, 10);
  return { server: `MongoDB ${version}`, ferretdb: false, ttlIndexes: true, timeSeries: major >= 7 };
}

export const COLLECTION_NAMES = {
  snapshots: 'snapshots',
  meta: 'meta',
  rollups: { '1m': 'rollups_1m', '5m': 'rollups_5m', '1h': 'rollups_1h', '1d': 'rollups_1d' },
} as const satisfies { rollups: Record<Resolution, string> } & Record<string, unknown>;

interface SchemaDoc {
  _id: 'schema';
  version: number;
}

export interface StoreCollections {
  snapshots: Collection<SnapshotDoc>;
  rollups: Readonly<Record<Resolution, Collection<RollupDoc>>>;
  /** True when raw snapshots live in a time-series collection (no unique `_id` there). */
  snapshotsTimeSeries: boolean;
}

/**
 * The schema version this code writes. Bump it with a new step in `migrate`.
 * - 1: snapshots and rollups at four resolutions.
 * - 2: rollups without the `{namespace, time}` index (`{namespace, pod, time}` serves those
 *   queries), and rollup documents without the fields no reader used (`series`, `node`,
 *   `seconds`, `requestMax`, `limitMax`): both make each of the many bucket writes cheaper.
 *   Documents written by version 1 keep those fields until retention removes them; readers
 *   ignore them.
 */
export const SCHEMA_VERSION = 2;

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
  await meta.updateOne({ _id: 'schema' }, { $max: { version: SCHEMA_VERSION } }, { upsert: true });
  return collectionsOf(db, snapshotsTimeSeries);
}

export function collectionsOf(db: Db, snapshotsTimeSeries: boolean): StoreCollections {
  const rollups = Object.fromEntries(
    ROLLUP_RESOLUTIONS.map((r) => [r, db.collection<RollupDoc>(COLLECTION_NAMES.rollups[r])]),
  ) as Record<Resolution, Collection<RollupDoc>>;
  return { snapshots: db.collection<SnapshotDoc>(COLLECTION_NAMES.snapshots), rollups, snapshotsTimeSeries };
}

/** Indexes every query and the retention deletes use; `time` alone is created with the TTL. */
const SNAPSHOT_INDEXES: IndexDescription['key'][] = [
  { namespace: 1, pod: 1, time: -1 }, // latest, raw history
  { policy: 1, time: 1 }, // retention
];
const ROLLUP_INDEXES: IndexDescription['key'][] = [
  { namespace: 1, pod: 1, time: 1 }, // history; top and summary of some namespaces
  { policy: 1, time: 1 }, // retention
];
/** Indexes earlier versions created and this one does not use (each costs on every write). */
const OBSOLETE_ROLLUP_INDEXES: IndexDescription['key'][] = [
  { namespace: 1, time: 1 }, // until version 2
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
  await ensureIndexes(db.collection(name), SNAPSHOT_INDEXES);
  if (timeSeries) {
    if (ttlSeconds !== undefined) await db.command({ collMod: name, expireAfterSeconds: ttlSeconds });
  } else {
    await ensureTimeIndex(db, name, features.ttlIndexes ? ttlSeconds : undefined);
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
  await ensureIndexes(db.collection(name), ROLLUP_INDEXES);
  await dropIndexes(db.collection(name), OBSOLETE_ROLLUP_INDEXES);
  const keep = options.ttlBackstop && keepMs(resolution, options.ttlBackstop) + RESOLUTION_MS[resolution];
  await ensureTimeIndex(
    db,
    name,
    features.ttlIndexes && keep !== undefined ? Math.ceil(keep / 1000) : undefined,
  );
}

/**
 * Creates the indexes that do not exist yet. (Asking for existing ones again is allowed by MongoDB,
 * but makes FerretDB v1 drop the connection.)
 */
async function ensureIndexes(
  collection: Collection,
  keys: readonly IndexDescription['key'][],
): Promise<void> {
  const existing = new Set(
    (await collection.listIndexes().toArray()).map((index) => JSON.stringify(index.key)),
  );
  const missing = keys.filter((key) => !existing.has(JSON.stringify(key)));
  if (missing.length > 0) await collection.createIndexes(missing.map((key) => ({ key })));
}

/** Drops the indexes that exist; one dropped meanwhile by another replica is not an error. */
async function dropIndexes(collection: Collection, keys: readonly IndexDescription['key'][]): Promise<void> {
  const wanted = new Set(keys.map((key) => JSON.stringify(key)));
  for (const index of await collection.listIndexes().toArray()) {
    if (!wanted.has(JSON.stringify(index.key))) continue;
    try {
      await collection.dropIndex(index.name as string);
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === INDEX_NOT_FOUND)) throw err;
    }
  }
}

/**
 * `{time: 1}`, with a TTL when `ttlSeconds` is given; an existing index gets the TTL changed in
 * place (and keeps one it has when none is asked for: MongoDB cannot remove it).
 */
async function ensureTimeIndex(db: Db, name: string, ttlSeconds: number | undefined): Promise<void> {
  const collection = db.collection(name);
  const current = (await collection.listIndexes().toArray()).find(
    (index) => JSON.stringify(index.key) === '{"time":1}',
  );
  if (current === undefined) {
    await collection.createIndex(
      { time: 1 },
      ttlSeconds === undefined ? {} : { expireAfterSeconds: ttlSeconds },
    );
  } else if (ttlSeconds !== undefined && current.expireAfterSeconds !== ttlSeconds) {
    await db.command({ collMod: name, index: { keyPattern: { time: 1 }, expireAfterSeconds: ttlSeconds } });
  }
}

const NAMESPACE_EXISTS = 48;
const INDEX_NOT_FOUND = 27;

async function ignoreAlreadyExists(creation: Promise<unknown>): Promise<void> {
  try {
    await creation;
  } catch (err) {
    if (!(err instanceof MongoServerError && err.code === NAMESPACE_EXISTS)) throw err;
  }
}
