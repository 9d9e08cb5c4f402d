import { describe, expect, it } from '@jest/globals';
import type { NodeObject } from '../../../../operator/sources/kubelet/kubelet-endpoint.js';
import {
  KubeletRequestError,
  type KubeletAnswer,
  type KubeletCredentials,
  type KubeletHttp,
} from '../../../../operator/sources/kubelet/kubelet-http.js';
import { podLookup } from '../../../../operator/sources/pod-lookup.js';
import { KubeletResourceSource } from '../../../../operator/sources/kubelet/kubelet-source.js';

const NOW = Date.UTC(2026, 11, 2, 1, 0, 0);

function node(name: string, address = '127.0.0.1'): NodeObject {
  return {
    metadata: {
      name,
      annotations: { 'metrics.k8s.io/resource-metrics-path': `/metrics/nodes/${name}/metrics/resource` },
    },
    status: {
      addresses: [{ type: 'InternalIP', address }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10247 } },
    },
  };
}

function answer(namespace: string, pod: string, cpu: number, memory: number): string {
  const labels = `{container="app",namespace="${namespace}",pod="${pod}"}`;
  return (
    `container_cpu_usage_seconds_total${labels} ${cpu}\n` +
    `container_memory_working_set_bytes${labels} ${memory}\n` +
    `container_start_time_seconds${labels} 1764630000.5\n`
  );
}

/** A fake at the HTTP boundary: answers or failures by URL, and how many reads ran at once. */
class FakeHttp implements KubeletHttp {
  inFlight = 0;
  maxInFlight = 0;
  urls: string[] = [];
  credentials: KubeletCredentials[] = [];
  constructor(private readonly answers: Record<string, string | KubeletRequestError>) {}

  async get(url: URL, credentials: KubeletCredentials): Promise<KubeletAnswer> {
    this.urls.push(url.href);
    this.credentials.push(credentials);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.inFlight--;
    const a = this.answers[url.pathname];
    if (a === undefined) throw new KubeletRequestError('HTTP 404', '404 Not Found');
    if (a instanceof KubeletRequestError) throw a;
    return { body: a, requestedAt: NOW, receivedAt: NOW + 3 };
  }
  close(): void {}
}

const path = (n: string) => `/metrics/nodes/${n}/metrics/resource`;

describe('KubeletResourceSource', () => {
  it("reads each node's endpoint and joins its containers with their pods", async () => {
    const http = new FakeHttp({
      [path('n1')]: answer('shop', 'web-1', 12.5, 1_048_576),
      [path('n2')]: answer('shop', 'web-2', 7.25, 2_097_152),
    });
    const source = new KubeletResourceSource(
      { list: async () => [node('n1'), node('n2')] },
      { http, credentials: async () => ({ authorization: 'Bearer x' }) },
    );
    const pods = podLookup([
      { namespace: 'shop', name: 'web-1', uid: 'u1', node: 'n1' },
      { namespace: 'shop', name: 'web-2', uid: 'u2', node: 'n2' },
    ]);
    const batch = await source.read({ pods });
    expect(http.urls.sort()).toEqual([
      'https://127.0.0.1:10247/metrics/nodes/n1/metrics/resource',
      'https://127.0.0.1:10247/metrics/nodes/n2/metrics/resource',
    ]);
    expect(http.credentials[0]).toEqual({ authorization: 'Bearer x' });
    expect(batch.source).toBe('kubelet');
    expect(batch.unreadableNodes).toEqual([]);
    expect(batch.readings.sort((a, b) => a.pod.localeCompare(b.pod))).toEqual([
      {
        namespace: 'shop',
        pod: 'web-1',
        podUid: 'u1',
        container: 'app',
        node: 'n1',
        startTime: 1_764_630_000_500,
        cpu: { kind: 'counter', coreSecondsTotal: 12.5, time: NOW },
        memoryWorkingSetBytes: { value: 1_048_576, time: NOW },
      },
      {
        namespace: 'shop',
        pod: 'web-2',
        podUid: 'u2',
        container: 'app',
        node: 'n2',
        startTime: 1_764_630_000_500,
        cpu: { kind: 'counter', coreSecondsTotal: 7.25, time: NOW },
        memoryWorkingSetBytes: { value: 2_097_152, time: NOW },
      },
    ]);
  });

  it('reports nodes that cannot be read, with the class of failure, and bills them nothing', async () => {
    const http = new FakeHttp({
      [path('ok')]: answer('shop', 'web-1', 1, 1),
      [path('down')]: new KubeletRequestError('connection refused', 'connect ECONNREFUSED 127.0.0.1:1'),
      [path('slow')]: new KubeletRequestError('timeout', 'no answer within 5000 ms'),
      [path('garbled')]: 'container_cpu_usage_seconds_total{namespace="shop"} 1\n',
      [path('partial')]: answer('shop', 'web-5', 2, 2) + 'resource_scrape_error 1\n',
    });
    const nodes = ['ok', 'down', 'slow', 'garbled', 'partial'].map((n) => node(n));
    nodes.push({ metadata: { name: 'no-address' }, status: {} });
    const source = new KubeletResourceSource(
      { list: async () => nodes },
      { http, credentials: async () => ({}) },
    );
    const pods = podLookup([
      { namespace: 'shop', name: 'web-1', uid: 'u1', node: 'ok' },
      { namespace: 'shop', name: 'web-5', uid: 'u5', node: 'partial' },
    ]);
    const batch = await source.read({
      pods,
      nodes: ['ok', 'down', 'slow', 'garbled', 'partial', 'no-address', 'gone'],
    });
    expect(batch.readings.map((r) => r.podUid).sort()).toEqual(['u1', 'u5']);
    expect(batch.unreadableNodes.map(({ node, reason, partial }) => ({ node, reason, partial }))).toEqual([
      { node: 'down', reason: 'connection refused', partial: undefined },
      { node: 'slow', reason: 'timeout', partial: undefined },
      { node: 'garbled', reason: 'malformed response', partial: undefined },
      { node: 'partial', reason: 'kubelet scrape error', partial: true },
      { node: 'no-address', reason: 'no endpoint', partial: undefined },
      { node: 'gone', reason: 'node not found', partial: undefined },
    ]);
    expect(batch.unreadableNodes[0]?.detail).toBe(
      'https://127.0.0.1:10247/metrics/nodes/down/metrics/resource: connect ECONNREFUSED 127.0.0.1:1',
    );
    expect(batch.unreadableNodes[2]?.detail).toContain(
      'line 1: container_cpu_usage_seconds_total: missing label "pod"',
    );
  });

  it('reads only the nodes asked for, at most `concurrency` at a time', async () => {
    const names = Array.from({ length: 25 }, (_, i) => `n${i}`);
    const http = new FakeHttp(Object.fromEntries(names.map((n) => [path(n), ''])));
    const source = new KubeletResourceSource(
      { list: async () => names.map((n) => node(n)) },
      { http, credentials: async () => ({}), concurrency: 4 },
    );
    const batch = await source.read({ pods: podLookup([]), nodes: names.slice(0, 20) });
    expect(http.urls).toHaveLength(20);
    expect(http.maxInFlight).toBe(4);
    expect(batch.nodes.map((n) => n.node)).toEqual(names.slice(0, 20));
  });

  it('leaves out containers of unknown pods and of pods the cache has on another node', async () => {
    const http = new FakeHttp({ [path('n1')]: answer('shop', 'web-1', 1, 1) + answer('shop', 'old', 1, 1) });
    const source = new KubeletResourceSource(
      { list: async () => [node('n1')] },
      { http, credentials: async () => ({}) },
    );
    const batch = await source.read({
      pods: podLookup([{ namespace: 'shop', name: 'web-1', uid: 'u-new', node: 'n2' }]),
    });
    expect(batch.readings).toEqual([]);
    expect(batch.nodes[0]).toMatchObject({ node: 'n1', readings: 0, unmatched: 2 });
  });

  it('gives the CPU capacity of the nodes read, from their status (capacity, else allocatable)', async () => {
    const withCpu = (name: string, status: Partial<NonNullable<NodeObject['status']>>): NodeObject => {
      const n = node(name);
      return { ...n, status: { ...n.status, ...status } };
    };
    const source = new KubeletResourceSource(
      {
        list: async () => [
          withCpu('n1', { capacity: { cpu: '8' }, allocatable: { cpu: '7500m' } }),
          withCpu('n2', { allocatable: { cpu: '3500m' } }),
          withCpu('n3', { capacity: { cpu: 'lots' } }),
          node('n4'),
        ],
      },
      { http: new FakeHttp({}), credentials: async () => ({}) },
    );
    const batch = await source.read({ pods: podLookup([]), nodes: ['n1', 'n2', 'n3', 'n4'] });
    expect([...(batch.nodeCpuCores ?? [])]).toEqual([
      ['n1', 8],
      ['n2', 3.5],
    ]);
  });

  it('fails as a whole when the nodes cannot be listed', async () => {
    const source = new KubeletResourceSource(
      {
        list: async () => {
          throw new Error('nodes is forbidden');
        },
      },
      { http: new FakeHttp({}), credentials: async () => ({}) },
    );
    await expect(source.read({ pods: podLookup([]) })).rejects.toThrow('nodes is forbidden');
  });
});
