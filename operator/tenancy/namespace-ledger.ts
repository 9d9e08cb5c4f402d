/**
 * Which incarnation of a namespace name the readers may see: the namespace that exists now
 * (from the informer cache on this replica) and the last deletion recorded under its name (a
 * tombstone in the store, or a deletion this replica's informer saw, whichever is later). A
 * name with no recorded deletion is read as it is.
 */
import type { NamespaceDataStore } from '../store/namespace-purge.js';

export interface CurrentNamespace {
  uid: string;
  /** metadata.creationTimestamp, ms since epoch. */
  createdMs: number;
}

/** What readers of one namespace name may see. */
export type Incarnation =
  | { kind: 'unrestricted' }
  /** The name was deleted and not re-created: nothing of it is readable. */
  | { kind: 'gone' }
  /** Re-created: only what was stored after the deletion (`time > deletedMs`). */
  | { kind: 'since'; deletedMs: number; createdMs: number };

export interface NamespaceLedgerDeps {
  current(name: string): CurrentNamespace | undefined;
  data: Pick<NamespaceDataStore, 'tombstones'>;
  /** For forgetting deletions seen here after `settleMs` (the store's tombstone has gone by then). */
  clock?: { now(): number };
  /** Default: the purge's settle time, a day and 5 minutes. */
  settleMs?: number;
}

const DEFAULT_LEDGER_SETTLE_MS = 86_400_000 + 5 * 60_000;

export class NamespaceLedger {
  /** Deletions this replica's informer saw (name -> latest deletion), until the store has them. */
  private readonly seen = new Map<string, { uid: string; deletedMs: number }>();

  constructor(private readonly deps: NamespaceLedgerDeps) {}

  /** A namespace went (informer delete event). */
  noteDeletion(name: string, uid: string, deletedMs: number): void {
    // Deletions seen long enough ago are the store's business (or purged): bounded memory.
    const expired = (this.deps.clock?.now() ?? Date.now()) - (this.deps.settleMs ?? DEFAULT_LEDGER_SETTLE_MS);
    for (const [seenName, seen] of this.seen) if (seen.deletedMs < expired) this.seen.delete(seenName);
    const known = this.seen.get(name);
    if (!known || known.deletedMs < deletedMs) this.seen.set(name, { uid, deletedMs });
  }

  /** Forgets a deletion once its purge is complete (the store's tombstone went too). */
  forget(name: string, uid: string): void {
    if (this.seen.get(name)?.uid === uid) this.seen.delete(name);
  }

  async incarnation(name: string): Promise<Incarnation> {
    const current = this.deps.current(name);
    let deletedMs = -Infinity;
    for (const stone of await this.deps.data.tombstones(name))
      if (stone.uid !== current?.uid) deletedMs = Math.max(deletedMs, stone.deletedAt.getTime());
    const seen = this.seen.get(name);
    if (seen && seen.uid !== current?.uid) deletedMs = Math.max(deletedMs, seen.deletedMs);
    if (deletedMs === -Infinity) return { kind: 'unrestricted' };
    if (!current) return { kind: 'gone' };
    return { kind: 'since', deletedMs, createdMs: current.createdMs };
  }
}
