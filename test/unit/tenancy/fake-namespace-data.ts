/** An in-memory NamespaceDataStore: documents with a namespace, a time and maybe a namespace UID, and tombstones. */
import type {
  NamespaceDataStore,
  NamespaceTombstone,
  PurgeLimits,
  PurgeTarget,
} from '../../../operator/store/namespace-purge.js';
import { tombstoneId } from '../../../operator/store/namespace-purge.js';

export interface FakeDoc {
  collection: 'snapshots' | 'rollups_1h';
  namespace: string;
  time: number;
  namespaceUid?: string;
}

/** What the store's purge filter selects (store/namespace-purge.ts), written the plain way. */
function purged(target: PurgeTarget, doc: FakeDoc): boolean {
  if (doc.namespace !== target.namespace) return false;
  const early = doc.time <= target.through.getTime();
  if (target.uid !== undefined)
    return doc.namespaceUid === target.uid || (doc.namespaceUid === undefined && early);
  return early && (target.keepUid === undefined || doc.namespaceUid !== target.keepUid);
}

export class FakeNamespaceData implements NamespaceDataStore {
  docs: FakeDoc[] = [];
  stones = new Map<string, NamespaceTombstone>();
  purgeCalls = 0;

  async recordDeletion(t: Omit<NamespaceTombstone, '_id'>): Promise<void> {
    const _id = tombstoneId(t.namespace, t.uid);
    if (!this.stones.has(_id)) this.stones.set(_id, { ...t, _id });
  }
  async tombstones(namespace?: string): Promise<NamespaceTombstone[]> {
    return [...this.stones.values()]
      .filter((s) => namespace === undefined || s.namespace === namespace)
      .sort((a, b) => a.deletedAt.getTime() - b.deletedAt.getTime());
  }
  async removeTombstone(id: string): Promise<void> {
    this.stones.delete(id);
  }
  async purge(target: PurgeTarget, limits: PurgeLimits) {
    this.purgeCalls++;
    const budget = limits.batchSize * limits.maxBatches;
    let deleted = 0;
    let more = false;
    for (const collection of ['snapshots', 'rollups_1h'] as const) {
      const matching = this.docs.filter((d) => d.collection === collection && purged(target, d));
      const gone = new Set(matching.slice(0, budget));
      if (matching.length > budget) more = true;
      this.docs = this.docs.filter((d) => !gone.has(d));
      deleted += gone.size;
    }
    return { deleted, more };
  }
  async namespacesWithData(): Promise<string[]> {
    return [...new Set(this.docs.map((d) => d.namespace))].sort();
  }
  async hasRawDataBefore(namespace: string, time: Date): Promise<boolean> {
    return this.docs.some(
      (d) => d.collection === 'snapshots' && d.namespace === namespace && d.time < time.getTime(),
    );
  }
  async close(): Promise<void> {}
}
