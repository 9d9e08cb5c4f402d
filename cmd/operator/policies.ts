/**
 * The UsagePolicy controller: it schedules each valid policy's collection, records which
 * policies collect now in the active-policies registry (the one writer of it), and shows
 * collection and right-sizing in each policy's status.
 */
import type { RightsizingSummaries } from '../../controllers/usagepolicy/reconcile.js';
import { setupUsagePolicyController, type UsagePolicySetup } from '../../controllers/usagepolicy/setup.js';
import type { ScheduledCollection } from '../../operator/collector/scheduled-collection.js';
import type { ActivePolicyRegistry } from '../../operator/policies/active-policies.js';
import type { UsageStore } from '../../operator/store/index.js';
import type { OperatorBase } from './base.js';
import type { Caches } from './caches.js';

export function buildPolicies(
  base: OperatorBase,
  parts: {
    caches: Caches;
    collection: ScheduledCollection;
    store: UsageStore;
    activePolicies: ActivePolicyRegistry;
    rightsizing: RightsizingSummaries;
  },
): UsagePolicySetup {
  const { config, logger, timers } = base;
  const { policies, pods, namespaces, podIndex } = parts.caches;
  return setupUsagePolicyController(
    { policies, pods, namespaces },
    {
      caches: {
        policy: (ns, name) => policies.get(ns, name),
        policies: () => policies.list(),
        namespaces: () => namespaces.list(),
        pods: podIndex,
      },
      collection: parts.collection,
      store: parts.store.health,
      status: base.statusWriter('usagepolicies', 'UsagePolicy'),
      active: parts.activePolicies,
      operatorNamespace: config.namespace,
      bounds: config.bounds,
      rightsizing: parts.rightsizing,
      clock: timers,
      logger: logger.child({ controller: 'usagepolicy' }),
    },
    base.controllerOptions,
  );
}
