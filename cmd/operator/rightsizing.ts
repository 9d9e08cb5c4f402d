/**
 * Right-sizing: the recommender (served by the HTTP API on every replica) and, during a
 * leadership term, the loop that summarizes each active policy's namespace for its status and
 * reports OOM kills below the recommendation as Events.
 */
import type { ActivePolicies } from '../../operator/policies/active-policies.js';
import { Recommender } from '../../operator/recommend/recommender.js';
import { RightsizingLoop } from '../../operator/recommend/rightsizing-loop.js';
import { ownerLookupOf } from '../../operator/recommend/workloads.js';
import type { UsageStore } from '../../operator/store/index.js';
import type { OperatorBase } from './base.js';
import type { Caches } from './caches.js';

export interface RightsizingParts {
  recommender: Recommender;
  loop: RightsizingLoop;
}

export function buildRightsizing(
  { config, logger, timers, clients, recorder }: OperatorBase,
  { store, caches, activePolicies }: { store: UsageStore; caches: Caches; activePolicies: ActivePolicies },
): RightsizingParts {
  const recommender = new Recommender({
    queries: caches.queries,
    pods: caches.podIndex,
    owners: ownerLookupOf(clients.controllerLister()),
    prices: config.prices,
  });
  const loop = new RightsizingLoop({
    recommender,
    policies: () => activePolicies.keys(),
    events: recorder,
    reports: store.reports,
    timers,
    logger: logger.child({ component: 'rightsizing' }),
    intervalMs: config.rightsizingIntervalMs,
    firstRunMs: Math.min(30_000, config.rightsizingIntervalMs),
  });
  return { recommender, loop };
}
