/**
 * The store's part in a leadership term, as a leader-only runnable. Started first in a term: the
 * store's writes carry the term's fencing token (writes of an older term are refused, and the
 * first write of a term recomputes the open buckets from the stored readings). Stopped last,
 * after collection: the open buckets are written while the term still holds.
 */
import { errorMessage, type Logger } from '../logging.js';
import type { RunContext, Runnable } from '../runtime/runnable.js';
import type { UsageStore } from './open-store.js';

export class StoreFlushRunnable implements Runnable {
  readonly name = 'store-flush';
  readonly needsLeadership = true;

  constructor(
    private readonly store: Pick<UsageStore, 'beginTerm' | 'flush'>,
    private readonly logger: Logger,
  ) {}

  start({ term }: RunContext): void {
    this.store.beginTerm(term?.fencingToken ?? 0);
  }

  /** Writes what waits in memory; a failure is logged (the term ends regardless). */
  async stop(): Promise<void> {
    await this.store
      .flush()
      .catch(
        (err: unknown) => void this.logger.warn('flushing the store failed', { error: errorMessage(err) }),
      );
  }
}
