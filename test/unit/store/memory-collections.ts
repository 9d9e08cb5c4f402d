/**
 * The store's collections in memory, for unit tests of the read side (queries.ts): `find` with
 * the filters the readers use (equality, `$in`, `$nin`, `$gt`/`$gte`/`$lt`/`$lte`, `$exists`,
 * `$not`, `$and`), `toArray`, `sort` by one field, `limit`, `next`, and `findOne`. Nothing else:
 * a reader that needs more fails loudly here.
 */
import type { Collection } from 'mongodb';
import type { StoreCollections } from '../../../operator/store/connection.js';
import { ROLLUP_RESOLUTIONS, type Resolution } from '../../../operator/store/resolutions.js';
import type { RollupDoc } from '../../../operator/store/rollups.js';
import type { SnapshotDoc } from '../../../operator/store/snapshots.js';
import type { MetaDoc } from '../../../operator/store/watermarks.js';

type Doc = Record<string, unknown>;

function comparable(value: unknown): unknown {
  return value instanceof Date ? value.getTime() : value;
}

function fieldOf(doc: Doc, path: string): unknown {
  let value: unknown = doc;
  for (const key of path.split('.')) value = (value as Doc | undefined)?.[key];
  return value;
}

function matchesCondition(value: unknown, condition: unknown): boolean {
  const isOperators =
    condition !== null &&
    typeof condition === 'object' &&
    !(condition instanceof Date) &&
    !Array.isArray(condition) &&
    Object.keys(condition).every((k) => k.startsWith('$'));
  if (!isOperators) return comparable(value) === comparable(condition);
  const v = comparable(value) as number;
  return Object.entries(condition as Doc).every(([op, operand]) => {
    const o = comparable(operand) as number;
    switch (op) {
      case '$in':
        return (operand as unknown[]).some((x) => comparable(x) === comparable(value));
      case '$nin':
        return !(operand as unknown[]).some((x) => comparable(x) === comparable(value));
      case '$gt':
        return value !== undefined && v > o;
      case '$gte':
        return value !== undefined && v >= o;
      case '$lt':
        return value !== undefined && v < o;
      case '$lte':
        return value !== undefined && v <= o;
      case '$exists':
        return (value !== undefined) === operand;
      case '$not':
        return !matchesCondition(value, operand);
      default:
        throw new Error(`memory collection: no ${op}`);
    }
  });
}

export function matches(doc: Doc, filter: Doc): boolean {
  return Object.entries(filter).every(([key, condition]) =>
    key === '$and'
      ? (condition as Doc[]).every((f) => matches(doc, f))
      : matchesCondition(fieldOf(doc, key), condition),
  );
}

class MemoryCursor<T extends Doc> {
  constructor(private docs: T[]) {}
  sort(spec: Record<string, 1 | -1>): this {
    const [[field, direction]] = Object.entries(spec) as [[string, 1 | -1]];
    this.docs = [...this.docs].sort(
      (a, b) =>
        direction * ((comparable(fieldOf(a, field)) as number) - (comparable(fieldOf(b, field)) as number)),
    );
    return this;
  }
  limit(n: number): this {
    this.docs = this.docs.slice(0, n);
    return this;
  }
  async toArray(): Promise<T[]> {
    return this.docs.map((d) => structuredClone(d));
  }
  async next(): Promise<T | null> {
    return this.docs[0] ? structuredClone(this.docs[0]) : null;
  }
}

/** A collection holding `docs` (kept by reference: the test may change them between reads). */
export class MemoryCollection<T extends Doc> {
  /** Number of `find`/`findOne` calls, to check what a read costs. */
  reads = 0;
  constructor(public docs: T[] = []) {}
  find(filter: Doc = {}): MemoryCursor<T> {
    this.reads++;
    return new MemoryCursor(this.docs.filter((d) => matches(d, filter)));
  }
  async findOne(filter: Doc = {}): Promise<T | null> {
    this.reads++;
    const found = this.docs.find((d) => matches(d, filter));
    return found ? structuredClone(found) : null;
  }
}

export interface MemoryStore {
  collections: StoreCollections;
  snapshots: MemoryCollection<SnapshotDoc & Doc>;
  rollups: Record<Resolution, MemoryCollection<RollupDoc & Doc>>;
  meta: MemoryCollection<MetaDoc>;
}

export function memoryStore(): MemoryStore {
  const snapshots = new MemoryCollection<SnapshotDoc & Doc>();
  const meta = new MemoryCollection<MetaDoc>();
  const rollups = Object.fromEntries(
    ROLLUP_RESOLUTIONS.map((r) => [r, new MemoryCollection<RollupDoc & Doc>()]),
  ) as Record<Resolution, MemoryCollection<RollupDoc & Doc>>;
  const collections = {
    snapshots: snapshots as unknown as Collection<SnapshotDoc>,
    meta: meta as unknown as Collection<MetaDoc>,
    reports: new MemoryCollection() as unknown as StoreCollections['reports'],
    rollups: rollups as unknown as StoreCollections['rollups'],
    snapshotsTimeSeries: false,
  } satisfies StoreCollections;
  return { collections, snapshots, rollups, meta };
}
