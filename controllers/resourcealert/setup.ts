/**
 * What the ResourceAlert controller watches and how each event maps to the alerts to
 * reconcile: an alert itself, and the other alerts of its namespace (their quota); a
 * UsagePolicy, to the alerts that reference it (their readiness follows the policy's status);
 * the alert pipeline (operator/alerting/pipeline.ts), to each alert whose evaluation or
 * deliveries changed. The pipeline's state lives for one term of the controller: it starts
 * before the workers and stops after them.
 */
import type { ResourceAlert } from '../../api/v1alpha1/resourcealert.js';
import type { UsagePolicy } from '../../api/v1alpha1/usagepolicy.js';
import type { AlertPipeline } from '../../operator/alerting/index.js';
import type { Logger } from '../../operator/logging.js';
import type { OperatorMetrics } from '../../operator/metrics.js';
import { objectKey } from '../../operator/model.js';
import { Controller, keyOf, type WatchedSource } from '../../operator/runtime/controller.js';
import type { KubeObject } from '../../operator/runtime/informer.js';
import { ResourceAlertReconciler, type ResourceAlertReconcilerDeps } from './reconcile.js';

export interface ResourceAlertSources {
  alerts: WatchedSource<ResourceAlert & KubeObject>;
  policies: WatchedSource<UsagePolicy & KubeObject>;
}

export interface ResourceAlertSetup {
  reconciler: ResourceAlertReconciler;
  controller: Controller;
}

export function setupResourceAlertController(
  sources: ResourceAlertSources,
  deps: ResourceAlertReconcilerDeps & { pipeline: AlertPipeline },
  options: { workers: number; logger: Logger; metrics: OperatorMetrics },
): ResourceAlertSetup {
  const controller = new Controller({
    name: 'resourcealert',
    logger: options.logger,
    workers: options.workers,
    metrics: options.metrics,
    lifecycle: deps.pipeline,
  });
  const reconciler = new ResourceAlertReconciler(deps);
  deps.pipeline.onChange((key) => controller.enqueue(key));
  controller
    .forObjects(sources.alerts)
    // A namespace's quota of alerts: a change of one may let another in or out.
    .watches(sources.alerts, (alert) =>
      sources.alerts
        .list()
        .filter((a) => a.metadata.namespace === alert.metadata.namespace)
        .map(keyOf),
    )
    .watches(sources.policies, (policy) =>
      reconciler.alertsOf(objectKey(policy.metadata.namespace, policy.metadata.name)),
    )
    .complete(reconciler);
  return { reconciler, controller };
}
