import { describe, expect, it } from '@jest/globals';
import type { NodeReport } from '../../../../agent/types.js';
import { DEFAULT_AGENT_PORT } from '../../../../agent/config.js';
import { silentLogger } from '../../../../operator/logging.js';
import {
  AGENT_PORT,
  AgentSource,
  agentEndpoint,
  parseAgentReport,
} from '../../../../operator/sources/agent/agent-source.js';
import { AgentReadings } from '../../../../operator/sources/agent/agent-readings.js';
import type { NodeObject } from '../../../../operator/sources/kubelet/kubelet-endpoint.js';
import {
  KubeletRequestError,
  type KubeletAnswer,
  type KubeletCredentials,
  type KubeletHttp,
} from '../../../../operator/sources/kubelet/kubelet-http.js';

const NOW = Date.UTC(2026, 11, 2, 1, 0, 0);

function node(name: string, addresses: { type: string; address: string }[]): NodeObject {
  return { metadata: { name }, status: { addresses } };
}

function report(name: string, pods: { namespace: string; name: string }[] = [], time = NOW): NodeReport {
  return {
    node: name,
    time,
    cgroupVersion: 2,
    host: {
      time,
      bootTime: NOW - 86_400_000,
      cpu: {
        user: 1,
        nice: 0,
        system: 1,
        idle: 10,
        iowait: 0,
        irq: 0,
        softirq: 0,
        steal: 0,
        guest: 0,
        guestNice: 0,
        cpus: 2,
      },
      memory: {
        totalBytes: 1,
        freeBytes: 1,
        buffersBytes: 0,
        cachedBytes: 0,
        swapTotalBytes: 0,
        swapFreeBytes: 0,
      },
      load: { one: 0, five: 0, fifteen: 0, runnable: 1, threads: 1 },
      interfaces: [],
      disks: [],
    },
    pods: pods.map((p, i) => ({
      ...p,
      uid: `uid-${i}`,
      qos: 'burstable',
      cgroupDriver: 'systemd',
      time,
      containers: [],
    })),
    podsWithoutCgroup: [],
    readErrors: [],
  };
}

/** A fake at the HTTP boundary: answers by host, and how many reads ran at once. */
class FakeHttp implements KubeletHttp {
  inFlight = 0;
  maxInFlight = 0;
  urls: string[] = [];
  timeouts: number[] = [];
  credentials: KubeletCredentials[] = [];
  constructor(private readonly answers: Record<string, string | KubeletRequestError>) {}
  async get(
    url: URL,
    credentials: KubeletCredentials,
    options: { timeoutMs: number },
  ): Promise<KubeletAnswer> {
    this.urls.push(url.href);
    this.timeouts.push(options.timeoutMs);
    this.credentials.push(credentials);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.inFlight--;
    const a = this.answers[url.host];
    if (a === undefined) throw new KubeletRequestError('connection refused', 'connect ECONNREFUSED');
    if (a instanceof KubeletRequestError) throw a;
    return { body: a, requestedAt: NOW, receivedAt: NOW + 3 };
  }
  close(): void {}
}

const lister = (nodes: NodeObject[]) => ({ list: async () => nodes });

describe('agent endpoint', () => {
  it("is https on the node's InternalIP at the agent's port, /stats", () => {
    expect(AGENT_PORT).toBe(DEFAULT_AGENT_PORT);
    const n = node('a', [
      { type: 'Hostname', address: 'a.example' },
      { type: 'InternalIP', address: '10.0.0.5' },
    ]);
    expect(agentEndpoint(n)).toEqual({ url: new URL('https://10.0.0.5:10265/stats') });
    expect(agentEndpoint(node('b', [{ type: 'InternalIP', address: 'fd00::5' }]), { port: 9 })).toEqual({
      url: new URL('https://[fd00::5]:9/stats'),
    });
    expect(agentEndpoint(node('c', []))).toEqual({
      error: 'the node has no address of the types InternalIP, ExternalIP, Hostname',
    });
  });
});

describe('agent report parsing', () => {
  it('accepts a report of the node asked, refuses one of another node or of the wrong shape', () => {
    const good = report('a', [{ namespace: 'ns', name: 'p' }]);
    expect(parseAgentReport(JSON.stringify(good), 'a')).toEqual(good);
    expect(() => parseAgentReport(JSON.stringify(good), 'b')).toThrow(
      'the agent reports the node "a", not "b"',
    );
    expect(() => parseAgentReport('<html>', 'a')).toThrow('the answer is not JSON');
    expect(() => parseAgentReport(JSON.stringify({ ...good, pods: {} }), 'a')).toThrow(
      '"pods" is not a list',
    );
    expect(() => parseAgentReport(JSON.stringify({ ...good, host: { cpu: {} } }), 'a')).toThrow(
      '"host" lacks cpu, memory or interfaces',
    );
  });
});

describe('agent source', () => {
  it('reads every node with bounded concurrency and reports the nodes without an agent, not failing', async () => {
    const nodes = Array.from({ length: 7 }, (_, i) =>
      node(`n${i}`, [{ type: 'InternalIP', address: `10.0.0.${i}` }]),
    );
    nodes.push(node('bare', []));
    const answers: Record<string, string | KubeletRequestError> = {};
    for (let i = 0; i < 5; i++) answers[`10.0.0.${i}:10265`] = JSON.stringify(report(`n${i}`));
    answers['10.0.0.5:10265'] = new KubeletRequestError('HTTP 403', '403 Forbidden: cannot get nodes/stats');
    const http = new FakeHttp(answers);
    const source = new AgentSource({
      nodes: lister(nodes),
      credentials: async () => ({ authorization: 'Bearer t' }),
      http,
      concurrency: 3,
      timeoutMs: 1234,
    });
    const batch = await source.read();
    expect(batch.reports.map((r) => r.node)).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
    expect(batch.absent).toEqual([
      { node: 'bare', reason: 'no endpoint', detail: expect.stringContaining('no address') },
      {
        node: 'n5',
        reason: 'HTTP 403',
        detail: 'https://10.0.0.5:10265/stats: 403 Forbidden: cannot get nodes/stats',
      },
      {
        node: 'n6',
        reason: 'connection refused',
        detail: 'https://10.0.0.6:10265/stats: connect ECONNREFUSED',
      },
    ]);
    expect(http.maxInFlight).toBe(3);
    expect(new Set(http.timeouts)).toEqual(new Set([1234]));
    expect(http.credentials.every((c) => c.authorization === 'Bearer t')).toBe(true);
  });

  it('reads only the nodes asked, and says which are unknown', async () => {
    const http = new FakeHttp({ '10.0.0.1:10265': JSON.stringify(report('a')) });
    const source = new AgentSource({
      nodes: lister([node('a', [{ type: 'InternalIP', address: '10.0.0.1' }])]),
      credentials: async () => ({}),
      http,
    });
    const batch = await source.read({ nodes: ['a', 'ghost'] });
    expect(batch.reports.map((r) => r.node)).toEqual(['a']);
    expect(batch.absent).toEqual([
      { node: 'ghost', reason: 'node not found', detail: 'no Node object of that name' },
    ]);
  });
});

describe('agent readings', () => {
  it('keep the newest report per node until it is too old, and say why a node or pod has none', () => {
    let now = NOW;
    const timers = { now: () => now, setTimeout: () => 0, clearTimeout: () => undefined };
    const readings = new AgentReadings({
      source: { read: async () => ({ source: 'agent', time: now, reports: [], absent: [], nodes: [] }) },
      timers,
      logger: silentLogger(),
      intervalMs: 10_000,
    });
    expect(readings.node('a')).toEqual({ absent: 'the agents have not been read yet' });
    const first = report('a', [{ namespace: 'ns', name: 'web' }]);
    readings.apply({
      source: 'agent',
      time: now,
      reports: [first],
      absent: [],
      nodes: [
        { node: 'a', durationMs: 1, report: first },
        { node: 'b', durationMs: 1, failure: { node: 'b', reason: 'timeout', detail: 'no answer' } },
      ],
    });
    expect(readings.node('a')).toEqual({ report: first });
    expect(readings.pod('ns', 'web')).toMatchObject({ pod: { name: 'web' }, report: { node: 'a' } });
    expect(readings.pod('ns', 'other')).toEqual({ absent: 'no agent reports the pod "ns/other"' });
    expect(readings.node('b')).toEqual({
      absent: 'the agent of the node "b" could not be read: timeout (no answer)',
    });
    // a failed read keeps the last report while it is fresh
    now += 20_000;
    readings.apply({
      source: 'agent',
      time: now,
      reports: [],
      absent: [{ node: 'a', reason: 'timeout' }],
      nodes: [{ node: 'a', durationMs: 1, failure: { node: 'a', reason: 'timeout' } }],
    });
    expect(readings.node('a')).toEqual({ report: first });
    now += 11_000;
    expect(readings.node('a')).toEqual({ absent: 'the agent of the node "a" could not be read: timeout' });
    expect(readings.pod('ns', 'web')).toEqual({
      absent: 'the agent of the node "a" could not be read: timeout',
    });
    // a pod that moved is found on its new node; a node gone from the cluster is forgotten
    const second = report('c', [{ namespace: 'ns', name: 'web' }], now);
    readings.apply({
      source: 'agent',
      time: now,
      reports: [second],
      absent: [],
      nodes: [{ node: 'c', durationMs: 1, report: second }],
    });
    expect(readings.pod('ns', 'web')).toMatchObject({ report: { node: 'c' } });
    expect(readings.node('a')).toEqual({ absent: 'no agent reading for the node "a"' });
  });
});
