/**
 * Alerting: the alert pipeline that collection cycles feed (per-alert state, notifications
 * through the dispatcher, webhooks checked against the destination policy, credentials from
 * labelled Secrets, Alertmanager when configured, transitions published to the HTTP API's
 * event stream), and the ResourceAlert controller that reads it and writes status.
 */
import { alertsWithinQuota } from '../../controllers/admin-bounds.js';
import {
  setupResourceAlertController,
  type ResourceAlertSetup,
} from '../../controllers/resourcealert/setup.js';
import {
  AlertPipeline,
  alertmanagerTargets,
  DestinationPolicy,
  NOTIFICATION_SECRET_LABEL,
  NotificationDispatcher,
} from '../../operator/alerting/index.js';
import { objectRef } from '../../operator/model.js';
import type { OperatorBase } from './base.js';
import type { Caches } from './caches.js';
import type { OperatorOverrides } from './overrides.js';

export interface AlertingParts {
  /** The cycle sink collection writes into. */
  pipeline: AlertPipeline;
  controller: ResourceAlertSetup['controller'];
}

export function buildAlerting(
  base: OperatorBase,
  { alerts, policies }: Caches,
  overrides: Pick<OperatorOverrides, 'afterAlertStatusWrite'>,
): AlertingParts {
  const { config, logger, timers, metrics, clients, events } = base;
  const { notifications } = config;
  const alertmanager =
    notifications.alertmanager.urls.length > 0 ? alertmanagerTargets(notifications.alertmanager) : undefined;
  const pipeline = new AlertPipeline({
    // Alerts beyond their namespace's quota are not evaluated (their Ready says why).
    alerts: (ns) => alertsWithinQuota(alerts.list(ns), config.bounds),
    newDispatcher: (onFailureChange) =>
      new NotificationDispatcher({
        metrics,
        logger: logger.child({ component: 'notifications' }),
        timers,
        onFailureChange,
      }),
    events: base.recorder,
    secrets: clients.secretReader({ requiredLabel: NOTIFICATION_SECRET_LABEL, clock: timers }),
    destinations: new DestinationPolicy({
      allow: notifications.webhookAllow,
      podCidrs: notifications.clusterPodCidrs,
      serviceCidrs: notifications.clusterServiceCidrs,
      clusterDomain: notifications.clusterDomain,
    }),
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
  const { controller } = setupResourceAlertController(
    { alerts, policies },
    {
      caches: {
        alert: (ns, name) => alerts.get(ns, name),
        alerts: (ns) => alerts.list(ns),
        policy: (ns, name) => policies.get(ns, name),
      },
      status: base.statusWriter('resourcealerts', 'ResourceAlert'),
      pipeline,
      bounds: config.bounds,
      ...(overrides.afterAlertStatusWrite && { afterStatusWrite: overrides.afterAlertStatusWrite }),
    },
    base.controllerOptions,
  );
  return { pipeline, controller };
}
