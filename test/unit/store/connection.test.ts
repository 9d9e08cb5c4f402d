/**
 * The branches only a real MongoDB takes (TTL indexes, a time-series collection, a replica set's
 * write concern), which the test FerretDB cannot run: feature detection from `buildInfo` and
 * `hello`, the database handle the store writes through, and the layout `migrate` asks for,
 * recorded by a small fake database at the driver boundary. The FerretDB branch and the
 * migration itself run against FerretDB in test/integration/store.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { MongoClient, type Db } from 'mongodb';
import {
  COLLECTION_NAMES,
  detectFeatures,
  MAJORITY_TIMEOUT_MS,
  migrate,
  SCHEMA_VERSION,
  storeDatabase,
  storeWriteConcern,
  type ServerFeatures,
} from '../../../operator/store/connection.js';
import { documentedKeys } from './documented-indexes.js';

interface FakeIndex {
  key: Record<string, number>;
  name: string;
  expireAfterSeconds?: number;
}

/** Just enough of a database for `detectFeatures` and `migrate`; records the commands it is sent. */
class FakeDb {
  readonly databaseName = 'usage';
  readonly collections = new Map<string, { type: string; options: object; indexes: FakeIndex[] }>();
  readonly commands: object[] = [];
  private schema: { _id: string; version: number } | null = null;

  constructor(
    private readonly buildInfo: object,
    private readonly hello: object = { isWritablePrimary: true },
  ) {}

  admin() {
    return {
      command: async (command: Record<string, unknown>) => ('hello' in command ? this.hello : this.buildInfo),
    };
  }

  async command(command: Record<string, unknown>) {
    this.commands.push(command);
    const target = this.collections.get(command.collMod as string);
    const change = command.index as { keyPattern: object; expireAfterSeconds: number } | undefined;
    if (target && change) {
      const index = target.indexes.find((i) => JSON.stringify(i.key) === JSON.stringify(change.keyPattern));
      if (index) index.expireAfterSeconds = change.expireAfterSeconds;
    }
    return { ok: 1 };
  }

  listCollections({ name }: { name: string }) {
    const found = this.collections.get(name);
    return { toArray: async () => (found ? [{ name, type: found.type, options: found.options }] : []) };
  }

  async createCollection(name: string, options: { timeseries?: object } = {}) {
    const type = options.timeseries ? 'timeseries' : 'collection';
    this.collections.set(name, { type, options, indexes: [{ key: { _id: 1 }, name: '_id_' }] });
  }

  collection(name: string) {
    const indexes = () => this.collections.get(name)?.indexes ?? [];
    const add = (key: Record<string, number>, options: { expireAfterSeconds?: number } = {}) => {
      const name = Object.entries(key)
        .map(([field, order]) => `${field}_${order}`)
        .join('_');
      indexes().push({ key, name, ...options });
    };
    return {
      findOne: async () => (name === COLLECTION_NAMES.meta ? this.schema : null),
      updateOne: async (_filter: object, update: { $max: { version: number } }) => {
        this.schema = { _id: 'schema', version: Math.max(this.schema?.version ?? 0, update.$max.version) };
      },
      listIndexes: () => ({ toArray: async () => indexes().map((index) => ({ ...index })) }),
      createIndexes: async (specs: { key: Record<string, number> }[]) => specs.forEach((s) => add(s.key)),
      createIndex: async (key: Record<string, number>, options: { expireAfterSeconds?: number }) =>
        add(key, options),
      dropIndex: async (indexName: string) => {
        const list = indexes();
        list.splice(
          list.findIndex((i) => i.name === indexName),
          1,
        );
      },
    };
  }

  get schemaVersion(): number | undefined {
    return this.schema?.version;
  }

  indexesOf(name: string): FakeIndex[] {
    return this.collections.get(name)?.indexes ?? [];
  }
}

const asDb = (fake: FakeDb) => fake as unknown as Db;
const DAY_MS = 86_400_000;
const MONGODB_8: ServerFeatures = {
  server: 'MongoDB 8.0.4',
  ferretdb: false,
  ttlIndexes: true,
  timeSeries: true,
  replicated: true,
};
const REPLICA_SET_MEMBER = { isWritablePrimary: true, setName: 'rs0' };
const RETENTION = { rawMs: 2 * DAY_MS, hourlyMs: 30 * DAY_MS, dailyMs: 400 * DAY_MS };

describe('detectFeatures', () => {
  it.each([
    [{ version: '8.0.4' }, REPLICA_SET_MEMBER, MONGODB_8],
    [
      { version: '6.0.19' },
      { isWritablePrimary: true },
      { server: 'MongoDB 6.0.19', ferretdb: false, ttlIndexes: true, timeSeries: false, replicated: false },
    ],
    [{ version: '8.0.4' }, { isWritablePrimary: true, msg: 'isdbgrid' }, { ...MONGODB_8, replicated: true }],
    [
      { version: '7.0.42', ferretdbVersion: 'v1.24.2' },
      REPLICA_SET_MEMBER,
      { server: 'FerretDB v1.24.2', ferretdb: true, ttlIndexes: false, timeSeries: false, replicated: false },
    ],
  ])('reads %j and hello %j as %j', async (buildInfo, hello, expected) => {
    expect(await detectFeatures(asDb(new FakeDb(buildInfo, hello)))).toEqual(expected);
  });
});

describe('the write concern of the store', () => {
  const client = (uri: string) => new MongoClient(uri);
  const concernOf = (db: Db) => db.collection(COLLECTION_NAMES.meta).writeConcern;

  it('waits for a majority of a replica set or sharded cluster, journaled, for a bounded time', async () => {
    // The fence, the watermarks and the readings must survive a failover; a connection string
    // asking for less does not lower it.
    for (const uri of ['mongodb://127.0.0.1:9/', 'mongodb://127.0.0.1:9/?w=1&journal=false']) {
      const features = await detectFeatures(asDb(new FakeDb({ version: '8.0.4' }, REPLICA_SET_MEMBER)));
      const db = storeDatabase(client(uri), 'kube_usage_prod', features);
      expect(db.databaseName).toBe('kube_usage_prod');
      expect(concernOf(db)).toMatchObject({ w: 'majority', journal: true, wtimeoutMS: MAJORITY_TIMEOUT_MS });
      for (const name of [
        COLLECTION_NAMES.snapshots,
        COLLECTION_NAMES.rollups['5m'],
        COLLECTION_NAMES.reports,
      ])
        expect(db.collection(name).writeConcern?.w).toBe('majority');
    }
  });

  it('reads from the primary, whatever the connection string prefers', async () => {
    for (const buildInfo of [{ version: '8.0.4' }, { version: '7.0.42', ferretdbVersion: 'v1.24.2' }]) {
      const features = await detectFeatures(asDb(new FakeDb(buildInfo, REPLICA_SET_MEMBER)));
      const db = storeDatabase(client('mongodb://127.0.0.1:9/?readPreference=secondary'), 'usage', features);
      expect(db.collection(COLLECTION_NAMES.meta).readPreference?.mode).toBe('primary');
    }
  });

  it("leaves a single server (FerretDB, a standalone MongoDB) at the connection's own", async () => {
    for (const buildInfo of [{ version: '7.0.42', ferretdbVersion: 'v1.24.2' }, { version: '8.0.4' }]) {
      const features = await detectFeatures(asDb(new FakeDb(buildInfo)));
      expect(storeWriteConcern(features)).toBeUndefined();
      expect(concernOf(storeDatabase(client('mongodb://127.0.0.1:9/'), 'usage', features))).toBeUndefined();
      expect(concernOf(storeDatabase(client('mongodb://127.0.0.1:9/?w=1'), 'usage', features))?.w).toBe(1);
    }
  });
});

describe('migrate on a MongoDB with TTL indexes and time-series collections', () => {
  it('keeps raw snapshots in a time-series collection and gives every collection its TTL backstop', async () => {
    const db = new FakeDb({});
    const collections = await migrate(asDb(db), MONGODB_8, { ttlBackstop: RETENTION });

    expect(collections.snapshotsTimeSeries).toBe(true);
    const snapshots = db.collections.get(COLLECTION_NAMES.snapshots);
    expect(snapshots?.type).toBe('timeseries');
    expect(snapshots?.options).toEqual({
      timeseries: { timeField: 'time', metaField: 'series', granularity: 'seconds' },
      expireAfterSeconds: 2 * 86_400,
    });
    // A rollup bucket expires after its level's retention plus its own width.
    const ttl = (name: string) =>
      db.indexesOf(name).find((i) => JSON.stringify(i.key) === '{"time":1}')?.expireAfterSeconds;
    expect(ttl(COLLECTION_NAMES.rollups['5m'])).toBe(2 * 86_400 + 300);
    expect(ttl(COLLECTION_NAMES.rollups['1h'])).toBe(30 * 86_400 + 3_600);
    expect(ttl(COLLECTION_NAMES.rollups['1d'])).toBe(400 * 86_400 + 86_400);
    expect(db.schemaVersion).toBe(SCHEMA_VERSION);
  });

  it('changes the TTLs in place when the backstop changes, and creates nothing twice', async () => {
    const db = new FakeDb({});
    await migrate(asDb(db), MONGODB_8, { ttlBackstop: RETENTION });
    const indexCount = () => [...db.collections.keys()].reduce((n, name) => n + db.indexesOf(name).length, 0);
    const created = indexCount();

    await migrate(asDb(db), MONGODB_8, { ttlBackstop: { ...RETENTION, hourlyMs: 90 * DAY_MS } });

    expect(indexCount()).toBe(created);
    expect(db.commands).toContainEqual({
      collMod: COLLECTION_NAMES.rollups['1h'],
      index: { keyPattern: { time: 1 }, expireAfterSeconds: 90 * 86_400 + 3_600 },
    });
    expect(db.commands).not.toContainEqual(
      expect.objectContaining({ collMod: COLLECTION_NAMES.rollups['5m'] }),
    );
  });

  it('keeps snapshots in a plain collection with a TTL index where time-series collections are missing', async () => {
    const db = new FakeDb({});
    const collections = await migrate(
      asDb(db),
      { ...MONGODB_8, timeSeries: false },
      { ttlBackstop: RETENTION },
    );

    expect(collections.snapshotsTimeSeries).toBe(false);
    expect(db.collections.get(COLLECTION_NAMES.snapshots)?.type).toBe('collection');
    expect(db.indexesOf(COLLECTION_NAMES.snapshots)).toContainEqual(
      expect.objectContaining({ key: { time: 1 }, expireAfterSeconds: 2 * 86_400 }),
    );
  });
});

describe('the indexes docs/storage.md lists', () => {
  const keysOf = (db: FakeDb, name: string) => db.indexesOf(name).map((i) => JSON.stringify(i.key));

  it('are the ones the store asks a MongoDB 8 for (snapshots in a time-series collection)', async () => {
    const db = new FakeDb({});
    await migrate(asDb(db), MONGODB_8, { ttlBackstop: RETENTION });
    // A time-series collection has no `_id` index (this fake gives every collection one).
    const snapshots = keysOf(db, COLLECTION_NAMES.snapshots).filter((k) => k !== '{"_id":1}');
    expect(snapshots.sort()).toEqual(documentedKeys(COLLECTION_NAMES.snapshots, true));
    for (const name of Object.values(COLLECTION_NAMES.rollups))
      expect(keysOf(db, name).sort()).toEqual(documentedKeys(name));
  });

  it('are the ones the store asks a MongoDB 6 for (snapshots in a regular collection)', async () => {
    const db = new FakeDb({});
    await migrate(asDb(db), { ...MONGODB_8, timeSeries: false }, { ttlBackstop: RETENTION });
    for (const name of [COLLECTION_NAMES.snapshots, ...Object.values(COLLECTION_NAMES.rollups)])
      expect(keysOf(db, name).sort()).toEqual(documentedKeys(name));
  });
});
