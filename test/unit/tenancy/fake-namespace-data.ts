/** An in-memory NamespaceDataStore: documents with a namespace and a time, and tombstones. */
import type {
  NamespaceDataStore,
  NamespaceTombstone,
  PurgeLimits,
} from '../../../operator/store/namespace-purge.js';
import { tombstoneId } from '../../../operator/store/namespace-purge.js';

export interface FakeDoc {
  collection: 'snapshots' | 'rollups_1h';
  namespace: string;
  time: number;
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
  async purge(namespace: string, through: Date, limits: PurgeLimits) {
    this.purgeCalls++;
    const budget = limits.batchSize * limits.maxBatches;
    let deleted = 0;
    let more = false;
    for (const collection of ['snapshots', 'rollups_1h'] as const) {
      const matching = this.docs.filter(
        (d) => d.collection === collection && d.namespace === namespace && d.time <= through.getTime(),
      );
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
