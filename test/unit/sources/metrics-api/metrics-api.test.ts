import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  KubernetesMetricsSource,
  metricsUnavailableReason,
} from '../../../../operator/sources/metrics-api/kubernetes-metrics-api.js';
import { goDurationSeconds, podMetricsItems } from '../../../../operator/sources/metrics-api/pod-metrics.js';

/** A PodMetricsList as metrics-server serves it. */
const list = {
  kind: 'PodMetricsList',
  apiVersion: 'metrics.k8s.io/v1beta1',
  metadata: {},
  items: [
    {
      metadata: { name: 'web-7d9f', namespace: 'shop', creationTimestamp: '2026-11-21T10:00:20Z' },
      timestamp: '2026-11-21T10:00:15Z',
      window: '15.011s',
      containers: [
        { name: 'app', usage: { cpu: '9559630n', memory: '22244Ki' } },
        { name: 'proxy', usage: { cpu: '250m', memory: '1' } },
      ],
    },
  ],
};

describe('podMetricsItems', () => {
  it('reads usage exactly: CPU in nanocores, memory in bytes', () => {
    expect(podMetricsItems(list)).toEqual([
      {
        namespace: 'shop',
        name: 'web-7d9f',
        timestamp: Date.UTC(2026, 10, 21, 10, 0, 15),
        windowSeconds: 15.011,
        containers: [
          { name: 'app', cpuNanocores: 9_559_630, memoryBytes: 22_244 * 1024 },
          { name: 'proxy', cpuNanocores: 250_000_000, memoryBytes: 1 },
        ],
      },
    ]);
  });

  it('accepts an empty list', () => {
    expect(podMetricsItems({ items: [] })).toEqual([]);
    expect(podMetricsItems({ items: null })).toEqual([]);
  });

  it('names the field of a malformed answer', () => {
    const bad = structuredClone(list);
    bad.items[0]!.containers[1]!.usage.cpu = 'lots';
    expect(() => podMetricsItems(bad)).toThrow(
      /PodMetricsList\.items\[0\]\.containers\[1\]\.usage\.cpu: .*"lots"/,
    );
    const noTime = structuredClone(list) as { items: Record<string, unknown>[] };
    delete noTime.items[0]!['timestamp'];
    expect(() => podMetricsItems(noTime)).toThrow(
      'PodMetricsList.items[0].timestamp: expected a non-empty string',
    );
    const noName = structuredClone(list) as { items: { metadata: Record<string, unknown> }[] };
    delete noName.items[0]!.metadata['name'];
    expect(() => podMetricsItems(noName)).toThrow(
      'PodMetricsList.items[0].metadata.name: expected a non-empty string',
    );
    expect(() => podMetricsItems({ items: [{ ...list.items[0], window: '15' }] })).toThrow(
      'PodMetricsList.items[0].window: invalid duration "15"',
    );
    expect(() => podMetricsItems('nope')).toThrow('PodMetricsList: expected an object');
  });
});

describe('goDurationSeconds', () => {
  it.each([
    ['15.011s', 15.011],
    ['1m0s', 60],
    ['1h2m3s', 3723],
    ['500ms', 0.5],
    ['0', 0],
  ])('reads %s as %d seconds', (text, seconds) => {
    expect(goDurationSeconds(text)).toBeCloseTo(seconds, 9);
  });

  it.each(['', '15', 's', '1x', '1s2'])('rejects %j', (text) => {
    expect(() => goDurationSeconds(text)).toThrow('invalid duration');
  });
});

describe('metricsUnavailableReason', () => {
  it('treats a missing or unanswering metrics API as unavailable, with the reason', () => {
    const missing = new ApiException(
      404,
      'Unknown API Status Code!',
      '{"kind":"Status","message":"the server could not find the requested resource"}',
      {},
    );
    expect(metricsUnavailableReason(missing)).toMatch(
      /metrics\.k8s\.io\/v1beta1 is not served \(404: the server could not find/,
    );
    const down = new ApiException(503, 'Unknown API Status Code!', 'service unavailable', {});
    expect(metricsUnavailableReason(down)).toBe(
      'metrics.k8s.io/v1beta1 is registered but does not answer (503: service unavailable)',
    );
  });

  it('leaves other errors to the caller', () => {
    expect(metricsUnavailableReason(new ApiException(403, 'Forbidden', '', {}))).toBeUndefined();
    expect(metricsUnavailableReason(new Error('ECONNREFUSED'))).toBeUndefined();
  });
});

describe('KubernetesMetricsSource', () => {
  let server: Server;
  let requests: URL[];
  let answer: { status: number; body: unknown };
  let source: KubernetesMetricsSource;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(new URL(req.url ?? '/', 'http://localhost'));
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'test' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
      currentContext: 'test',
    });
    source = new KubernetesMetricsSource(kc);
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    requests = [];
    answer = { status: 200, body: list };
  });

  it('lists one namespace or the cluster, passing the label selector to the server', async () => {
    expect(await source.listPodMetrics({ namespace: 'shop', labelSelector: 'app=web' })).toEqual({
      available: true,
      items: podMetricsItems(list),
    });
    await source.listPodMetrics({});
    expect(requests.map((u) => [u.pathname, u.searchParams.get('labelSelector')])).toEqual([
      ['/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods', 'app=web'],
      ['/apis/metrics.k8s.io/v1beta1/pods', null],
    ]);
  });

  it('answers "not available" for a metrics API that is not served, and throws for other errors', async () => {
    answer = { status: 503, body: { kind: 'Status', message: 'service unavailable' } };
    expect(await source.listPodMetrics({})).toEqual({
      available: false,
      reason: 'metrics.k8s.io/v1beta1 is registered but does not answer (503: service unavailable)',
    });
    answer = { status: 403, body: { kind: 'Status', message: 'forbidden' } };
    await expect(source.listPodMetrics({})).rejects.toMatchObject({ code: 403 });
  });

  it('gives up on a request that is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(source.listPodMetrics({}, controller.signal)).rejects.toThrow();
  });
});
