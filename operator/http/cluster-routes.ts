import type { FastifyInstance } from 'fastify';
import type { AlertItem, AlertsAnswer, NamespacesAnswer } from '../../api/http/v1.js';
import type { ResourceAlert } from '../../api/v1alpha1/resourcealert.js';
import { API_GROUP } from '../../api/v1alpha1/schema-helpers.js';
import { listPermission, type AccessControl } from './auth.js';
import type { ResourceAttributes } from './auth-types.js';
import { parseCurrentQuery, parseNamespaceRef } from './validation.js';

/**
 * What the operator's informers hold about the cluster, read by the dashboard: the namespaces
 * that exist and each namespace's ResourceAlerts (spec and status as on the custom resource).
 */
export interface ClusterView {
  namespaces(): string[];
  resourceAlerts(namespace: string): ResourceAlert[];
}

export interface ClusterRoutesDeps {
  cluster: ClusterView;
  access: AccessControl;
  /** Most namespaces reviewed one by one for a caller without cluster-wide access (default 1000). */
  maxReviewedNamespaces?: number;
}

/** SubjectAccessReviews in flight at once for one namespace listing. */
const REVIEW_CONCURRENCY = 8;

/*
 *   GET /api/v1/namespaces                              cluster-wide list pods, else list pods per namespace
 *   GET /api/v1/namespaces/{ns}/resourcealerts          list resourcealerts.usage.kubeusage.dev in ns
 *
 * `/namespaces` tells a client (the dashboard) which namespaces' usage it may read, since a
 * tenant usually cannot list namespaces itself: all of them for a caller with cluster-wide
 * `list pods`, otherwise those where the caller may `list pods`, the same permission the
 * namespace's top and summary need. ResourceAlerts are served to whoever may list them in the
 * namespace, as `kubectl get resourcealerts` would.
 */
export function registerClusterRoutes(app: FastifyInstance, deps: ClusterRoutesDeps): void {
  const { access, cluster } = deps;
  const maxReviewed = deps.maxReviewedNamespaces ?? 1000;

  app.get('/api/v1/namespaces', async (request): Promise<NamespacesAnswer> => {
    const user = await access.authenticate(request.headers.authorization);
    parseCurrentQuery(request.query);
    const all = [...cluster.namespaces()].sort();
    if (await access.canI(user, listPermission(undefined))) {
      return { clusterWide: true, items: all.map((name) => ({ name })) };
    }
    const reviewed = all.slice(0, maxReviewed);
    const allowed = await filterConcurrently(reviewed, REVIEW_CONCURRENCY, (namespace) =>
      access.canI(user, listPermission(namespace)),
    );
    return {
      clusterWide: false,
      ...(all.length > reviewed.length ? { truncated: true } : {}),
      items: allowed.map((name) => ({ name })),
    };
  });

  app.get('/api/v1/namespaces/:namespace/resourcealerts', async (request): Promise<AlertsAnswer> => {
    const user = await access.authenticate(request.headers.authorization);
    const { namespace } = parseNamespaceRef(request.params);
    parseCurrentQuery(request.query);
    await access.authorize(user, resourceAlertListPermission(namespace));
    const items = cluster
      .resourceAlerts(namespace)
      .map(presentAlert)
      .sort((a, b) => a.name.localeCompare(b.name));
    return { namespace, items };
  });
}

export function resourceAlertListPermission(namespace: string): ResourceAttributes {
  return { verb: 'list', group: API_GROUP, resource: 'resourcealerts', namespace };
}

function presentAlert(alert: ResourceAlert): AlertItem {
  const { metadata } = alert;
  return {
    name: metadata.name,
    namespace: metadata.namespace,
    creationTimestamp: metadata.creationTimestamp,
    generation: metadata.generation,
    spec: alert.spec,
    status: alert.status ?? {},
  };
}

async function filterConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  keep: (item: T) => Promise<boolean>,
): Promise<T[]> {
  const verdicts: boolean[] = new Array<boolean>(items.length).fill(false);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      verdicts[index] = await keep(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return items.filter((_, index) => verdicts[index]);
}
