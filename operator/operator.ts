/**
 * The operator process, wired: informers on every replica; the controllers, the collection
 * schedule and retention only while this replica leads; the HTTP API everywhere.
 * `main.ts` parses the command line and calls {@link startOperator}; tests call it directly.
 */
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, API_VERSION_NAME } from '../api/v1alpha1/schema-helpers.js';
import type { ResourceAlert } from '../api/v1alpha1/resourcealert.js';
import type { UsagePolicy } from '../api/v1alpha1/usagepolicy.js';
import { ResourceAlertController } from '../controllers/resourcealert.js';
import { UsagePolicyController } from '../controllers/usagepolicy.js';
import { alertmanagerTargets } from './alerting/notifiers/alertmanager.js';
import { DestinationPolicy } from './alerting/notifiers/destination-policy.js';
import { NotificationDispatcher } from './alerting/notifiers/dispatcher.js';
import { NOTIFICATION_SECRET_LABEL } from './alerting/notifiers/webhook.js';
import { CollectionControl } from './collector/collection-control.js';
import { PolicyCollector } from './collector/collector.js';
import { KubernetesMetricsSource } from './collector/kubernetes-metrics-source.js';
import type { MetricsSource } from './collector/metrics-source.js';
import { PodIndex } from './collector/pod-index.js';
import { CollectionScheduler } from './collector/schedule.js';
import type { OperatorConfig } from './config.js';
import { EventBus } from './http/event-bus.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import { readTlsFiles, selfSignedCertificate, watchTlsFiles } from './http/tls.js';
import { defaultUiDirectory } from './http/ui-routes.js';
import type { Logger } from './logging.js';
import { OperatorMetrics } from './metrics.js';
import { objectKey, objectRef, systemClock, type ObjectKey } from './model.js';
import { systemTimers } from './runtime/clock.js';
import { RetentionLoop } from './retention-loop.js';
import { Controller } from './runtime/controller.js';
import { EventRecorder } from './runtime/event-recorder.js';
import { Informer, type KubeObject } from './runtime/informer.js';
import { KubeClients, loadKubeConfig } from './runtime/kube.js';
import { LeaderElector } from './runtime/leader-election.js';
import { StatusWriter } from './runtime/status-writer.js';
import { cycleSinks } from './sinks.js';
import { openStore, type UsageStore } from './store/index.js';

export interface OperatorHandle {
  /** Base URL of the HTTP API. */
  url: string;
  /** The API's certificate (PEM) when it serves HTTPS: clients of a self-signed one trust it with --cacert. */
  certificate?: string;
  metrics: OperatorMetrics;
  isLeader(): boolean;
  /** Stops intake, drains, releases the lease, closes the store. */
  stop(): Promise<void>;
}

export interface OperatorOverrides {
  /** Replace the metrics API (tests). */
  metricsSource?: MetricsSource;
}

type Handlers<T> = { onAdd?(o: T): void; onUpdate?(o: T, old: T): void; onDelete?(o: T): void };

function keyOf(object: KubeObject): ObjectKey {
  return objectKey(object.metadata?.namespace ?? '', object.metadata?.name ?? '');
}

/** Calls `fn` for adds, updates and deletes alike. */
function onAnyChange<T>(fn: (object: T) => void): Handlers<T> {
  return { onAdd: fn, onUpdate: (o) => fn(o), onDelete: fn };
}

/** Leader-only parts, created anew for every term of leadership. */
interface Term {
  policies: UsagePolicyController;
  alerts: ResourceAlertController;
  policyQueue: Controller;
  alertQueue: Controller;
}

export async function startOperator(
  config: OperatorConfig,
  logger: Logger,
  overrides: OperatorOverrides = {},
): Promise<OperatorHandle> {
  const clock = systemClock;
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

  const informer = <T extends KubeObject>(name: string, apiVersion: string, kind: string, plural: string) =>
    new Informer<T>({
      name,
      source: clients.listWatcher<T>({ apiVersion, kind, plural }),
      logger: logger.child({ informer: name }),
      resyncPeriodMs: config.resyncPeriodMs,
    });
  const pods = informer<V1Pod & KubeObject>('pods', 'v1', 'Pod', 'pods');
  const namespaces = informer<V1Namespace & KubeObject>('namespaces', 'v1', 'Namespace', 'namespaces');
  const policies = informer<UsagePolicy & KubeObject>(
    'usagepolicies',
    API_VERSION,
    'UsagePolicy',
    'usagepolicies',
  );
  const alerts = informer<ResourceAlert & KubeObject>(
    'resourcealerts',
    API_VERSION,
    'ResourceAlert',
    'resourcealerts',
  );
  const informers = [pods, namespaces, policies, alerts];

  const podIndex = new PodIndex(logger.child({ component: 'pod-index' }));
  pods.addHandlers(podIndex.handlers);

  const events = new EventBus(logger.child({ component: 'event-bus' }));
  const recorder = new EventRecorder({
    sink: clients.eventSink(),
    component: 'kube-usage-operator',
    instance: config.identity,
    logger: logger.child({ component: 'events' }),
  });
  const secrets = clients.secretReader({ requiredLabel: NOTIFICATION_SECRET_LABEL });
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
  const policyStatus = new StatusWriter(clients.statusPatcher({ ...version, plural: 'usagepolicies' }));
  const alertStatus = new StatusWriter(clients.statusPatcher({ ...version, plural: 'resourcealerts' }));
  const source = overrides.metricsSource ?? new KubernetesMetricsSource(clients.config);

  // The current term's queues; informer handlers registered once route through it.
  let term: Term | undefined;
  let forgetTargets: ((policy: ObjectKey) => void) | undefined;
  pods.addHandlers(
    onAnyChange((pod) => {
      for (const key of term?.policies.policiesWatching(pod.metadata?.namespace ?? '') ?? [])
        term?.policyQueue.enqueue(key);
    }),
  );
  namespaces.addHandlers(
    onAnyChange(() => {
      for (const key of term?.policies.crossNamespacePolicies() ?? []) term?.policyQueue.enqueue(key);
    }),
  );
  policies.addHandlers(
    onAnyChange((policy) => {
      const key = keyOf(policy);
      term?.policyQueue.enqueue(key);
      // The namespace's quota may have changed for its other policies.
      for (const other of policies.list(policy.metadata?.namespace)) term?.policyQueue.enqueue(keyOf(other));
      for (const alert of term?.alerts.alertsOf(key) ?? []) term?.alertQueue.enqueue(alert);
    }),
  );
  alerts.addHandlers(onAnyChange((alert) => term?.alertQueue.enqueue(keyOf(alert))));
  // A deleted policy's series leave /metrics with it.
  policies.addHandlers({
    onDelete: (policy) => {
      const key = keyOf(policy);
      forgetTargets?.(key);
      void metrics.forgetPolicy(key);
    },
  });

  const lead = async (signal: AbortSignal): Promise<void> => {
    const log = logger.child({ component: 'leader' });
    await Promise.all(informers.map((i) => i.waitForSync()));
    if (signal.aborted) return;
    // Created below; the dispatcher, collector and alert controller reach them through this holder.
    const queues: { policy?: Controller; alert?: Controller } = {};
    const dispatcher = new NotificationDispatcher({
      metrics,
      logger: logger.child({ component: 'notifications' }),
      // A receiver starting or stopping to fail shows in the alert's status at once.
      onFailureChange: (alert) => queues.alert?.enqueue(alert),
    });
    const scheduler = new CollectionScheduler({
      timers: systemTimers,
      metrics,
      logger: logger.child({ component: 'scheduler' }),
    });
    const alertController = new ResourceAlertController({
      caches: {
        alert: (ns, name) => alerts.get(ns, name),
        alerts: (ns) => alerts.list(ns),
        policyExists: (key) => policies.get(objectRef(key).namespace, objectRef(key).name) !== undefined,
        policyCollects: (key) => policyController.activePolicies.has(key),
      },
      status: alertStatus,
      dispatcher,
      events: recorder,
      secrets,
      enqueue: (key) => queues.alert?.enqueue(key),
      clock,
      logger: logger.child({ controller: 'resourcealert' }),
      metrics,
      destinations,
      ...(alertmanager && { alertmanager }),
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
    const collector = new PolicyCollector({
      source,
      pods: podIndex,
      sinks: cycleSinks({
        alerts: alertController,
        store: store.writer,
        events,
        metrics,
        perTargetMetrics: config.perTargetMetrics,
        onPolicyGone: (forget) => (forgetTargets = forget),
      }),
      clock,
      logger: logger.child({ component: 'collector' }),
      metrics,
      skippedCycles: (policy) => scheduler.skippedCycles(policy),
    });
    const collection = new CollectionControl(scheduler, collector, (policy) =>
      queues.policy?.enqueue(policy),
    );
    const policyController: UsagePolicyController = new UsagePolicyController({
      caches: {
        policy: (ns, name) => policies.get(ns, name),
        policies: () => policies.list(),
        namespaces: () => namespaces.list(),
        pods: podIndex,
      },
      collection,
      store: store.health,
      status: policyStatus,
      operatorNamespace: config.namespace,
      bounds: config.bounds,
      clock,
      logger: logger.child({ controller: 'usagepolicy' }),
    });
    const policyQueue = (queues.policy = new Controller({
      name: 'usagepolicy',
      reconcile: policyController.reconcile,
      logger,
      workers: config.workers,
      metrics,
    }));
    const alertQueue = (queues.alert = new Controller({
      name: 'resourcealert',
      reconcile: alertController.reconcile,
      logger,
      workers: config.workers,
      metrics,
    }));
    const retention = new RetentionLoop({
      runner: store.retention,
      policies: () => policyController.activePolicies,
      clock,
      logger: logger.child({ component: 'retention' }),
    });
    term = { policies: policyController, alerts: alertController, policyQueue, alertQueue };
    policyQueue.start();
    alertQueue.start();
    for (const p of policies.list()) policyQueue.enqueue(keyOf(p));
    for (const a of alerts.list()) alertQueue.enqueue(keyOf(a));
    retention.start();
    log.info('leading: controllers, collection and retention started');

    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    term = undefined;
    scheduler.stopAll();
    retention.stop();
    await Promise.all([policyQueue.stop(), alertQueue.stop()]);
    await dispatcher.close(5_000);
    // Write the open rollup buckets before the lease goes: a new leader recovers them from the
    // store, and buckets written after that would count twice.
    await store
      .flush()
      .catch((err: unknown) => log.warn('flushing the store failed', { error: String(err) }));
    log.info('no longer leading: controllers, collection and retention stopped');
  };

  let leading = false;
  const leaderAbort = new AbortController();
  let leaderWork: Promise<void> | undefined;
  const elector = config.leaderElection.enabled
    ? new LeaderElector({
        identity: config.identity,
        lease: clients.leaseClient(config.namespace, config.leaderElection.leaseName),
        logger: logger.child({ component: 'leader-election' }),
        leaseDurationMs: config.leaderElection.leaseDurationMs,
        renewDeadlineMs: config.leaderElection.renewDeadlineMs,
        retryPeriodMs: config.leaderElection.retryPeriodMs,
        onStartedLeading: (signal) => {
          leading = true;
          return lead(signal);
        },
        onStoppedLeading: () => {
          leading = false;
        },
        metrics,
      })
    : undefined;

  const { tls: tlsConfig } = config.http;
  const tls =
    tlsConfig.certFile && tlsConfig.keyFile
      ? readTlsFiles(tlsConfig.certFile, tlsConfig.keyFile)
      : tlsConfig.selfSigned
        ? selfSignedCertificate()
        : undefined;
  if (!tls)
    logger.warn('the HTTP API serves plain HTTP: callers send their tokens in clear (set --tls-cert-file)');
  const http: HttpServer = createHttpServer({
    ...(tls && { tls }),
    queries: store.queries,
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
    health: {
      live: () => true,
      ready: async () => {
        const synced = informers.every((i) => i.hasSynced);
        const storeUp = await store.ping();
        return {
          ready: synced && storeUp === true,
          checks: { informers: synced || 'not synced yet', store: storeUp },
        };
      },
    },
  });

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
        )
      : () => undefined;
  for (const i of informers) i.start();
  const { url } = await http.listen(config.http.address, config.http.port);
  if (elector) elector.start();
  else {
    leading = true;
    leaderWork = lead(leaderAbort.signal);
  }
  logger.info('operator started', {
    url,
    identity: config.identity,
    leaderElection: config.leaderElection.enabled,
  });

  return {
    url,
    ...(tls && { certificate: tls.cert }),
    metrics,
    isLeader: () => leading,
    stop: async () => {
      stopWatchingTls();
      await http.close();
      if (elector) await elector.stop();
      else {
        leaderAbort.abort();
        await leaderWork;
        leading = false;
      }
      await Promise.all(informers.map((i) => i.stop()));
      await store.close();
      logger.info('operator stopped');
    },
  };
}
