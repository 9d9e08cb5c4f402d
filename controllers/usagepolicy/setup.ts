/**
 * What the UsagePolicy controller watches and how each event maps to the policies to
 * reconcile: a policy itself; a pod, to the policies whose scope may hold its namespace; a
 * namespace, to every cross-namespace policy (its labels may move it in or out of scope).
 */
import type { UsagePolicy } from '../../api/v1alpha1/usagepolicy.js';
import type { Logger } from '../../operator/logging.js';
import type { OperatorMetrics } from '../../operator/metrics.js';
import { Controller, keyOf, type WatchedSource } from '../../operator/runtime/controller.js';
import type { KubeObject } from '../../operator/runtime/informer.js';
import { UsagePolicyReconciler, type UsagePolicyControllerDeps } from './reconcile.js';

export interface UsagePolicySources {
  policies: WatchedSource<UsagePolicy & KubeObject>;
  pods: WatchedSource<KubeObject>;
  namespaces: WatchedSource<KubeObject>;
}

export interface UsagePolicySetup {
  reconciler: UsagePolicyReconciler;
  controller: Controller;
}

export function setupUsagePolicyController(
  sources: UsagePolicySources,
  deps: UsagePolicyControllerDeps,
  options: { workers: number; logger: Logger; metrics: OperatorMetrics },
): UsagePolicySetup {
  // Policies whose place in the collection budget changed are reconciled again.
  const reconciler = new UsagePolicyReconciler({
    ...deps,
    requeue: (keys) => keys.forEach((key) => controller.enqueue(key)),
  });
  const controller = new Controller({
    name: 'usagepolicy',
    logger: options.logger,
    workers: options.workers,
    metrics: options.metrics,
  })
    .forObjects(sources.policies)
    // A namespace's quota of policies: a change of one may let another in or out.
    .watches(sources.policies, (policy) =>
      sources.policies
        .list()
        .filter((p) => p.metadata.namespace === policy.metadata.namespace)
        .map(keyOf),
    )
    .watches(sources.pods, (pod) => reconciler.policiesWatching(pod.metadata?.namespace ?? ''))
    .watches(sources.namespaces, () => reconciler.crossNamespacePolicies())
    .complete(reconciler);
  // After each of its collections, a policy's status shows the new lastCollectionTime.
  deps.collection.onCollected((policy) => controller.enqueue(policy));
  // A policy's new right-sizing summary shows in its status.
  deps.rightsizing?.onSummary((policy) => controller.enqueue(policy));
  return { reconciler, controller };
}
