/**
 * The operator process, wired: what runs on every replica (informer caches, the HTTP API),
 * what runs only during a leadership term (collection, retention, the two controllers, the
 * store's flush), and the Manager that owns their lifecycle. The controllers declare their own
 * watches (controllers/<kind>/setup.ts). `cmd/operator.ts` parses the command line and calls
 * {@link startOperator}; tests call it directly.
 */
import { CONDITIONS } from '../api/v1alpha1/conditions.js';
import type { ResourceAlert } from '../api/v1alpha1/resourcealert.js';
import { API_GROUP, API_VERSION, API_VERSION_NAME } from '../api/v1alpha1/schema-helpers.js';
import type { UsagePolicy } from '../api/v1alpha1/usagepolicy.js';
import { alertsWithinQuota } from '../controllers/admin-bounds.js';
import { setupResourceAlertController } from '../controllers/resourcealert/setup.js';
import type { ResourceAlertReconcilerDeps } from '../controllers/resourcealert/reconcile.js';
import { setupUsagePolicyController } from '../controllers/usagepolicy/setup.js';
import type { LabelledObject } from '../controllers/usagepolicy/reconcile.js';
import {
  AlertPipeline,
  alertmanagerTargets,
  DestinationPolicy,
  NOTIFICATION_SECRET_LABEL,
  NotificationDispatcher,
} from './alerting/index.js';
import { PolicyCollector, type NodeUsageSource } from './collector/collector.js';
import type { SeriesBaseSource } from './collector/series-cursors.js';
import { createKubeletSource } from './sources/kubelet/kubernetes-kubelet.js';
import { KubernetesMetricsSource } from './sources/metrics-api/kubernetes-metrics-api.js';
import type { MetricsSource } from './sources/metrics-api/metrics-source.js';
import { PodIndex, type CachedPod } from './collector/pod-index.js';
import { ScheduledCollection } from './collector/scheduled-collection.js';
import { CollectionScheduler } from './collector/schedule.js';
import type { OperatorConfig } from './config.js';
import { EventBus } from './http/event-bus.js';
import { createHttpServer } from './http/server.js';
import { readTlsFiles, selfSignedCertificate, watchTlsFiles } from './http/tls.js';
import { defaultUiDirectory } from './http/ui-routes.js';
import { errorMessage, type Logger } from './logging.js';
import { OperatorMetrics } from './metrics.js';
import { objectRef } from './model.js';
import { RetentionLoop } from './retention-loop.js';
import { systemTimers } from './runtime/clock.js';
import { keyOf } from './runtime/controller.js';
import { EventRecorder } from './runtime/event-recorder.js';
import { Informer, type KubeObject } from './runtime/informer.js';
import { KubeClients, loadKubeConfig } from './runtime/kube.js';
import { Manager, type Runnable, type Term } from './runtime/manager.js';
import { StatusWriter } from './runtime/status-writer.js';
import { cycleSinks } from './sinks.js';
import { openNamespaceData, openStore, type UsageStore } from './store/index.js';
import { AgentReadings } from './sources/agent/agent-readings.js';
import { AgentIoJoiner, AgentIoWriter } from './sources/agent/agent-io.js';
import { createAgentSource } from './sources/agent/kubernetes-agent.js';
import { NamespaceReadGuard } from './tenancy/namespace-guard.js';
import { NamespaceLedger, type CurrentNamespace } from './tenancy/namespace-ledger.js';
import { NamespacePurger } from './tenancy/namespace-purger.js';
import { Recommender } from './recommend/recommender.js';
import { ownerLookupOf } from './recommend/workloads.js';
import { RightsizingLoop } from './recommend/rightsizing-loop.js';

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

export interface OperatorOverrides {
  /** Replace the metrics API (tests). */
  metricsSource?: MetricsSource;
  /** Replace the kubelet source (tests); null: metrics.k8s.io only. */
  kubeletSource?: NodeUsageSource | null;
  /** Called after each ResourceAlert status write, before its transitions are announced (a test hook). */
  afterAlertStatusWrite?: ResourceAlertReconcilerDeps['afterStatusWrite'];
  /** While it returns true, the data of deleted namespaces is not purged (tests read before the purge). */
  holdNamespacePurge?: () => boolean;
}

/** The primary usage source as configured: the kubelets' resource endpoints, or none (metrics.k8s.io only). */
function kubeletSource(
  config: OperatorConfig,
  kubeConfig: KubeClients['config'],
): (NodeUsageSource & { close(): void }) | undefined {
  if (config.usageSource.primary !== 'kubelet') return undefined;
  const { addressTypes, insecureSkipTLSVerify, caFile, timeoutMs } = config.usageSource.kubelet;
  return createKubeletSource(kubeConfig, {
    endpoint: { addressTypes },
    tls: { insecureSkipTLSVerify, ...(caFile !== undefined && { caFile }) },
    timeoutMs,
  });
}
/** What the operator reads of a cached Namespace (without client-node's types: see the layering test). */
type CachedNamespace = KubeObject &
  LabelledObject & { metadata?: { uid?: string; creationTimestamp?: string | Date } };

/** How a graceful shutdown's time is shared: most for ending the term, some for the lease. */
function shutdownBudget(config: OperatorConfig): { termStopTimeoutMs: number; releaseTimeoutMs: number } {
  const total = config.shutdownTimeoutMs;
  return {
    termStopTimeoutMs: Math.floor(total * 0.5),
    releaseTimeoutMs: Math.min(config.leaderElection.renewDeadlineMs, Math.floor(total * 0.2)),
  };
}

export async function startOperator(
  config: OperatorConfig,
  logger: Logger,
  overrides: OperatorOverrides = {},
): Promise<OperatorHandle> {
  const timers = systemTimers;
  const metrics = new OperatorMetrics({ defaultMetrics: true });
  const clients = new KubeClients(loadKubeConfig(config.kubeconfig));
  const store: UsageStore = await openStore({
    uri: config.mongodb.uri,
    database: config.mongodb.database,
    outageBufferSize: config.outageBufferSize,
    // No policy may keep data longer than the admin's bounds: the TTL indexes (MongoDB) remove
    // what retention misses (a policy deleted or suspended, an operator that stopped).
    ttlBackstop: config.bounds.maxRetention,
    metrics,
    logger: logger.child({ component: 'store' }),
  });

  // Caches, on every replica.
  const podIndex = new PodIndex(logger.child({ component: 'pod-index' }), () => timers.now());
  const informer = <T extends KubeObject>(
    apiVersion: string,
    kind: string,
    plural: string,
    transform?: (object: T) => T,
  ) =>
    new Informer<T>({
      name: plural,
      source: clients.listWatcher<T>({ apiVersion, kind, plural }),
      logger,
      resyncPeriodMs: config.resyncPeriodMs,
      transform,
    });
  const pods = informer<CachedPod>('v1', 'Pod', 'pods', podIndex.transform);
  const namespaces = informer<CachedNamespace>('v1', 'Namespace', 'namespaces');
  const policies = informer<UsagePolicy & KubeObject>(API_VERSION, 'UsagePolicy', 'usagepolicies');
  const alerts = informer<ResourceAlert & KubeObject>(API_VERSION, 'ResourceAlert', 'resourcealerts');
  pods.addHandlers(podIndex.handlers);

  // Tenants over time: a namespace re-created under an old name reads nothing of the old one,
  // whose data is purged (leader) once it is gone.
  const namespaceData = openNamespaceData({ uri: config.mongodb.uri, database: config.mongodb.database });
  const currentNamespace = (object: CachedNamespace | undefined): CurrentNamespace | undefined =>
    object?.metadata?.uid === undefined
      ? undefined
      : {
          uid: object.metadata.uid,
          createdMs: new Date(object.metadata.creationTimestamp ?? 0).getTime(),
        };
  const ledger = new NamespaceLedger({
    current: (name) => currentNamespace(namespaces.get(undefined, name)),
    data: namespaceData,
    clock: timers,
  });
  const guardedQueries = new NamespaceReadGuard(store.queries, ledger);
  const purger = new NamespacePurger({
    data: namespaceData,
    ledger,
    namespaces: () =>
      new Map(
        namespaces.list().flatMap((n) => {
          const current = currentNamespace(n);
          return current && n.metadata?.name ? [[n.metadata.name, current] as const] : [];
        }),
      ),
    synced: () => namespaces.hasSynced,
    timers,
    logger: logger.child({ component: 'namespace-purge' }),
    ...(overrides.holdNamespacePurge && { held: overrides.holdNamespacePurge }),
  });
  namespaces.addHandlers(purger.handlers);
  // A deleted policy's series leave /metrics with it.
  policies.addHandlers({ onDelete: (policy) => void metrics.forgetPolicy(keyOf(policy)) });

  // Parts the controllers use.
  const events = new EventBus(logger.child({ component: 'event-bus' }));
  const recorder = new EventRecorder({
    sink: clients.eventSink(),
    component: 'kube-usage-operator',
    instance: config.identity,
    logger: logger.child({ component: 'events' }),
  });
  const { notifications } = config;
  const destinations = new DestinationPolicy({
    allow: notifications.webhookAllow,
    podCidrs: notifications.clusterPodCidrs,
    serviceCidrs: notifications.clusterServiceCidrs,
    clusterDomain: notifications.clusterDomain,
  });
  const alertmanager =
    notifications.alertmanager.urls.length > 0 ? alertmanagerTargets(notifications.alertmanager) : undefined;
  const version = { group: API_GROUP, version: API_VERSION_NAME };
  const statusWriter = (plural: string, kind: keyof typeof CONDITIONS) =>
    new StatusWriter(clients.statusPatcher({ ...version, plural }), {
      ownedConditionTypes: Object.keys(CONDITIONS[kind]),
    });
  const scheduler = new CollectionScheduler({
    timers,
    metrics,
    logger: logger.child({ component: 'scheduler' }),
  });
  const controllerOptions = { workers: config.workers, logger, metrics };

  // Collection cycles feed the alert pipeline (per-alert state, notifications); the
  // ResourceAlert controller reads it and writes status.
  const alertPipeline = new AlertPipeline({
    // Alerts beyond their namespace's quota are not evaluated (their Ready says why).
    alerts: (ns) => alertsWithinQuota(alerts.list(ns), config.bounds),
    newDispatcher: (onFailureChange) =>
      new NotificationDispatcher({
        metrics,
        logger: logger.child({ component: 'notifications' }),
        timers,
        onFailureChange,
      }),
    events: recorder,
    secrets: clients.secretReader({ requiredLabel: NOTIFICATION_SECRET_LABEL, clock: timers }),
    destinations,
    ...(alertmanager && { alertmanager }),
    clock: timers,
    logger: logger.child({ component: 'alert-pipeline' }),
    metrics,
    onTransition: (alert, t) =>
      events.publish({
        type: 'alert',
        namespace: t.ref.namespace,
        name: objectRef(alert).name,
        transition: t.kind,
        target: t.ref.container ? `${t.ref.pod}/${t.ref.container}` : t.ref.pod,
        metric: t.metric,
        value: t.value,
        threshold: t.threshold,
        time: t.at,
      }),
  });
  const alertController = setupResourceAlertController(
    { alerts, policies },
    {
      caches: {
        alert: (ns, name) => alerts.get(ns, name),
        alerts: (ns) => alerts.list(ns),
        policy: (ns, name) => policies.get(ns, name),
      },
      status: statusWriter('resourcealerts', 'ResourceAlert'),
      pipeline: alertPipeline,
      bounds: config.bounds,
      ...(overrides.afterAlertStatusWrite && { afterStatusWrite: overrides.afterAlertStatusWrite }),
    },
    controllerOptions,
  );
  const ownKubelet =
    overrides.kubeletSource === undefined ? kubeletSource(config, clients.config) : undefined;
  const kubelet = overrides.kubeletSource === undefined ? ownKubelet : overrides.kubeletSource;
  // A new term's cursors continue each series from its last stored reading, and bill the containers
  // started after the store's newest reading from their start (no failover window lost).
  const bases: SeriesBaseSource = {
    latestReadings: (keys) => store.latestReadings(keys),
    lastReadingTime: () => store.lastReadingTime(),
  };
  // The agents' I/O continues from the store's last readings too (sources/agent-io.ts).
  const agentIo = new AgentIoJoiner(() => agents, {
    bases: { latestReadings: (keys) => store.latestIoTotals(keys) },
    logger: logger.child({ component: 'agent-io' }),
  });
  const collector = new PolicyCollector({
    source: overrides.metricsSource ?? new KubernetesMetricsSource(clients.config),
    ...(kubelet && { kubelet }),
    seriesBases: bases,
    pods: podIndex,
    namespaceUid: (name) => namespaces.get(undefined, name)?.metadata?.uid,
    sinks: cycleSinks({
      alerts: alertPipeline,
      // The agents' I/O counters join the samples of the containers they report (sources/agent-io.ts).
      store: new AgentIoWriter(store.writer, agentIo),
      events,
      metrics,
      perTargetMetrics: config.perTargetMetrics,
      // A deleted policy's per-target series leave /metrics with it.
      onPolicyGone: (forget) => policies.addHandlers({ onDelete: (policy) => forget(keyOf(policy)) }),
    }),
    clock: timers,
    logger: logger.child({ component: 'collector' }),
    metrics,
    skippedCycles: (policy) => scheduler.skippedCycles(policy),
  });
  const collection = new ScheduledCollection(scheduler, collector, [agentIo]);
  const policyController = setupUsagePolicyController(
    { policies, pods, namespaces },
    {
      caches: {
        policy: (ns, name) => policies.get(ns, name),
        policies: () => policies.list(),
        namespaces: () => namespaces.list(),
        pods: podIndex,
      },
      collection,
      store: store.health,
      status: statusWriter('usagepolicies', 'UsagePolicy'),
      operatorNamespace: config.namespace,
      bounds: config.bounds,
      rightsizing: (key) => rightsizing.summary(key),
      clock: timers,
      logger: logger.child({ controller: 'usagepolicy' }),
    },
    controllerOptions,
  );
  const recommender = new Recommender({
    queries: guardedQueries,
    pods: podIndex,
    owners: ownerLookupOf(clients.controllerLister()),
    prices: config.prices,
  });
  const rightsizing = new RightsizingLoop({
    recommender,
    policies: () => policyController.reconciler.activePolicies.keys(),
    onSummary: (key) => policyController.controller.enqueue(key),
    events: recorder,
    reports: store.reports,
    timers,
    logger: logger.child({ component: 'rightsizing' }),
    intervalMs: config.rightsizingIntervalMs,
    firstRunMs: Math.min(30_000, config.rightsizingIntervalMs),
  });
  const retention = new RetentionLoop({
    runner: store.retention,
    policies: () => policyController.reconciler.activePolicies,
    timers,
    logger: logger.child({ component: 'retention' }),
  });

  const { tls: tlsConfig } = config.http;
  const tls =
    tlsConfig.certFile && tlsConfig.keyFile
      ? readTlsFiles(tlsConfig.certFile, tlsConfig.keyFile)
      : tlsConfig.selfSigned
        ? selfSignedCertificate()
        : undefined;
  if (!tls)
    logger.warn('the HTTP API serves plain HTTP: callers send their tokens in clear (set --tls-cert-file)');
  // The node agents' latest readings, on every replica (they feed the API, not the store).
  const agentSource = config.agents.enabled
    ? createAgentSource(clients.config, {
        port: config.agents.port,
        timeoutMs: config.agents.timeoutMs,
        tls: {
          ...(config.agents.caFile === undefined ? {} : { caFile: config.agents.caFile }),
          insecureSkipTLSVerify: config.agents.insecureSkipTLSVerify,
        },
      })
    : undefined;
  const agents = agentSource
    ? new AgentReadings({
        source: agentSource,
        timers,
        intervalMs: config.agents.intervalMs,
        logger: logger.child({ component: 'agents' }),
        onRead: (batch) => {
          metrics.agentNodes.set({ state: 'read' }, batch.reports.length);
          metrics.agentNodes.set({ state: 'absent' }, batch.absent.length);
          for (const n of batch.nodes) metrics.agentReadDuration.observe(n.durationMs / 1000);
        },
      })
    : undefined;
  const http = createHttpServer({
    ...(tls && { tls }),
    ...(agents && { agents }),
    queries: guardedQueries,
    recommender,
    tokenReviewer: clients.tokenReviewer(config.http.tokenAudience ? [config.http.tokenAudience] : undefined),
    accessReviewer: clients.accessReviewer(),
    metrics,
    events,
    cluster: {
      namespaces: () => namespaces.list().map((n) => n.metadata?.name ?? ''),
      resourceAlerts: (ns) => alerts.list(ns),
    },
    uiDirectory: config.uiDirectory ?? defaultUiDirectory(),
    logger: logger.child({ component: 'http' }),
    clock: timers,
    timers,
    health: {
      live: () => true,
      ready: async () => {
        const synced = manager.cachesSynced;
        const storeUp = await store.ping();
        return {
          ready: synced && storeUp === true,
          checks: { informers: synced || 'not synced yet', store: storeUp },
        };
      },
    },
  });
  let url = '';
  const httpServer: Runnable = {
    name: 'http',
    needsLeadership: false,
    start: async () => void ({ url } = await http.listen(config.http.address, config.http.port)),
    stop: () => http.close(),
  };
  const agentReader: Runnable | undefined = agents && {
    name: 'agents',
    needsLeadership: false,
    start: () => agents.start(),
    stop: async () => {
      await agents.stop();
      agentSource?.close();
    },
  };
  // Started first in a term: the store's writes carry the term's fencing token (writes of an older
  // term are refused, and the first write of a term recomputes the open buckets from the stored
  // readings). Stopped last, after collection: the open buckets are written while the term holds.
  const storeFlush: Runnable = {
    name: 'store-flush',
    needsLeadership: true,
    start: ({ term }) => store.beginTerm(term?.fencingToken ?? 0),
    stop: () =>
      store
        .flush()
        .catch((err: unknown) => void logger.warn('flushing the store failed', { error: errorMessage(err) })),
  };

  const stopWatchingTls =
    tlsConfig.certFile && tlsConfig.keyFile
      ? watchTlsFiles(
          tlsConfig.certFile,
          tlsConfig.keyFile,
          (material) => {
            http.setCertificate?.(material);
            logger.info('serving the renewed TLS certificate', { certFile: tlsConfig.certFile });
          },
          (err) =>
            logger.warn('the TLS certificate files do not load; serving the previous ones', {
              error: String(err),
            }),
          { timers },
        )
      : () => undefined;
  const election = config.leaderElection;
  const manager = new Manager({
    logger,
    timers,
    metrics,
    ...shutdownBudget(config),
    ...(election.enabled && {
      leaderElection: {
        identity: config.identity,
        lease: clients.leaseClient(config.namespace, election.leaseName),
        leaseDurationMs: election.leaseDurationMs,
        renewDeadlineMs: election.renewDeadlineMs,
        retryPeriodMs: election.retryPeriodMs,
      },
    }),
  });
  for (const cache of [pods, namespaces, policies, alerts]) manager.addCache(cache);
  // Leader-only runnables start in this order and stop in reverse: the controllers first,
  // then retention, collection (waiting for cycles in flight), and the store's flush last.
  if (agentReader) manager.add(agentReader);
  manager
    .add(httpServer)
    .add(storeFlush)
    .add(collection)
    .add(retention)
    .add(rightsizing)
    .add(purger)
    .add(policyController.controller)
    .add(alertController.controller);

  await manager.start();
  logger.info('operator started', { url, identity: config.identity, leaderElection: election.enabled });
  return {
    url,
    ...(tls && { certificate: tls.cert }),
    metrics,
    isLeader: () => manager.isLeader,
    term: () => manager.term,
    stop: async () => {
      stopWatchingTls();
      await manager.stop();
      await store.close();
      await namespaceData.close();
      ownKubelet?.close();
      logger.info('operator stopped');
    },
  };
}
