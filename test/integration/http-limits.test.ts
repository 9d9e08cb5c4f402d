/**
 * The HTTP API's limits against the real apiserver: tokens must carry the operator's audience,
 * 1,000 random tokens cost a bounded number of TokenReviews, streams over the cap get 429,
 * and /metrics needs a token allowed to `get` the non-resource URL /metrics (probes stay open).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { DEFAULT_TOKEN_AUDIENCE } from '../../operator/config.js';
import { EventBus } from '../../operator/http/event-bus.js';
import { createHttpServer, type HttpServer } from '../../operator/http/server.js';
import { silentLogger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { KubeClients } from '../../operator/runtime/kube.js';
import { coreApi, deleteNamespace, kubeConfig, newNamespace, uniqueName, waitFor } from '../harness/index.js';
import { FakeQueries, getJson, sample, SseReader } from '../unit/http/fixtures.js';

describe('HTTP API limits (real TokenReview and SubjectAccessReview)', () => {
  let ns: string;
  let url: string;
  let server: HttpServer;
  let metricsBinding: string;
  let viewer: string;
  let viewerNoAudience: string;
  let scraper: string;
  const metrics = new OperatorMetrics();
  const queries = new FakeQueries();
  const rbac = () => kubeConfig().makeApiClient(RbacAuthorizationV1Api);

  async function token(name: string, audiences: string[]): Promise<string> {
    const request = await coreApi().createNamespacedServiceAccountToken({
      namespace: ns,
      name,
      body: { spec: { audiences, expirationSeconds: 3600 } },
    });
    const issued = request.status?.token;
    if (!issued) throw new Error(`no token issued for ${name}`);
    return issued;
  }

  const reviews = async (result: string) =>
    (await metrics.tokenReviews.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

  beforeAll(async () => {
    ns = await newNamespace('http-limits');
    for (const name of ['viewer', 'scraper'])
      await coreApi().createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
    await rbac().createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'viewer-view' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: ns }],
      },
    });
    // The rule the manifests ship for Prometheus (manifests/base/rbac-metrics-reader.yaml).
    metricsBinding = uniqueName('kuo-metrics-reader');
    await rbac().createClusterRole({
      body: {
        metadata: { name: metricsBinding, labels: { 'kuo-test': 'true' } },
        rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }],
      },
    });
    await rbac().createClusterRoleBinding({
      body: {
        metadata: { name: metricsBinding, labels: { 'kuo-test': 'true' } },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: metricsBinding },
        subjects: [{ kind: 'ServiceAccount', name: 'scraper', namespace: ns }],
      },
    });
    viewer = await token('viewer', [DEFAULT_TOKEN_AUDIENCE]);
    viewerNoAudience = await token('viewer', []);
    scraper = await token('scraper', [DEFAULT_TOKEN_AUDIENCE]);

    queries.samples = [sample({ namespace: ns })];
    const clients = new KubeClients(kubeConfig());
    server = createHttpServer({
      queries,
      tokenReviewer: clients.tokenReviewer([DEFAULT_TOKEN_AUDIENCE]),
      accessReviewer: clients.accessReviewer(),
      metrics,
      events: new EventBus(silentLogger()),
      logger: silentLogger(),
      health: { live: () => true, ready: async () => ({ ready: true, checks: {} }) },
      authCacheTtlMs: { token: 60_000, access: 200 },
      eventStream: { maxStreamsPerUser: 2, maxStreams: 50 },
    });
    ({ url } = await server.listen('127.0.0.1', 0));
    await waitFor(
      'the viewer binding to take effect',
      async () => (await getJson(`${url}/api/v1/namespaces/${ns}/pods/web-1/usage`, viewer)).status === 200,
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  });

  afterAll(async () => {
    await server?.close();
    await rbac()
      .deleteClusterRoleBinding({ name: metricsBinding })
      .catch(() => undefined);
    await rbac()
      .deleteClusterRole({ name: metricsBinding })
      .catch(() => undefined);
    await deleteNamespace(ns);
  });

  it('accepts only tokens issued for its audience', async () => {
    const path = `${url}/api/v1/namespaces/${ns}/pods/web-1/usage`;
    expect((await getJson(path, viewer)).status).toBe(200);
    const other = await getJson(path, viewerNoAudience);
    expect(other.status).toBe(401);
    expect(other.body).toEqual({
      error: 'Unauthorized',
      message: 'a valid bearer token is required (Authorization: Bearer <token>)',
    });
  });

  it('bounds the TokenReviews of 1,000 random tokens, and the good token still works', async () => {
    const before = (await reviews('authenticated')) + (await reviews('refused')) + (await reviews('error'));
    const statuses: Record<number, number> = {};
    const started = Date.now();
    // 1,000 tokens, 100 at a time, as a client flooding the API would send them.
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const random = `${uniqueName('t')}.${Math.random().toString(36).slice(2)}`;
          const { status } = await getJson(`${url}/api/v1/usage/top?namespace=${ns}`, random);
          statuses[status] = (statuses[status] ?? 0) + 1;
        }),
      );
    }
    const seconds = (Date.now() - started) / 1000;
    const made =
      (await reviews('authenticated')) + (await reviews('refused')) + (await reviews('error')) - before;
    process.stdout.write(
      `[http-limits] 1000 random tokens in ${seconds.toFixed(1)} s: ${made} TokenReviews, answers ${JSON.stringify(statuses)}\n`,
    );
    // At most the burst (50) and 20 a second after it (and 10 at once), whatever the flood.
    expect(made).toBeLessThanOrEqual(50 + Math.ceil(20 * seconds));
    expect(made).toBeLessThan(1000);
    // Refused (401), or not reviewed at all (429); a 503 only if the apiserver itself failed.
    expect(statuses[429]).toBeGreaterThan(0);
    expect(Object.keys(statuses).filter((s) => !['401', '429', '503'].includes(s))).toEqual([]);
    expect((await getJson(`${url}/api/v1/namespaces/${ns}/pods/web-1/usage`, viewer)).status).toBe(200);
  });

  it('refuses event streams over the per-user cap with 429', async () => {
    const streams = [
      await SseReader.open(`${url}/api/v1/events?namespace=${ns}`, viewer),
      await SseReader.open(`${url}/api/v1/events?namespace=${ns}`, viewer),
    ];
    try {
      const third = await getJson(`${url}/api/v1/events?namespace=${ns}`, viewer);
      expect(third.status).toBe(429);
      expect(third.body).toMatchObject({ error: 'TooManyRequests' });
    } finally {
      for (const s of streams) s.close();
    }
  });

  it('serves /metrics with a token allowed to get /metrics, 401 without a token, 403 with another', async () => {
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    const denied = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${viewer}` } });
    expect(denied.status).toBe(403);
    const allowed = await waitFor(
      'the metrics-reader binding to take effect',
      async () => {
        const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${scraper}` } });
        return response.status === 200 ? response : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(await allowed.text()).toMatch(
      /^kube_usage_http_token_reviews_total\{result="authenticated"\} \d+$/m,
    );
    // The probes stay open.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });
});
