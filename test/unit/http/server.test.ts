import { IO_ABSENT_REASON } from '../../../operator/store/io-counters.js';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { NO_AGENTS } from '../../../operator/http/agent-present.js';
import { getJson, rawRequest, sample, startTestServer, T0, TOKENS, type TestServer } from './fixtures.js';

let t: TestServer;
beforeEach(async () => {
  t = await startTestServer();
});
afterEach(async () => {
  await t.server.close();
});

const podUsage = (ns: string) => `/api/v1/namespaces/${ns}/pods/web-1/usage`;

describe('authentication', () => {
  it('answers 401 JSON without a token, with a garbage token, and with another scheme', async () => {
    for (const [token, headers] of [
      [undefined, {}],
      ['garbage', {}],
      [undefined, { authorization: 'Basic dXNlcjpwYXNz' }],
      [undefined, { authorization: 'Bearer' }],
    ] as const) {
      const response = await getJson(t.url + podUsage('team-a'), token, headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.body).toMatchObject({ error: 'Unauthorized', message: expect.any(String) });
    }
  });

  it('reviews a token once while its result is cached, and again after the cache expires', async () => {
    await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    expect(t.tokens.calls).toBe(1);
    t.clock.time += 11_000;
    await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    expect(t.tokens.calls).toBe(2);
  });

  it('answers 503 JSON when the token cannot be reviewed', async () => {
    t.tokens.failure = new Error('connect ECONNREFUSED');
    const response = await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    expect(response.status).toBe(503);
    // Generic: the apiserver's words go to the log, not to a caller nobody has authenticated.
    expect(response.body).toEqual({
      error: 'ServiceUnavailable',
      message: 'authentication is unavailable at the moment; retry later',
    });
  });

  it('bounds the TokenReviews 1,000 random tokens cost, and keeps a good token cached meanwhile', async () => {
    await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    expect(t.tokens.calls).toBe(1);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const response = await getJson(t.url + podUsage('team-a'), `random-${i}-${Math.random()}`);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
    // The burst (50, one of which the good token took) is reviewed; the rest is refused
    // without a review, with Retry-After.
    expect(t.tokens.calls).toBe(50);
    expect(Object.fromEntries(statuses)).toEqual({ 401: 49, 429: 951 });
    // The good token was not evicted by the flood: no new review.
    expect((await getJson(t.url + podUsage('team-a'), TOKENS.tenantA)).status).toBe(200);
    expect(t.tokens.calls).toBe(50);
    // A refused token is refused again without asking, for a short while.
    const bad = 'refused-token';
    t.clock.time += 60_000;
    await getJson(t.url + podUsage('team-a'), bad);
    await getJson(t.url + podUsage('team-a'), bad);
    expect(t.tokens.calls).toBe(51); // one review for both requests
  });
});

describe('authorization', () => {
  const tenantCases: [string, number][] = [
    [podUsage('team-a'), 200],
    [`${podUsage('team-a')}/history`, 200],
    ['/api/v1/usage/top?namespace=team-a', 200],
    ['/api/v1/usage/summary?namespace=team-a', 200],
    [podUsage('team-b'), 403],
    [`${podUsage('team-b')}/history`, 403],
    ['/api/v1/usage/top?namespace=team-b', 403],
    ['/api/v1/usage/top', 403],
    ['/api/v1/usage/summary', 403],
  ];

  it.each(tenantCases)('a tenant viewing team-a only: GET %s -> %i', async (path, status) => {
    const response = await getJson(t.url + path, TOKENS.tenantA);
    expect(response.status).toBe(status);
    if (status === 403) {
      expect(response.body).toMatchObject({
        error: 'Forbidden',
        message: expect.stringContaining('User "system:serviceaccount:team-a:viewer" cannot'),
      });
    }
  });

  it('asks for get pods in the namespace, list pods in a namespace, and cluster-wide list pods', async () => {
    await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    await getJson(t.url + '/api/v1/usage/top?namespace=team-a', TOKENS.tenantA);
    await getJson(t.url + '/api/v1/usage/summary', TOKENS.tenantA);
    expect(t.access.calls).toEqual([
      { verb: 'get', resource: 'pods', namespace: 'team-a' },
      { verb: 'list', resource: 'pods', namespace: 'team-a' },
      { verb: 'list', resource: 'pods' },
    ]);
  });

  it('lets a cluster admin read every endpoint', async () => {
    for (const path of [
      podUsage('team-b'),
      `${podUsage('team-a')}/history`,
      '/api/v1/usage/top',
      '/api/v1/usage/summary',
    ]) {
      const response = await getJson(t.url + path, TOKENS.admin);
      expect(response.status).not.toBe(403);
      expect(response.status).not.toBe(401);
    }
  });

  it('denies an authenticated user without any grant', async () => {
    expect((await getJson(t.url + podUsage('team-a'), TOKENS.nobody)).status).toBe(403);
  });

  it('reuses an access decision for 10 s', async () => {
    await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    expect(t.access.calls).toHaveLength(1);
    t.clock.time += 10_001;
    await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    expect(t.access.calls).toHaveLength(2);
  });

  it('checks the token before the parameters, so anonymous callers learn nothing', async () => {
    const response = await getJson(t.url + '/api/v1/usage/top?limit=zero');
    expect(response.status).toBe(401);
  });
});

describe('usage endpoints', () => {
  it("shows each container's type: a regular container, an init container or a sidecar", async () => {
    t.queries.samples = [
      sample({ container: 'migrate', containerType: 'init' }),
      sample({ container: 'mesh', containerType: 'sidecar' }),
      sample({ container: 'app' }),
    ];
    const response = await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    const body = response.body as { containers: { container: string; containerType: string }[] };
    expect(body.containers.map((c) => [c.container, c.containerType])).toEqual([
      ['migrate', 'init'],
      ['mesh', 'sidecar'],
      ['app', 'container'],
    ]);
  });

  it('serves the current usage of each container', async () => {
    const response = await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      namespace: 'team-a',
      pod: 'web-1',
      containers: [
        expect.objectContaining({
          container: 'app',
          node: 'node-1',
          time: new Date(T0 - 30_000).toISOString(),
          cpuMillicores: 250.5,
          memoryBytes: 128 * 1024 * 1024,
          cpuLimitMillicores: 500,
          cpuPercentOfLimit: 50.1,
          labels: { 'app.kubernetes.io/name': 'web' },
        }),
        expect.objectContaining({ container: 'sidecar', cpuMillicores: 10 }),
      ],
      // Without node agents their fields are null, and the answer says why.
      agent: null,
      network: null,
      absent: [
        { field: 'network', reason: NO_AGENTS },
        { field: 'containers[].cgroupCpu', reason: NO_AGENTS },
        { field: 'containers[].blockIo', reason: NO_AGENTS },
        { field: 'containers[].processCount', reason: NO_AGENTS },
      ],
    });
    const containers = (response.body as { containers: Record<string, unknown>[] }).containers;
    expect(containers.map((c) => [c.cgroupCpu, c.blockIo, c.processCount])).toEqual([
      [null, null, null],
      [null, null, null],
    ]);
  });

  it('answers 404 JSON for a pod without recorded usage', async () => {
    const response = await getJson(t.url + '/api/v1/namespaces/team-a/pods/unknown/usage', TOKENS.tenantA);
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({
      error: 'NotFound',
      message: expect.stringContaining('team-a/unknown'),
    });
  });

  it('serves history for the last 24 h by default, with times in RFC 3339', async () => {
    const response = await getJson(t.url + `${podUsage('team-a')}/history`, TOKENS.tenantA);
    expect(response.status).toBe(200);
    expect(t.queries.calls.history).toEqual([
      {
        namespace: 'team-a',
        pod: 'web-1',
        from: T0 - 86_400_000,
        to: T0,
        granularity: 'auto',
        maxPoints: 500,
      },
    ]);
    expect(response.body).toEqual({
      namespace: 'team-a',
      pod: 'web-1',
      from: new Date(T0 - 86_400_000).toISOString(),
      to: new Date(T0).toISOString(),
      granularity: '5m',
      containers: [
        {
          container: 'app',
          points: [
            {
              time: new Date(T0 - 600_000).toISOString(),
              count: 10,
              cpuMillicores: { min: 100, avg: 200, max: 300 },
              memoryBytes: null,
              io: null,
            },
            {
              time: new Date(T0 - 300_000).toISOString(),
              count: 10,
              cpuMillicores: { min: 110, avg: 210, max: 310 },
              memoryBytes: { min: 1, avg: 2, max: 3 },
              io: null,
            },
          ],
        },
      ],
      // Without agents the I/O is absent, and the answer says so.
      absent: [{ field: 'containers[app].points[].io', reason: IO_ABSENT_REASON }],
    });
  });

  it('passes an explicit range and granularity to the store', async () => {
    const from = '2026-11-20T00:00:00Z';
    const to = String((T0 - 3_600_000) / 1000);
    const response = await getJson(
      t.url + `${podUsage('team-a')}/history?from=${from}&to=${to}&granularity=1h`,
      TOKENS.tenantA,
    );
    expect(response.status).toBe(200);
    expect(t.queries.calls.history[0]).toMatchObject({
      from: Date.parse(from),
      to: T0 - 3_600_000,
      granularity: '1h',
    });
  });

  it('serves top consumers limited to the namespace asked for', async () => {
    const response = await getJson(
      t.url + '/api/v1/usage/top?metric=memory&window=7d&limit=5&namespace=team-a',
      TOKENS.tenantA,
    );
    expect(response.status).toBe(200);
    expect(t.queries.calls.top).toEqual([
      { metric: 'memory', from: T0 - 7 * 86_400_000, to: T0, limit: 5, namespaces: ['team-a'] },
    ]);
    expect(response.body).toEqual({
      metric: 'memory',
      unit: 'bytes',
      namespace: 'team-a',
      from: new Date(T0 - 7 * 86_400_000).toISOString(),
      to: new Date(T0).toISOString(),
      coverage: t.queries.coverage,
      items: t.queries.topEntries.map((e) => ({ ...e, io: null })),
      absent: t.queries.topEntries.map((e) => ({
        field: `items[${e.namespace}/${e.pod}/${e.container}].io`,
        reason: IO_ABSENT_REASON,
      })),
    });
  });

  it('serves a cluster-wide chargeback summary grouped by a label', async () => {
    const response = await getJson(
      t.url + '/api/v1/usage/summary?window=30d&groupBy=label:team',
      TOKENS.admin,
    );
    expect(response.status).toBe(200);
    expect(t.queries.calls.summary).toEqual([
      { from: T0 - 30 * 86_400_000, to: T0, groupBy: { kind: 'label', key: 'team' } },
    ]);
    expect(response.body).toMatchObject({
      groupBy: 'label:team',
      coverage: t.queries.coverage,
      items: t.queries.summaryEntries,
    });
  });
});

describe('errors', () => {
  it('names the offending field in a 400', async () => {
    const response = await getJson(t.url + `${podUsage('team-a')}/history?granularity=2m`, TOKENS.tenantA);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: 'BadRequest',
      message: 'granularity must be one of auto, raw, 1m, 5m, 1h, 1d',
      field: 'granularity',
    });
  });

  it('answers an unknown route with a JSON 404', async () => {
    const response = await getJson(t.url + '/api/v2/nothing', TOKENS.admin);
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ error: 'NotFound', message: 'no route for GET /api/v2/nothing' });
  });

  it('answers a request the HTTP parser rejects with a JSON 400', async () => {
    const response = await rawRequest(
      t.url,
      'GET /api/v1/usage/top HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n',
    );
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(response.body)).toMatchObject({ message: expect.any(String) });
  });

  it('answers a store failure with a JSON 500 that does not leak the cause', async () => {
    t.queries.failure = new Error('mongodb://user:secret@db failed');
    const response = await getJson(t.url + podUsage('team-a'), TOKENS.tenantA);
    expect(response.status).toBe(500);
    expect(response.body).toEqual({
      error: 'InternalError',
      message: 'internal error; the operator log has the details',
    });
  });
});

describe('probes and metrics', () => {
  it('serves Prometheus metrics to callers allowed to get /metrics, and to nobody else', async () => {
    t.metrics.samplesWritten.inc(7);
    expect((await fetch(t.url + '/metrics')).status).toBe(401);
    const tenant = await fetch(t.url + '/metrics', {
      headers: { authorization: `Bearer ${TOKENS.tenantA}` },
    });
    expect(tenant.status).toBe(403);
    expect(await tenant.json()).toMatchObject({
      message: expect.stringContaining('cannot get path "/metrics"'),
    });
    const response = await fetch(t.url + '/metrics', {
      headers: { authorization: `Bearer ${TOKENS.admin}` },
    });
    expect(t.access.calls).toContainEqual({ verb: 'get', path: '/metrics' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toMatch(/^kube_usage_samples_written_total 7$/m);
  });

  it('reports liveness', async () => {
    expect(await getJson(t.url + '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    t.health.alive = false;
    expect(await getJson(t.url + '/healthz')).toMatchObject({
      status: 503,
      body: { error: 'ServiceUnavailable' },
    });
  });

  it('is ready only when every check passes, and names the failing ones', async () => {
    expect(await getJson(t.url + '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
    t.health.checks = { store: 'connection refused', apiserver: true, informers: false };
    expect(await getJson(t.url + '/readyz')).toEqual(
      expect.objectContaining({
        status: 503,
        body: {
          error: 'ServiceUnavailable',
          message: 'not ready: store, informers',
          checks: { store: 'connection refused', apiserver: true, informers: false },
        },
      }),
    );
  });
});

describe('CORS', () => {
  it('is off by default', async () => {
    const response = await getJson(t.url + podUsage('team-a'), TOKENS.tenantA, {
      origin: 'https://dash.example',
    });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows configured origins only, including the preflight', async () => {
    const cors = await startTestServer({ cors: { origins: ['https://dash.example'] } });
    try {
      const allowed = await getJson(cors.url + podUsage('team-a'), TOKENS.tenantA, {
        origin: 'https://dash.example',
      });
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://dash.example');
      const other = await getJson(cors.url + podUsage('team-a'), TOKENS.tenantA, {
        origin: 'https://evil.example',
      });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const preflight = await fetch(cors.url + podUsage('team-a'), {
        method: 'OPTIONS',
        headers: { origin: 'https://dash.example', 'access-control-request-method': 'GET' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toBe('Authorization');
    } finally {
      await cors.server.close();
    }
  });
});
