/**
 * The informer caches, on every replica: pods (through the pod index), namespaces, and the
 * operator's two kinds. With them, tenants over time: a namespace re-created under an old name
 * reads nothing of the old one (the read guard), whose data is purged (leader) once it is gone.
 */
import type { ResourceAlert } from '../../api/v1alpha1/resourcealert.js';
import { API_VERSION } from '../../api/v1alpha1/schema-helpers.js';
import type { UsagePolicy } from '../../api/v1alpha1/usagepolicy.js';
import type { LabelledObject } from '../../controllers/usagepolicy/reconcile.js';
import { PodIndex, type CachedPod } from '../../operator/collector/pod-index.js';
import { keyOf } from '../../operator/runtime/controller.js';
import { Informer, type KubeObject } from '../../operator/runtime/informer.js';
import type { ListWatchOptions } from '../../operator/runtime/kube.js';
import { identityAndLabels, withoutManagedFields } from '../../operator/runtime/transforms.js';
import { openNamespaceData, type NamespaceDataStore, type UsageStore } from '../../operator/store/index.js';
import { NamespaceReadGuard } from '../../operator/tenancy/namespace-guard.js';
import { NamespaceLedger, type CurrentNamespace } from '../../operator/tenancy/namespace-ledger.js';
import { NamespacePurger } from '../../operator/tenancy/namespace-purger.js';
import type { OperatorBase } from './base.js';
import type { OperatorOverrides } from './overrides.js';

/** What the operator reads of a cached Namespace (without client-node's types: see the layering test). */
export type CachedNamespace = KubeObject &
  LabelledObject & { metadata?: { uid?: string; creationTimestamp?: string | Date } };

export interface Caches {
  podIndex: PodIndex;
  pods: Informer<CachedPod>;
  namespaces: Informer<CachedNamespace>;
  policies: Informer<UsagePolicy & KubeObject>;
  alerts: Informer<ResourceAlert & KubeObject>;
  /** The store's queries, each answered for the current namespace of its name only. */
  queries: NamespaceReadGuard;
  purger: NamespacePurger;
  namespaceData: NamespaceDataStore;
}

const currentNamespace = (object: CachedNamespace | undefined): CurrentNamespace | undefined =>
  object?.metadata?.uid === undefined
    ? undefined
    : { uid: object.metadata.uid, createdMs: new Date(object.metadata.creationTimestamp ?? 0).getTime() };

export function buildCaches(
  { config, logger, timers, metrics, clients }: OperatorBase,
  store: UsageStore,
  overrides: Pick<OperatorOverrides, 'holdNamespacePurge'>,
): Caches {
  const podIndex = new PodIndex(logger.child({ component: 'pod-index' }), () => timers.now());
  const informer = <T extends KubeObject>(
    apiVersion: string,
    kind: string,
    plural: string,
    transform: (object: T) => T = withoutManagedFields,
    options: ListWatchOptions = {},
  ) =>
    new Informer<T>({
      name: plural,
      source: clients.listWatcher<T>({ apiVersion, kind, plural }, {}, options),
      logger,
      resyncPeriodMs: config.resyncPeriodMs,
      transform,
    });
  const pods = informer<CachedPod>('v1', 'Pod', 'pods', podIndex.transform);
  // Of namespaces, the operator reads their identity, labels and creation time: metadata only.
  const namespaces = informer<CachedNamespace>('v1', 'Namespace', 'namespaces', identityAndLabels, {
    metadataOnly: true,
  });
  const policies = informer<UsagePolicy & KubeObject>(API_VERSION, 'UsagePolicy', 'usagepolicies');
  const alerts = informer<ResourceAlert & KubeObject>(API_VERSION, 'ResourceAlert', 'resourcealerts');
  pods.addHandlers(podIndex.handlers);

  const namespaceData = openNamespaceData({ uri: config.mongodb.uri, database: config.mongodb.database });
  const ledger = new NamespaceLedger({
    current: (name) => currentNamespace(namespaces.get(undefined, name)),
    data: namespaceData,
    clock: timers,
  });
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

  return {
    podIndex,
    pods,
    namespaces,
    policies,
    alerts,
    queries: new NamespaceReadGuard(store.queries, ledger),
    purger,
    namespaceData,
  };
}
