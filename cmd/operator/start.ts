/**
 * The operator process, wired: what runs on every replica (informer caches, the HTTP API, the
 * node agents' reads), what runs only during a leadership term (the store's flush, collection,
 * retention, right-sizing, the namespace purge, the two controllers), and the Manager that owns
 * their lifecycle. Each concern has its builder in this folder, called here in dependency
 * order; the controllers declare their own watches (controllers/<kind>/setup.ts).
 * `cmd/operator.ts` parses the command line and calls {@link startOperator}; tests call it
 * directly.
 */
import type { OperatorConfig } from '../../operator/config.js';
import type { Logger } from '../../operator/logging.js';
import type { OperatorMetrics } from '../../operator/metrics.js';
import { ActivePolicyRegistry } from '../../operator/policies/active-policies.js';
import type { Term } from '../../operator/runtime/manager.js';
import { buildAgents } from './agents.js';
import { buildAlerting } from './alerting.js';
import { buildBase } from './base.js';
import { buildCaches } from './caches.js';
import { buildCollection } from './collection.js';
import { buildHttp } from './http.js';
import { buildManager } from './manager.js';
import type { OperatorOverrides } from './overrides.js';
import { buildPolicies } from './policies.js';
import { buildRightsizing } from './rightsizing.js';
import { buildStore } from './store.js';

export type { OperatorOverrides } from './overrides.js';

export interface OperatorHandle {
  /** Base URL of the HTTP API. */
  url: string;
  /** The API's certificate (PEM) when it serves HTTPS: clients of a self-signed one trust it with --cacert. */
  certificate?: string;
  metrics: OperatorMetrics;
  isLeader(): boolean;
  /** The current leadership term (signal, fencing token), undefined while not leading. */
  term(): Term | undefined;
  /** Stops intake, ends the term (bounded), releases the lease, closes the store. */
  stop(): Promise<void>;
}

export async function startOperator(
  config: OperatorConfig,
  logger: Logger,
  overrides: OperatorOverrides = {},
): Promise<OperatorHandle> {
  const base = buildBase(config, logger);
  // Written by the UsagePolicy controller, read by retention and right-sizing.
  const activePolicies = new ActivePolicyRegistry();
  const { store, flush, retention } = await buildStore(base, activePolicies);
  const manager = buildManager(base);
  const caches = buildCaches(base, store, overrides);
  const agents = buildAgents(base);
  const alerting = buildAlerting(base, caches, overrides);
  const collection = buildCollection(base, { store, caches, alerts: alerting.pipeline, agents }, overrides);
  const rightsizing = buildRightsizing(base, { store, caches, activePolicies });
  const policies = buildPolicies(base, {
    caches,
    collection: collection.collection,
    store,
    activePolicies,
    rightsizing: rightsizing.loop,
  });
  const http = buildHttp(base, {
    caches,
    store,
    recommender: rightsizing.recommender,
    agents,
    cachesSynced: () => manager.cachesSynced,
  });

  for (const cache of [caches.pods, caches.namespaces, caches.policies, caches.alerts])
    manager.addCache(cache);
  // Leader-only runnables start in this order and stop in reverse: the controllers first,
  // then retention, collection (waiting for cycles in flight), and the store's flush last.
  if (agents) manager.add(agents.reader);
  manager
    .add(http.server)
    .add(flush)
    .add(collection.collection)
    .add(retention)
    .add(rightsizing.loop)
    .add(caches.purger)
    .add(policies.controller)
    .add(alerting.controller);

  await manager.start();
  const url = http.server.url;
  logger.info('operator started', {
    url,
    identity: config.identity,
    leaderElection: config.leaderElection.enabled,
  });
  return {
    url,
    ...(http.certificate !== undefined && { certificate: http.certificate }),
    metrics: base.metrics,
    isLeader: () => manager.isLeader,
    term: () => manager.term,
    stop: async () => {
      http.stopWatchingTls();
      await manager.stop();
      await store.close();
      await caches.namespaceData.close();
      collection.close();
      logger.info('operator stopped');
    },
  };
}
