/**
 * The collector on its primary source against the test cluster's real pieces: kwok serves each
 * simulated node's /metrics/resource, read with the operator ServiceAccount's token (the shipped
 * RBAC), for pods whose constant usage the kwok annotations configure, at a 10 s policy interval
 * against kwok's counters. The accounting must add up exactly: the increments of a series sum to
 * the counter's difference between its first and last reading, their spans tile that time, and
 * the total is usage x elapsed within the only uncertainty there is (when, during each request,
 * kwok evaluated its counter).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig, type V1Node } from '@kubernetes/client-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  PolicyCollector,
  type CollectionTarget,
  type CycleSink,
  type PolicyCollectionState,
} from '../../operator/collector/collector.js';
import { podInfoFromV1Pod, type PodInfo, type PodLister } from '../../operator/collector/pod-cache.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { systemClock, type CollectionCycle, type ContainerSample } from '../../operator/model.js';
import {
  NodeKubeletHttp,
  type KubeletAnswer,
  type KubeletHttp,
} from '../../operator/sources/kubelet/kubelet-http.js';
import { KubeletResourceSource } from '../../operator/sources/kubelet/kubelet-source.js';
import {
  KubernetesNodeLister,
  kubeletCredentials,
} from '../../operator/sources/kubelet/kubernetes-kubelet.js';
import { KubernetesMetricsSource } from '../../operator/sources/metrics-api/kubernetes-metrics-api.js';
import { captureLogger } from '../harness/capture-logger.js';
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

const MI = 2 ** 20;
const INTERVAL_MS = 10_000;
const CYCLES = 13; // two minutes of collection
/** As metrics-server is started in the test cluster: these address types. */
const ADDRESS_TYPES = ['InternalIP', 'ExternalIP', 'Hostname'];

/** Every answer of each URL, with when it was asked and answered. */
class TimedHttp implements KubeletHttp {
  readonly answers = new Map<string, KubeletAnswer[]>();
  constructor(private readonly http: KubeletHttp) {}
  async get(...args: Parameters<KubeletHttp['get']>): Promise<KubeletAnswer> {
    const answer = await this.http.get(...args);
    const list = this.answers.get(args[0].href) ?? [];
    list.push(answer);
    this.answers.set(args[0].href, list);
    return answer;
  }
  close(): void {
    this.http.close();
  }
}

class SnapshotPodLister implements PodLister {
  private pods: PodInfo[] = [];
  constructor(private readonly namespace: string) {}
  async refresh(): Promise<void> {
    this.pods = (await listPods(this.namespace)).map(podInfoFromV1Pod);
  }
  list(namespace?: string): PodInfo[] {
    return this.pods.filter((pod) => namespace === undefined || pod.namespace === namespace);
  }
}

class Recorder implements CycleSink {
  readonly cycles: CollectionCycle[] = [];
  onCycle(cycle: CollectionCycle): void {
    this.cycles.push(cycle);
  }
  samples(pod: string, container: string): ContainerSample[] {
    return this.cycles.flatMap((c) => c.samples).filter((s) => s.pod === pod && s.container === container);
  }
}

/** A Node kwok manages but nothing serves (nothing listens on 127.0.0.2); tainted against other tests' pods. */
function refusingNode(name: string): V1Node {
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
      addresses: [{ type: 'InternalIP', address: '127.0.0.2' }],
      allocatable: { cpu: '1', memory: '1Gi', pods: '10' },
      capacity: { cpu: '1', memory: '1Gi', pods: '10' },
    },
  };
}

let namespace: string;
let dir: string;
let operatorConfig: KubeConfig;
let refused: string | undefined;

beforeAll(async () => {
  await applyOperatorIdentity();
  dir = mkdtempSync(join(tmpdir(), 'kuo-collector-kubelet-'));
  operatorConfig = new KubeConfig();
  operatorConfig.loadFromFile(await writeOperatorKubeconfig(join(dir, 'kubeconfig')));
  namespace = await newNamespace('collector-kubelet');
  await createPod(namespace, {
    name: 'web-a',
    labels: { app: 'web' },
    node: 'kwok-node-0',
    usage: { cpu: '250m', memory: '128Mi' },
  });
  await createPod(namespace, {
    name: 'web-b',
    labels: { app: 'web' },
    node: 'kwok-node-1',
    usage: { cpu: '750m', memory: '384Mi' },
  });
  await waitFor('both pods running', async () => {
    const pods = await listPods(namespace);
    return pods.length === 2 && pods.every((p) => p.status?.phase === 'Running');
  });
});

afterAll(async () => {
  if (refused)
    await coreApi()
      .deleteNode({ name: refused })
      .catch(() => undefined);
  await deleteNamespace(namespace);
  rmSync(dir, { recursive: true, force: true });
});

describe('collector on the kubelet resource endpoints (kwok)', () => {
  let http: TimedHttp;
  let pods: SnapshotPodLister;
  let recorder: Recorder;
  let collector: PolicyCollector;
  let kubelet: KubeletResourceSource;
  let target: CollectionTarget;

  beforeAll(() => {
    http = new TimedHttp(new NodeKubeletHttp());
    kubelet = new KubeletResourceSource(new KubernetesNodeLister(operatorConfig, { maxAgeMs: 0 }), {
      credentials: kubeletCredentials(operatorConfig),
      endpoint: { addressTypes: ADDRESS_TYPES },
      http,
      timeoutMs: 3_000,
    });
    pods = new SnapshotPodLister(namespace);
    recorder = new Recorder();
    collector = new PolicyCollector({
      source: new KubernetesMetricsSource(operatorConfig),
      kubelet,
      pods,
      sinks: [recorder],
      clock: systemClock,
      logger: captureLogger().logger,
      metrics: new OperatorMetrics(),
    });
    target = {
      policy: `${namespace}/web`,
      intervalSeconds: INTERVAL_MS / 1000,
      namespaces: [namespace],
      selector: { matchLabels: { app: 'web' } },
    };
  });
  afterAll(() => kubelet?.close());

  async function cycle(): Promise<PolicyCollectionState | undefined> {
    await pods.refresh();
    return collector.collect(target);
  }

  it('bills usage x elapsed exactly at a 10 s interval: the counters telescope, the spans tile the time', async () => {
    // kwok lists a new pod's containers on its endpoint shortly after the pod runs.
    await waitFor('both containers read', async () => {
      await cycle();
      const last = recorder.cycles.at(-1)?.samples ?? [];
      return last.filter((s) => s.cpuCoreSecondsTotal !== undefined).length === 2 || undefined;
    });
    const firstCycle = recorder.cycles.length - 1;
    const answersBefore = new Map([...http.answers].map(([url, list]) => [url, list.at(-1)!]));
    let state: PolicyCollectionState | undefined;
    for (let i = 0; i < CYCLES; i++) {
      await sleep(INTERVAL_MS);
      state = await cycle();
    }
    expect(state).toMatchObject({ metricsSource: 'kubelet', matchedPods: 2, podsWithoutMetrics: 0 });
    expect(state).not.toHaveProperty('degraded');

    for (const [pod, cores, bytes, node] of [
      ['web-a', 0.25, 128 * MI, 'kwok-node-0'],
      ['web-b', 0.75, 384 * MI, 'kwok-node-1'],
    ] as const) {
      const all = recorder.samples(pod, 'app');
      const base = recorder.cycles[firstCycle]!.samples.find((s) => s.pod === pod)!;
      const samples = all.filter((s) => s.time > base.time);
      const last = samples.at(-1)!;
      expect(samples).toHaveLength(CYCLES);
      // The spans tile [first reading, last reading]: each starts where the previous ended.
      let end = base.time;
      for (const s of samples) {
        expect(s.from).toBe(end);
        end = s.time;
      }
      const cpu = samples.reduce((total, s) => total + s.cpuCoreSeconds!, 0);
      const memory = samples.reduce((total, s) => total + s.memoryByteSeconds!, 0);
      // Exact by construction: the increments sum to the counter's own difference...
      const counted = last.cpuCoreSecondsTotal! - base.cpuCoreSecondsTotal!;
      expect(Math.abs(cpu - counted)).toBeLessThanOrEqual(counted * 1e-12);
      // ...and the working set (a constant gauge) integrates to bytes x elapsed.
      expect(Math.abs(memory - (bytes * (last.time - base.time)) / 1000)).toBeLessThanOrEqual(
        bytes * 1e-12 * (last.time - base.time),
      );
      // The ground truth: usage x elapsed between kwok's two evaluations, which happened while
      // the first and the last request were in flight (the reading's time is the request's).
      const url = [...http.answers.keys()].find((u) => u.includes(`/nodes/${node}/`))!;
      const first = answersBefore.get(url)!;
      const final = http.answers.get(url)!.at(-1)!;
      expect(first.requestedAt).toBe(base.time);
      expect(final.requestedAt).toBe(last.time);
      // kwok keeps one registry per node and evaluates it on every request, then serves the
      // registry (sigs.k8s.io/kwok pkg/kwok/server/metrics.go: Update, then ServeHTTP, not atomic):
      // a metrics-server scrape of the same node in flight at the same moment can have its
      // evaluation served to us, and that evaluation began at most one request's duration before
      // ours. So each counter is kwok's at an instant in [requestedAt - slowest, receivedAt].
      const slowest = Math.max(...http.answers.get(url)!.map((a) => a.receivedAt - a.requestedAt));
      const elapsedMin = final.requestedAt - slowest - first.receivedAt;
      const elapsedMax = final.receivedAt - (first.requestedAt - slowest);
      console.log(
        `[collector-kubelet] ${pod}: ${cpu.toFixed(6)} core-s billed; usage x elapsed in ` +
          `[${((cores * elapsedMin) / 1000).toFixed(6)}, ${((cores * elapsedMax) / 1000).toFixed(6)}] (slowest request ${slowest} ms)`,
      );
      expect(cpu).toBeGreaterThanOrEqual(cores * (elapsedMin / 1000) * (1 - 1e-12));
      expect(cpu).toBeLessThanOrEqual(cores * (elapsedMax / 1000) * (1 + 1e-12));
      expect(last.cpuMillicores).toBeGreaterThan(cores * 1000 * 0.99);
      expect(last.cpuMillicores).toBeLessThan(cores * 1000 * 1.01);
    }
  });

  it('does not bill a re-created pod (same name, new UID) the counter kwok kept for its name', async () => {
    const old = (await listPods(namespace)).find((p) => p.metadata?.name === 'web-a')!;
    await coreApi().deleteNamespacedPod({ name: 'web-a', namespace, gracePeriodSeconds: 0 });
    await waitFor('web-a gone', async () =>
      (await listPods(namespace)).every((p) => p.metadata?.uid !== old.metadata?.uid) ? true : undefined,
    );
    const createdAt = Date.now();
    await createPod(namespace, {
      name: 'web-a',
      labels: { app: 'web' },
      node: 'kwok-node-0',
      usage: { cpu: '250m', memory: '128Mi' },
    });
    const uid = await waitFor('the new web-a running', async () => {
      const pod = (await listPods(namespace)).find((p) => p.metadata?.name === 'web-a');
      return pod?.status?.phase === 'Running' ? pod.metadata?.uid : undefined;
    });
    const readings = () =>
      recorder.cycles
        .flatMap((c) => c.samples)
        .filter((s) => s.podUid === uid && s.cpuCoreSecondsTotal !== undefined && s.from! < s.time);
    await waitFor(
      'three accounted readings of the new pod',
      async () => {
        await cycle();
        return readings().length >= 3 || undefined;
      },
      { intervalMs: 5_000, timeoutMs: 90_000 },
    );
    const accounted = readings();
    const billed = accounted.reduce((total, s) => total + s.cpuCoreSeconds!, 0);
    // The new pod ran since it was created (its status start has whole seconds: up to 1 s
    // earlier): whatever kwok's counter says, it is never billed more than that.
    const ranAtMost = (accounted.at(-1)!.time - (createdAt - 1_000)) / 1000;
    expect(billed).toBeLessThanOrEqual(0.25 * ranAtMost);
    expect(billed).toBeGreaterThan(0);
  });

  it('puts the policy Degraded naming a node it cannot read, and keeps reading the others', async () => {
    const core = coreApi(); // the admin: the operator may not create nodes
    refused = uniqueName('kuo-refused');
    await core.createNode({ body: refusingNode(refused) });
    await createPod(namespace, {
      name: 'web-stranded',
      labels: { app: 'web' },
      node: refused,
      usage: { cpu: '100m', memory: '16Mi' },
    });
    await waitFor('kwok to run the pod on the new node', async () => {
      const node = await core.readNode({ name: refused! });
      const pod = (await listPods(namespace)).find((p) => p.metadata?.name === 'web-stranded');
      return (
        (node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0) > 0 && pod?.status?.phase === 'Running'
      );
    });
    const before = recorder.samples('web-a', 'app').at(-1)!;
    const state = await cycle();
    expect(state).toMatchObject({
      metricsSource: 'kubelet',
      matchedPods: 3,
      degraded: { reason: 'NodesUnreadable', nodes: [refused] },
    });
    expect(state?.degraded?.message).toContain(`${refused} (connection refused)`);
    const samples = recorder.cycles.at(-1)!.samples;
    // The stranded pod claims no usage (a zero span, null): it is not billed as zero.
    expect(samples.find((s) => s.pod === 'web-stranded')).toMatchObject({
      cpuMillicores: null,
      cpuCoreSeconds: null,
      memoryByteSeconds: null,
    });
    // The readable nodes' pods go on.
    const next = samples.find((s) => s.pod === 'web-a')!;
    expect(next.from).toBe(before.time);
    expect(next.cpuCoreSeconds).toBeGreaterThan(0);

    await core.deleteNode({ name: refused });
    refused = undefined;
  });
});
