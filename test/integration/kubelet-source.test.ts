/**
 * The kubelet source against the test cluster's real pieces: kwok serves each simulated node's
 * /metrics/resource (the endpoint a kubelet serves), found through the Node objects exactly as
 * metrics-server finds it here, read with the operator ServiceAccount's own token (the shipped
 * RBAC). The figures are checked against the usage the pods' annotations configure.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig, type V1Node } from '@kubernetes/client-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  coreApi,
  createPod,
  deleteNamespace,
  listPods,
  newNamespace,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { applyOperatorIdentity, writeOperatorKubeconfig } from './operator-install.js';
import {
  NodeKubeletHttp,
  type KubeletAnswer,
  type KubeletHttp,
} from '../../operator/sources/kubelet/kubelet-http.js';
import { podLookup } from '../../operator/sources/pod-lookup.js';
import { KubeletResourceSource, type KubeletBatch } from '../../operator/sources/kubelet/kubelet-source.js';
import {
  KubernetesNodeLister,
  kubeletCredentials,
} from '../../operator/sources/kubelet/kubernetes-kubelet.js';
import type { ContainerReading } from '../../operator/sources/readings.js';
import { KubernetesMetricsSource } from '../../operator/sources/metrics-api/kubernetes-metrics-api.js';
import { MetricsApiReadingSource } from '../../operator/sources/metrics-api/metrics-api-source.js';
import { rateIncrement } from '../../operator/sources/rate-weighting.js';

const MI = 2 ** 20;
/** As metrics-server is started in the test cluster (kwokctl): these address types. */
const METRICS_SERVER_ADDRESS_TYPES = ['InternalIP', 'ExternalIP', 'Hostname'];

/** The real HTTP client, noting when each URL was asked and answered. */
class TimedHttp implements KubeletHttp {
  readonly answers = new Map<string, KubeletAnswer>();
  constructor(private readonly http: KubeletHttp) {}
  async get(...args: Parameters<KubeletHttp['get']>): Promise<KubeletAnswer> {
    const answer = await this.http.get(...args);
    this.answers.set(args[0].href, answer);
    return answer;
  }
  close(): void {
    this.http.close();
  }
}

let namespace: string;
let dir: string;
let operatorConfig: KubeConfig;
const extraNodes: string[] = [];
let silent: Server | undefined;
const silentSockets: Socket[] = [];

beforeAll(async () => {
  await applyOperatorIdentity();
  dir = mkdtempSync(join(tmpdir(), 'kuo-kubelet-'));
  operatorConfig = new KubeConfig();
  operatorConfig.loadFromFile(await writeOperatorKubeconfig(join(dir, 'kubeconfig')));
  namespace = await newNamespace('kubelet');
  await createPod(namespace, { name: 'web-a', node: 'kwok-node-0', usage: { cpu: '250m', memory: '128Mi' } });
  await createPod(namespace, {
    name: 'web-b',
    node: 'kwok-node-1',
    containers: [
      { name: 'app', usage: { cpu: '750m', memory: '384Mi' } },
      { name: 'proxy', usage: { cpu: '100m', memory: '64Mi' } },
    ],
  });
  await waitFor('both pods running', async () => {
    const pods = await listPods(namespace);
    return pods.length === 2 && pods.every((p) => p.status?.phase === 'Running');
  });
});

afterAll(async () => {
  for (const name of extraNodes)
    await coreApi()
      .deleteNode({ name })
      .catch(() => undefined);
  for (const s of silentSockets) s.destroy();
  if (silent) await new Promise((resolve) => silent!.close(resolve));
  await deleteNamespace(namespace);
  rmSync(dir, { recursive: true, force: true });
});

function source(http: KubeletHttp, timeoutMs = 5_000): KubeletResourceSource {
  return new KubeletResourceSource(new KubernetesNodeLister(operatorConfig, { maxAgeMs: 0 }), {
    // Verified with the cluster CA of the kubeconfig (kwok's serving certificate is signed by
    // it and names localhost), where metrics-server here is started with --kubelet-insecure-tls.
    credentials: kubeletCredentials(operatorConfig),
    endpoint: { addressTypes: METRICS_SERVER_ADDRESS_TYPES },
    http,
    timeoutMs,
  });
}

async function lookup() {
  const pods = await listPods(namespace);
  return podLookup(
    pods.map((p) => ({
      namespace,
      name: p.metadata!.name!,
      uid: p.metadata!.uid!,
      node: p.spec!.nodeName!,
    })),
  );
}

function byContainer(batch: KubeletBatch): Map<string, ContainerReading> {
  return new Map(batch.readings.map((r) => [`${r.pod}/${r.container}`, r]));
}

describe('kubelet resource source on the test cluster', () => {
  it("reads the simulated nodes' counters and working sets, as configured on the pods", async () => {
    const http = new TimedHttp(new NodeKubeletHttp());
    const kubelet = source(http);
    try {
      const pods = await lookup();
      const uids = new Map((await listPods(namespace)).map((p) => [p.metadata!.name!, p.metadata!.uid!]));
      const nodes = ['kwok-node-0', 'kwok-node-1'];
      // kwok lists a new pod's containers on its endpoint shortly after the pod runs.
      const first = await waitFor('all three containers on the endpoints', async () => {
        const batch = await kubelet.read({ pods, nodes });
        return batch.readings.length === 3 ? batch : undefined;
      });
      const firstAnswers = new Map(http.answers);
      expect(first.unreadableNodes).toEqual([]);
      // Read again once at least 5 s have passed, so that the counters have grown measurably.
      const second = await waitFor(
        'a second read 5 s later',
        async () => {
          const batch = await kubelet.read({ pods, nodes });
          const t0 = first.readings[0]?.cpu?.time ?? Infinity;
          const t1 = batch.readings[0]?.cpu?.time ?? 0;
          return t1 - t0 >= 5_000 ? batch : undefined;
        },
        { intervalMs: 1_000 },
      );
      expect(second.unreadableNodes).toEqual([]);

      const before = byContainer(first);
      const after = byContainer(second);
      const expected = {
        'web-a/app': { cores: 0.25, bytes: 128 * MI, node: 'kwok-node-0' },
        'web-b/app': { cores: 0.75, bytes: 384 * MI, node: 'kwok-node-1' },
        'web-b/proxy': { cores: 0.1, bytes: 64 * MI, node: 'kwok-node-1' },
      };
      expect([...after.keys()].sort()).toEqual(Object.keys(expected));
      for (const [key, want] of Object.entries(expected)) {
        const a = before.get(key)!;
        const b = after.get(key)!;
        const [pod, container] = key.split('/');
        expect({
          pod: b.pod,
          container: b.container,
          podUid: b.podUid,
          node: b.node,
          namespace: b.namespace,
        }).toEqual({
          pod,
          container,
          podUid: uids.get(pod!),
          node: want.node,
          namespace,
        });
        // kwok writes the pod's age as container_start_time_seconds: not a start time, left out.
        expect(b.startTime).toBeUndefined();
        // The working set is the configured gauge, exactly.
        expect(b.memoryWorkingSetBytes?.value).toBe(want.bytes);
        // kwok's counter grows by rate x the time between its two evaluations, which happened
        // while each request was in flight: the increment lies within rate x those bounds.
        if (a.cpu?.kind !== 'counter' || b.cpu?.kind !== 'counter') throw new Error('expected counters');
        const url = [...http.answers.keys()].find((u) => u.includes(`/nodes/${want.node}/`))!;
        const r1 = firstAnswers.get(url)!;
        const r2 = http.answers.get(url)!;
        expect(a.cpu.time).toBe(r1.requestedAt);
        expect(b.cpu.time).toBe(r2.requestedAt);
        const increment = b.cpu.coreSecondsTotal - a.cpu.coreSecondsTotal;
        const shortest = (r2.requestedAt - r1.receivedAt) / 1000;
        const longest = (r2.receivedAt - r1.requestedAt) / 1000;
        expect(increment).toBeGreaterThanOrEqual(want.cores * shortest * (1 - 1e-9));
        expect(increment).toBeLessThanOrEqual(want.cores * longest * (1 + 1e-9));
      }
    } finally {
      kubelet.close();
    }
  });

  it('verifies kubelet certificates: signed by another CA than the one given is a TLS failure', async () => {
    const wrongCa = '/etc/ssl/certs/ca-certificates.crt'; // public CAs, none signed kwok's certificate
    const kubelet = new KubeletResourceSource(new KubernetesNodeLister(operatorConfig, { maxAgeMs: 0 }), {
      credentials: kubeletCredentials(operatorConfig, { caFile: wrongCa }),
      endpoint: { addressTypes: METRICS_SERVER_ADDRESS_TYPES },
      http: new NodeKubeletHttp(),
    });
    try {
      const batch = await kubelet.read({ pods: await lookup(), nodes: ['kwok-node-0'] });
      expect(batch.readings).toEqual([]);
      expect(batch.unreadableNodes).toMatchObject([
        {
          node: 'kwok-node-0',
          reason: 'TLS',
          detail: expect.stringContaining('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
        },
      ]);
      // Told not to verify (metrics-server's --kubelet-insecure-tls), it reads the node.
      const insecure = new KubeletResourceSource(new KubernetesNodeLister(operatorConfig, { maxAgeMs: 0 }), {
        credentials: kubeletCredentials(operatorConfig, { caFile: wrongCa, insecureSkipTLSVerify: true }),
        endpoint: { addressTypes: METRICS_SERVER_ADDRESS_TYPES },
        http: new NodeKubeletHttp(),
      });
      try {
        const read = await insecure.read({ pods: await lookup(), nodes: ['kwok-node-0'] });
        expect(read.unreadableNodes).toEqual([]);
        expect(read.readings.map((r) => r.pod)).toEqual(['web-a']);
      } finally {
        insecure.close();
      }
    } finally {
      kubelet.close();
    }
  });

  it('reports a node that refuses connections and one that never answers, within the deadline, and reads the others', async () => {
    const core = coreApi(); // the admin: the operator may not create nodes
    const kwokPort = await waitFor('kwok-node-0 to have a kubelet port', async () => {
      const node = await core.readNode({ name: 'kwok-node-0' });
      return node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
    });
    // kwok sets every node's port to its own; it keeps the addresses a node has. Nothing listens
    // on 127.0.0.2 (kwok binds 127.0.0.1); a server on 127.0.0.3 accepts and never answers.
    silent = createServer((socket) => silentSockets.push(socket));
    await new Promise<void>((resolve, reject) => {
      silent!.once('error', reject);
      silent!.listen(kwokPort, '127.0.0.3', resolve);
    });
    const refused = uniqueName('kuo-refused');
    const mute = uniqueName('kuo-mute');
    for (const [name, address] of [
      [refused, '127.0.0.2'],
      [mute, '127.0.0.3'],
    ] as const) {
      await core.createNode({ body: unreachableNode(name, address) });
      extraNodes.push(name);
    }
    await waitFor('kwok to give the new nodes its port', async () => {
      const nodes = await Promise.all([refused, mute].map((name) => core.readNode({ name })));
      return nodes.every((n) => n.status?.daemonEndpoints?.kubeletEndpoint?.Port === kwokPort);
    });

    const kubelet = source(new NodeKubeletHttp(), 2_000);
    try {
      const batch = await kubelet.read({ pods: await lookup(), nodes: ['kwok-node-0', refused, mute] });
      expect(batch.readings.map((r) => `${r.pod}/${r.container}`)).toEqual(['web-a/app']);
      expect(batch.unreadableNodes).toEqual([
        {
          node: refused,
          reason: 'connection refused',
          detail: expect.stringContaining(
            `https://127.0.0.2:${kwokPort}/metrics/nodes/${refused}/metrics/resource`,
          ),
        },
        {
          node: mute,
          reason: 'timeout',
          detail: `https://127.0.0.3:${kwokPort}/metrics/nodes/${mute}/metrics/resource: no answer within 2000 ms`,
        },
      ]);
    } finally {
      kubelet.close();
    }
  });
});

/** A Node kwok manages but nothing serves; tainted so that no other test's pod lands on it. */
function unreachableNode(name: string, address: string): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { type: 'kwok', 'kubernetes.io/hostname': name },
      annotations: {
        'kwok.x-k8s.io/node': 'fake',
        'metrics.k8s.io/resource-metrics-path': `/metrics/nodes/${name}/metrics/resource`,
      },
    },
    spec: { taints: [{ key: 'kube-usage-operator.test/unreachable', effect: 'NoSchedule' }] },
    status: {
      addresses: [{ type: 'InternalIP', address }],
      allocatable: { cpu: '1', memory: '1Gi', pods: '10' },
      capacity: { cpu: '1', memory: '1Gi', pods: '10' },
    },
  };
}

describe('metrics.k8s.io fallback source on the test cluster', () => {
  it("reads metrics-server's windows (15 s resolution) as rates and working sets, as configured", async () => {
    const source = new MetricsApiReadingSource(new KubernetesMetricsSource(operatorConfig));
    const pods = await lookup();
    // metrics-server needs two scrapes of a pod before it has a rate (15-45 s here).
    const batch = await waitFor(
      'PodMetrics of both pods',
      async () => {
        const read = await source.read({ pods, namespaces: [namespace] });
        return read.readings.length === 3 ? read : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 2_000 },
    );
    const expected: Record<string, { cores: number; bytes: number; node: string }> = {
      'web-a/app': { cores: 0.25, bytes: 128 * MI, node: 'kwok-node-0' },
      'web-b/app': { cores: 0.75, bytes: 384 * MI, node: 'kwok-node-1' },
      'web-b/proxy': { cores: 0.1, bytes: 64 * MI, node: 'kwok-node-1' },
    };
    for (const r of batch.readings) {
      const want = expected[`${r.pod}/${r.container}`]!;
      expect(r.node).toBe(want.node);
      expect(r.memoryWorkingSetBytes?.value).toBe(want.bytes);
      if (r.cpu?.kind !== 'rate') throw new Error('expected a rate');
      // The window is metrics-server's resolution (15 s, as upstream's manifest sets it)...
      expect(r.cpu.windowMs).toBeGreaterThanOrEqual(12_500);
      // ...and the rate kwok's counter difference over metrics-server's own request times, which
      // differ from kwok's evaluation times by the request latency (milliseconds of 15 s).
      expect(Math.abs(r.cpu.cores - want.cores) / want.cores).toBeLessThan(0.01);
      // A first reading stands for its window.
      expect(rateIncrement(undefined, r.cpu)).toEqual({
        coreSeconds: (r.cpu.cores * r.cpu.windowMs) / 1000,
        from: r.cpu.time - r.cpu.windowMs,
        to: r.cpu.time,
        extrapolatedMs: 0,
      });
    }
  });
});
