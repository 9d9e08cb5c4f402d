/**
 * The HTTP API against a real apiserver: real ServiceAccount tokens from the TokenRequest
 * API, checked by TokenReview and authorized by SubjectAccessReview through RBAC. The store
 * is a fake with a known dataset (the MongoDB store has its own integration tests).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { EventBus } from '../../operator/http/event-bus.js';
import { createHttpServer, type HttpServer } from '../../operator/http/server.js';
import { silentLogger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { KubeClients } from '../../operator/runtime/kube.js';
import { coreApi, deleteNamespace, kubeConfig, newNamespace, uniqueName, waitFor } from '../harness/index.js';
import { FakeQueries, getJson, sample, SseReader } from '../unit/http/fixtures.js';

const patience = { timeoutMs: 30_000, intervalMs: 250 };

describe('HTTP API with Kubernetes authentication and RBAC', () => {
  let nsA: string;
  let nsB: string;
  let adminBinding: string;
  let viewerToken: string;
  let adminToken: string;
  let url: string;
  let server: HttpServer;
  const events = new EventBus(silentLogger());
  const queries = new FakeQueries();

  async function serviceAccountToken(namespace: string, name: string): Promise<string> {
    await coreApi().createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    const request = await coreApi().createNamespacedServiceAccountToken({
      namespace,
      name,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const token = request.status?.token;
    if (!token) throw new Error(`no token issued for ${namespace}/${name}`);
    return token;
  }

  /** True once the request succeeds; otherwise throws with the answer, which waitFor reports. */
  async function ok(path: string, token: string): Promise<true> {
    const response = await getJson(url + path, token);
    if (response.status !== 200) throw new Error(`${response.status} ${JSON.stringify(response.body)}`);
    return true;
  }

  beforeAll(async () => {
    nsA = await newNamespace('http-a');
    nsB = await newNamespace('http-b');
    const rbac = kubeConfig().makeApiClient(RbacAuthorizationV1Api);

    viewerToken = await serviceAccountToken(nsA, 'viewer');
    await rbac.createNamespacedRoleBinding({
      namespace: nsA,
      body: {
        metadata: { name: 'viewer-view' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: nsA }],
      },
    });
    adminToken = await serviceAccountToken(nsA, 'admin');
    adminBinding = uniqueName('kuo-http-admin');
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: adminBinding, labels: { 'kuo-test': 'true' } },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'admin', namespace: nsA }],
      },
    });

    queries.samples = [sample({ namespace: nsA }), sample({ namespace: nsB, cpuMillicores: 900 })];
    queries.topEntries = [
      {
        namespace: nsB,
        pod: 'web-1',
        container: 'app',
        usage: 0.9,
        windowAvg: 900,
        avg: 900,
        measuredMs: 3_600_000,
        max: 950,
        samples: 60,
      },
    ];
    const clients = new KubeClients(kubeConfig());
    server = createHttpServer({
      queries,
      tokenReviewer: clients.tokenReviewer(),
      accessReviewer: clients.accessReviewer(),
      metrics: new OperatorMetrics(),
      events,
      logger: silentLogger(),
      health: { live: () => true, ready: async () => ({ ready: true, checks: {} }) },
      // Short caches, so that waiting for RBAC to propagate does not wait on a cached denial.
      authCacheTtlMs: { token: 1000, access: 200 },
    });
    ({ url } = await server.listen('127.0.0.1', 0));

    // RBAC bindings reach the authorizer's cache shortly after they are created.
    await waitFor(
      'the viewer binding to take effect',
      () => ok(`/api/v1/namespaces/${nsA}/pods/web-1/usage`, viewerToken),
      patience,
    );
    await waitFor(
      'the cluster-admin binding to take effect',
      () => ok('/api/v1/usage/top', adminToken),
      patience,
    );
  });

  afterAll(async () => {
    await server?.close();
    await kubeConfig()
      .makeApiClient(RbacAuthorizationV1Api)
      .deleteClusterRoleBinding({ name: adminBinding })
      .catch(() => undefined);
    await deleteNamespace(nsA);
    await deleteNamespace(nsB);
  });

  const podUsage = (ns: string) => `/api/v1/namespaces/${ns}/pods/web-1/usage`;

  it('answers 401 without a token and with a token the apiserver does not accept', async () => {
    for (const token of [undefined, 'garbage', `${viewerToken.slice(0, -4)}AAAA`]) {
      const response = await getJson(url + podUsage(nsA), token);
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ error: 'Unauthorized' });
    }
  });

  it('lets a ServiceAccount with view in namespace A read A, and nothing else', async () => {
    const expected: [string, number][] = [
      [podUsage(nsA), 200],
      [`${podUsage(nsA)}/history`, 200],
      [`/api/v1/usage/top?namespace=${nsA}`, 200],
      [`/api/v1/usage/summary?namespace=${nsA}`, 200],
      [podUsage(nsB), 403],
      [`${podUsage(nsB)}/history`, 403],
      [`/api/v1/usage/top?namespace=${nsB}`, 403],
      ['/api/v1/usage/top', 403],
      ['/api/v1/usage/summary', 403],
      // The node agents' endpoints: processes like the pod's usage (404: this server reads no
      // agents), a node's host statistics only with get nodes.
      [`/api/v1/namespaces/${nsA}/pods/web-1/processes`, 404],
      [`/api/v1/namespaces/${nsB}/pods/web-1/processes`, 403],
      ['/api/v1/nodes/kwok-node-0/usage', 403],
    ];
    const actual: [string, number][] = [];
    for (const [path] of expected) actual.push([path, (await getJson(url + path, viewerToken)).status]);
    expect(actual).toEqual(expected);

    const denied = await getJson(url + podUsage(nsB), viewerToken);
    expect(denied.body).toMatchObject({
      error: 'Forbidden',
      message: `User "system:serviceaccount:${nsA}:viewer" cannot get resource "pods" in API group "" in the namespace "${nsB}"`,
    });
  });

  it('lets a cluster admin read every namespace and the cluster-wide endpoints', async () => {
    const current = await getJson(url + podUsage(nsB), adminToken);
    expect(current.status).toBe(200);
    expect(current.body).toMatchObject({
      namespace: nsB,
      containers: [expect.objectContaining({ cpuMillicores: 900 })],
    });

    const top = await getJson(`${url}/api/v1/usage/top?metric=cpu&window=24h`, adminToken);
    expect(top.status).toBe(200);
    expect(top.body).toMatchObject({ metric: 'cpu', items: queries.topEntries });
    expect((await getJson(`${url}/api/v1/usage/summary?groupBy=pod`, adminToken)).status).toBe(200);
    const host = await getJson(`${url}/api/v1/nodes/kwok-node-0/usage`, adminToken);
    expect(host.status).toBe(404);
    expect(host.body).toMatchObject({ message: expect.stringContaining('reads no node agents') });
  });

  it('streams an alert transition to the viewer, and never one from a namespace it cannot see', async () => {
    const stream = await SseReader.open(`${url}/api/v1/events`, viewerToken);
    try {
      const base = {
        type: 'alert',
        name: 'web-hot',
        target: 'web-1/app',
        metric: 'cpu',
        value: 910,
        threshold: 800,
      } as const;
      events.publish({ ...base, namespace: nsB, transition: 'fired', time: Date.now() });
      events.publish({ ...base, namespace: nsA, transition: 'fired', time: Date.now() });
      const frames = await stream.waitFor('the alert from namespace A', (f) => f.length > 0, 10_000);
      expect(frames).toEqual([
        {
          event: 'alert',
          data: expect.objectContaining({ namespace: nsA, transition: 'fired', name: 'web-hot' }),
        },
      ]);
    } finally {
      stream.close();
    }
  });
});
