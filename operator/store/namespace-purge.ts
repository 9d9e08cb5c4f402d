/**
 * What the store keeps of namespaces that are gone: a tombstone per deleted namespace (its name,
 * its UID and when it went), and the removal of the data that namespace left, in bounded
 * batches. It relies only on the collections' names and on the fields every usage document
 * has, `namespace`, `time` and (when the collector knew it) `namespaceUid`, so it does not depend
 * on the rest of the document layout.
 *
 * Data belongs to the namespace's UID: a namespace deleted and re-created under the same name is
 * a new tenant, and the purge of the old one removes the documents stamped with the old UID,
 * whatever their time, and never one stamped with another. Documents without a UID (written by
 * schema 4 and earlier, or before the collector's namespace cache knew the namespace) belong to
 * whoever had the name at their time: those at or before the deletion go. Readers clamp to after
 * the deletion while the purge runs (operator/tenancy/namespace-guard.ts).
 */
import { MongoClient, type Collection, type Db } from 'mongodb';
import { deleteInBatches, type BatchLimits } from './batch-delete.js';
import { COLLECTION_NAMES } from './connection.js';

export const TOMBSTONE_COLLECTION = 'namespace_tombstones';

/** The data collections, each with a `namespace` and a `time` field. */
export const NAMESPACED_COLLECTIONS: readonly string[] = [
  COLLECTION_NAMES.snapshots,
  ...Object.values(COLLECTION_NAMES.rollups),
];

export interface NamespaceTombstone {
  /** `<namespace>|<uid>` */
  _id: string;
  namespace: string;
  /**
   * The deleted namespace's UID; `unknown` when it went while no operator watched, `before-<uid>`
   * for data older than the namespace `<uid>` that has the name (an earlier incarnation).
   */
  uid: string;
  /** Everything stored under the name at or before this time belongs to the deleted namespace. */
  deletedAt: Date;
}

export type PurgeLimits = BatchLimits;

/** What one purge removes: the data of one deleted namespace. */
export interface PurgeTarget {
  namespace: string;
  /** The deleted namespace's UID, when known: documents stamped with it go, whatever their time. */
  uid?: string;
  /** Documents of the name without a UID go when their time is at or before this. */
  through: Date;
  /**
   * Without a known UID, documents stamped with a UID go with the unstamped ones (at or before
   * `through`), except those stamped with this one: the namespace that has the name now.
   */
  keepUid?: string;
}

/** The UID a tombstone names, or undefined for one recorded without it (`unknown`, `before-...`). */
export function knownUid(stone: Pick<NamespaceTombstone, 'uid'>): string | undefined {
  return stone.uid === 'unknown' || stone.uid.startsWith('before-') ? undefined : stone.uid;
}

/** The documents a purge removes, as a filter on `namespace`, `time` and `namespaceUid`. */
export function purgeFilter(target: PurgeTarget): Record<string, unknown> {
  const { namespace, uid, through, keepUid } = target;
  if (uid !== undefined)
    return {
      namespace,
      $or: [{ namespaceUid: uid }, { namespaceUid: { $exists: false }, time: { $lte: through } }],
    };
  return {
    namespace,
    time: { $lte: through },
    ...(keepUid !== undefined && { namespaceUid: { $ne: keepUid } }),
  };
}

export interface PurgeResult {
  deleted: number;
  /** True when a collection still held matching documents after its batches ran out. */
  more: boolean;
}

/** Tombstones and the purge of a deleted namespace's data, on a database of the store. */
export interface NamespaceDataStore {
  recordDeletion(tombstone: Omit<NamespaceTombstone, '_id'>): Promise<void>;
  /** Every tombstone, or those of one namespace name; oldest deletion first. */
  tombstones(namespace?: string): Promise<NamespaceTombstone[]>;
  removeTombstone(id: string): Promise<void>;
  /** Deletes the documents of a deleted namespace (see PurgeTarget), bounded by `limits`. */
  purge(target: PurgeTarget, limits: PurgeLimits): Promise<PurgeResult>;
  /** The namespace names that have data (a scan: call it rarely). */
  namespacesWithData(): Promise<string[]>;
  /** Whether the raw samples hold any of `namespace` from before `time` (an earlier incarnation). */
  hasRawDataBefore(namespace: string, time: Date): Promise<boolean>;
  close(): Promise<void>;
}

export function tombstoneId(namespace: string, uid: string): string {
  return `${namespace}|${uid}`;
}

/** The store's namespace data on a database (the caller owns the connection). */
export class MongoNamespaceData implements Omit<NamespaceDataStore, 'close'> {
  private indexed: Promise<unknown> | undefined;

  constructor(private readonly db: Db) {}

  private get stones(): Collection<NamespaceTombstone> {
    return this.db.collection<NamespaceTombstone>(TOMBSTONE_COLLECTION);
  }

  private ready(): Promise<unknown> {
    // Asked once per process: FerretDB v1 drops the connection on a repeated index creation.
    this.indexed ??= this.stones
      .listIndexes()
      .toArray()
      .catch(() => [])
      .then((indexes) =>
        indexes.some((i) => JSON.stringify(i.key) === '{"namespace":1}')
          ? undefined
          : this.stones.createIndex({ namespace: 1 }),
      )
      .catch((err: unknown) => {
        this.indexed = undefined;
        throw err;
      });
    return this.indexed;
  }

  async recordDeletion(tombstone: Omit<NamespaceTombstone, '_id'>): Promise<void> {
    await this.ready();
    const _id = tombstoneId(tombstone.namespace, tombstone.uid);
    // The first recorded deletion time stays (two replicas, or a watch event replayed).
    // The filter's _id is the new document's (MongoDB refuses to set _id in an update operator).
    await this.stones.updateOne(
      { _id },
      {
        $setOnInsert: { namespace: tombstone.namespace, uid: tombstone.uid, deletedAt: tombstone.deletedAt },
      },
      { upsert: true },
    );
  }

  async tombstones(namespace?: string): Promise<NamespaceTombstone[]> {
    const found = await this.stones.find(namespace === undefined ? {} : { namespace }).toArray();
    return found.sort((a, b) => a.deletedAt.getTime() - b.deletedAt.getTime() || a._id.localeCompare(b._id));
  }

  async removeTombstone(id: string): Promise<void> {
    await this.stones.deleteOne({ _id: id });
  }

  async purge(target: PurgeTarget, limits: PurgeLimits): Promise<PurgeResult> {
    const filter = purgeFilter(target);
    let deleted = 0;
    let more = false;
    for (const name of NAMESPACED_COLLECTIONS) {
      const result = await deleteInBatches(this.db.collection<{ _id: unknown }>(name), filter, limits);
      deleted += result.deleted;
      more ||= result.more;
    }
    return { deleted, more };
  }

  async namespacesWithData(): Promise<string[]> {
    const names = new Set<string>();
    // Raw samples, and the daily rollups that outlive them: every name with data is in one.
    for (const name of [COLLECTION_NAMES.snapshots, COLLECTION_NAMES.rollups['1d']])
      for (const value of await this.db.collection(name).distinct('namespace'))
        if (typeof value === 'string') names.add(value);
    return [...names].sort();
  }

  async hasRawDataBefore(namespace: string, time: Date): Promise<boolean> {
    const found = await this.db
      .collection(COLLECTION_NAMES.snapshots)
      .findOne({ namespace, time: { $lt: time } }, { projection: { _id: 1 } });
    return found !== null;
  }
}

/** Opens its own connection to the store's database (a small pool: one purge at a time, few reads). */
export function openNamespaceData(options: {
  uri: string;
  database: string;
  serverSelectionTimeoutMs?: number;
}): NamespaceDataStore {
  const client = new MongoClient(options.uri, {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMs ?? 5_000,
    maxPoolSize: 4,
    ignoreUndefined: true,
  });
  const data = new MongoNamespaceData(client.db(options.database));
  return {
    recordDeletion: (t) => data.recordDeletion(t),
    tombstones: (ns) => data.tombstones(ns),
    removeTombstone: (id) => data.removeTombstone(id),
    purge: (target, limits) => data.purge(target, limits),
    namespacesWithData: () => data.namespacesWithData(),
    hasRawDataBefore: (ns, time) => data.hasRawDataBefore(ns, time),
    close: () => client.close(),
  };
}
