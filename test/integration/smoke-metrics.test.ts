import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Metrics, type PodMetric } from '@kubernetes/client-node';
import {
  createDeployment,
  deleteNamespace,
  kubeConfig,
  listPods,
  newNamespace,
  setPodUsage,
  waitFor,
} from '../harness/index.js';

/** CPU quantity of metrics-server (e.g. "499873012n", "500m") in millicores. */
function millicores(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)([num]?)$/.exec(quantity);
  if (!m) throw new Error(`unexpected CPU quantity ${quantity}`);
  const scale = { n: 1e-6, u: 1e-3, m: 1, '': 1000 }[m[2] as 'n' | 'u' | 'm' | ''];
  return Number(m[1]) * scale;
}

function memoryMi(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!m) throw new Error(`unexpected memory quantity ${quantity}`);
  const scale = { Ki: 1 / 1024, Mi: 1, Gi: 1024, '': 1 / (1024 * 1024) }[
    (m[2] ?? '') as 'Ki' | 'Mi' | 'Gi' | ''
  ];
  return Number(m[1]) * scale;
}

describe('smoke: simulated pods through kwok and metrics-server', () => {
  let namespace: string;
  const metrics = () => new Metrics(kubeConfig());

  beforeAll(async () => {
    namespace = await newNamespace('smoke');
  });
  afterAll(async () => {
    await deleteNamespace(namespace);
  });

  it('shows a deployment’s usage in PodMetrics, and a changed usage after it changes', async () => {
    await createDeployment(namespace, { name: 'web', replicas: 2, usage: { cpu: '500m', memory: '100Mi' } });

    const usageOf = (item: PodMetric) => ({
      cpu: millicores(item.containers[0]?.usage.cpu ?? '0'),
      memory: memoryMi(item.containers[0]?.usage.memory ?? '0'),
    });
    const near = (value: number, target: number) => Math.abs(value - target) <= target * 0.05;
    // What a timeout reports: the pods as the cluster has them, and what metrics.k8s.io returned.
    const observed = async (items: PodMetric[]) => {
      const pods = (await listPods(namespace)).map(
        (p) => `${p.metadata?.name} ${p.status?.phase ?? '?'} on ${p.spec?.nodeName ?? 'no node'}`,
      );
      const usage = items.map((i) => `${i.metadata.name} ${i.timestamp} ${JSON.stringify(i.containers)}`);
      return `pods: [${pods.join(', ')}]; metrics: [${usage.join(', ')}]`;
    };

    const first = await waitFor(
      'two pods at 500m / 100Mi in metrics.k8s.io',
      async () => {
        const list = await metrics().getPodMetrics(namespace);
        const good = list.items.filter((i) => near(usageOf(i).cpu, 500) && usageOf(i).memory === 100);
        if (good.length === 2) return list.items;
        throw new Error(await observed(list.items));
      },
      { timeoutMs: 150_000, intervalMs: 2000 },
    );
    expect(first).toHaveLength(2);

    const pods = await listPods(namespace, 'app=web');
    expect(pods).toHaveLength(2);
    for (const pod of pods) await setPodUsage(namespace, pod.metadata?.name ?? '', { cpu: '900m' });

    const changed = await waitFor(
      'both pods at 900m after the change',
      async () => {
        const list = await metrics().getPodMetrics(namespace);
        if (list.items.filter((i) => near(usageOf(i).cpu, 900)).length === 2) return list.items;
        throw new Error(await observed(list.items));
      },
      { timeoutMs: 150_000, intervalMs: 2000 },
    );
    expect(changed.map((i) => usageOf(i).memory)).toEqual([100, 100]);
  });
});
