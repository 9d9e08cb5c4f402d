/**
 * The usage store and what runs on it during a leadership term: the flush that fences the
 * term's writes, and retention over the active policies.
 */
import type { ActivePolicies } from '../../operator/policies/active-policies.js';
import { RetentionLoop } from '../../operator/retention-loop.js';
import { StoreFlushRunnable } from '../../operator/store/flush-runnable.js';
import { openStore, type UsageStore } from '../../operator/store/index.js';
import type { OperatorBase } from './base.js';

export interface StoreParts {
  store: UsageStore;
  flush: StoreFlushRunnable;
  retention: RetentionLoop;
}

export async function buildStore(
  { config, logger, metrics, timers }: OperatorBase,
  activePolicies: ActivePolicies,
): Promise<StoreParts> {
  const store = await openStore({
    uri: config.mongodb.uri,
    database: config.mongodb.database,
    outageBufferSize: config.outageBufferSize,
    // No policy may keep data longer than the admin's bounds: the TTL indexes (MongoDB) remove
    // what retention misses (a policy deleted or suspended, an operator that stopped).
    ttlBackstop: config.bounds.maxRetention,
    metrics,
    logger: logger.child({ component: 'store' }),
  });
  return {
    store,
    flush: new StoreFlushRunnable(store, logger),
    retention: new RetentionLoop({
      runner: store.retention,
      policies: activePolicies,
      timers,
      logger: logger.child({ component: 'retention' }),
    }),
  };
}
