/**
 * Removes the data of deleted namespaces (leader only), keyed by the namespace's UID: when a
 * namespace goes, a tombstone (name, UID, deletion time) is recorded and the data of that UID is
 * deleted in bounded batches, a pass at a time: the documents stamped with it, and those of the
 * name without a UID up to the deletion (store/namespace-purge.ts). A namespace re-created under
 * the name keeps all of its data, buckets that began before the deletion included. A tombstone
 * stays while late writes of the old namespace may still arrive (rollup buckets still open in
 * memory are written when they close: up to a day), and goes with the last of its data.
 *
 * Every sweep interval, a pass also finds what no watch event announced (the operator was down):
 * data under a name that has no namespace in two sweeps in a row, and raw samples from before the creation of the
 * namespace that has the name now (an earlier incarnation).
 */
import { errorMessage, type Logger } from '../logging.js';
import type { TimerHandle, Timers } from '../runtime/clock.js';
import { knownUid, type NamespaceDataStore, type PurgeLimits } from '../store/namespace-purge.js';
import type { CurrentNamespace, NamespaceLedger } from './namespace-ledger.js';

/** Rollup buckets close within a day, plus the write path's grace for late samples. */
export const DEFAULT_SETTLE_MS = 86_400_000 + 5 * 60_000;

export interface NamespacePurgerDeps {
  data: NamespaceDataStore;
  ledger: Pick<NamespaceLedger, 'noteDeletion' | 'forget'>;
  /** The namespaces that exist now (informer cache), by name. */
  namespaces(): ReadonlyMap<string, CurrentNamespace>;
  /** True once the namespace cache holds a complete list. */
  synced(): boolean;
  timers: Timers;
  logger: Logger;
  /** Between passes; default 1 min. A deletion starts a pass at once. */
  intervalMs?: number;
  /** Between searches for deletions no event announced (a scan of the names); default 1 h. */
  sweepIntervalMs?: number;
  /** How long a tombstone outlives the deletion; default {@link DEFAULT_SETTLE_MS}. */
  settleMs?: number;
  /** Per pass and collection; default 1,000 per delete, 20 deletes. */
  limits?: Partial<PurgeLimits>;
  /** Tests: while this returns true, passes record tombstones but delete nothing. */
  held?: () => boolean;
}

export class NamespacePurger {
  readonly name = 'namespace-purge';
  readonly needsLeadership = true;
  private timer?: TimerHandle;
  private running?: Promise<void>;
  private active = false;
  private again = false;
  private failing = false;
  /** Names with data and no namespace in the last pass. */
  private absent = new Set<string>();
  private lastSweepMs = -Infinity;
  private readonly limits: PurgeLimits;

  constructor(private readonly deps: NamespacePurgerDeps) {
    this.limits = { batchSize: 1_000, maxBatches: 20, ...deps.limits };
  }

  /**
   * The namespace informer's handlers (on every replica): a deletion, or a name seen again with
   * another UID (the informer delivers that as the deletion of the old one), is `onDeleted`.
   */
  readonly handlers = {
    onDelete: (namespace: { metadata?: { name?: string; uid?: string } }): void => {
      const { name, uid } = namespace.metadata ?? {};
      if (name && uid) this.onDeleted(name, uid);
    },
  };

  /**
   * A namespace went (informer delete event, on every replica): readers restrict its name at
   * once; the leader records the tombstone and purges.
   */
  onDeleted(name: string, uid: string): void {
    const deletedMs = this.deps.timers.now();
    this.deps.ledger.noteDeletion(name, uid, deletedMs);
    if (!this.active) return;
    const recorded = this.deps.data
      .recordDeletion({ namespace: name, uid, deletedAt: new Date(deletedMs) })
      .then(
        () => this.deps.logger.info('namespace deleted: purging its usage data', { namespace: name, uid }),
        (err: unknown) =>
          this.deps.logger.warn('could not record a deleted namespace; the next pass finds its data', {
            namespace: name,
            uid,
            error: errorMessage(err),
          }),
      );
    void recorded.then(() => this.kick());
  }

  start(): void {
    this.active = true;
    this.absent.clear();
    this.lastSweepMs = -Infinity;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.active = false;
    if (this.timer !== undefined) this.deps.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass: finds unannounced deletions, purges a bounded amount, drops settled tombstones. */
  async runOnce(): Promise<{ deleted: number; more: boolean }> {
    const { data, timers, logger } = this.deps;
    const now = timers.now();
    let deleted = 0;
    let more = false;
    try {
      if (this.deps.synced() && now - this.lastSweepMs >= (this.deps.sweepIntervalMs ?? 3_600_000)) {
        await this.findUnannounced(now);
        this.lastSweepMs = now;
      }
      const stones = this.deps.held?.() ? [] : await data.tombstones();
      const current = stones.length > 0 ? this.deps.namespaces() : new Map<string, CurrentNamespace>();
      for (const stone of stones) {
        const uid = knownUid(stone);
        const keepUid = current.get(stone.namespace)?.uid;
        const target = {
          namespace: stone.namespace,
          through: stone.deletedAt,
          ...(uid !== undefined && { uid }),
          ...(keepUid !== undefined && { keepUid }),
        };
        const result = await data.purge(target, this.limits);
        deleted += result.deleted;
        more ||= result.more;
        if (!result.more && now - stone.deletedAt.getTime() >= (this.deps.settleMs ?? DEFAULT_SETTLE_MS)) {
          await data.removeTombstone(stone._id);
          this.deps.ledger.forget(stone.namespace, stone.uid);
        }
      }
      if (this.failing) logger.info('purging deleted namespaces works again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) logger.warn('purging deleted namespaces failed', { error: errorMessage(err) });
      this.failing = true;
    }
    if (deleted > 0) logger.info('purged usage data of deleted namespaces', { deleted, more });
    return { deleted, more };
  }

  private async findUnannounced(now: number): Promise<void> {
    const { data } = this.deps;
    const current = this.deps.namespaces();
    const absent = new Set<string>();
    for (const name of await data.namespacesWithData()) {
      const namespace = current.get(name);
      if (namespace === undefined) {
        absent.add(name);
        // Twice absent: not a namespace the cache has yet to show.
        if (this.absent.has(name)) {
          this.deps.ledger.noteDeletion(name, 'unknown', now);
          await data.recordDeletion({ namespace: name, uid: 'unknown', deletedAt: new Date(now) });
        }
      } else if (await data.hasRawDataBefore(name, new Date(namespace.createdMs))) {
        const deletedMs = namespace.createdMs - 1;
        const uid = `before-${namespace.uid}`;
        this.deps.ledger.noteDeletion(name, uid, deletedMs);
        await data.recordDeletion({ namespace: name, uid, deletedAt: new Date(deletedMs) });
      }
    }
    this.absent = absent;
  }

  /** Runs a pass now, or right after the one in progress. */
  private kick(): void {
    if (!this.active) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) this.deps.timers.clearTimeout(this.timer);
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = undefined;
      this.running = this.runOnce()
        .then((result) => {
          this.again ||= result.more;
        })
        .finally(() => {
          this.running = undefined;
          const again = this.again;
          this.again = false;
          if (this.active) this.schedule(again ? 0 : (this.deps.intervalMs ?? 60_000));
        });
    }, delayMs);
  }
}
