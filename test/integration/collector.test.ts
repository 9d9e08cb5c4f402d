import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  PolicyCollector,
  type CollectionTarget,
  type CycleSink,
} from '../../operator/collector/collector.js';
import { KubernetesMetricsSource } from '../../operator/sources/metrics-api/kubernetes-metrics-api.js';
import { podInfoFromV1Pod, type PodInfo, type PodLister } from '../../operator/collector/pod-cache.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { systemClock, type CollectionCycle, type ContainerSample } from '../../operator/model.js';
import { captureLogger, type LogLine } from '../harness/capture-logger.js';
import {
  createPod,
  deleteNamespace,
  kubeConfig,
  kubectl,
  kubectlOk,
  listPods,
  newNamespace,
  setPodUsage,
  waitFor,
} from '../harness/index.js';

const MiB = 1024 * 1024;
const METRICS_APISERVICE = 'apiservices/v1beta1.metrics.k8s.io';
const patience = { timeoutMs: 150_000, intervalMs: 2_000 };

/** The pod cache as a snapshot refreshed before each cycle (the operator uses an informer). */
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

class RecordingSink implements CycleSink {
  readonly cycles: CollectionCycle[] = [];
  onCycle(cycle: CollectionCycle): void {
    this.cycles.push(cycle);
  }
}

const near = (value: number | null | undefined, target: number, tolerance = 0.05) =>
  value !== null && value !== undefined && Math.abs(value - target) <= target * tolerance;

describe('collector against kwok + metrics-server', () => {
  let namespace: string;
  let pods: SnapshotPodLister;
  let sink: RecordingSink;
  let lines: LogLine[];
  let collector: PolicyCollector;
  let target: CollectionTarget;

  /** Runs one cycle and returns the newest sample of web-1/app it produced, if any. */
  async function collectApp() {
    await pods.refresh();
    const state = await collector.collect(target);
    const samples: ContainerSample[] = sink.cycles.at(-1)?.samples ?? [];
    return { state, sample: samples.find((s) => s.pod === 'web-1' && s.container === 'app') };
  }

  beforeAll(async () => {
    namespace = await newNamespace('collector');
    await createPod(namespace, {
      name: 'web-1',
      labels: { app: 'web' },
      containers: [
        { name: 'app', requests: { cpu: '250m', memory: '50Mi' }, limits: { cpu: '1', memory: '200Mi' } },
      ],
      usage: { cpu: '500m', memory: '100Mi' },
    });
    await createPod(namespace, {
      name: 'db-1',
      labels: { app: 'db' },
      usage: { cpu: '100m', memory: '10Mi' },
    });
    pods = new SnapshotPodLister(namespace);
    sink = new RecordingSink();
    const captured = captureLogger();
    lines = captured.lines;
    collector = new PolicyCollector({
      source: new KubernetesMetricsSource(kubeConfig()),
      pods,
      sinks: [sink],
      clock: systemClock,
      logger: captured.logger,
      metrics: new OperatorMetrics(),
    });
    target = {
      policy: `${namespace}/web`,
      intervalSeconds: 10,
      namespaces: [namespace],
      selector: { matchLabels: { app: 'web' } },
    };
  });

  afterAll(async () => {
    await deleteNamespace(namespace);
  });

  it('samples a pod at its simulated usage with % of limit, and follows a usage change', async () => {
    const first = await waitFor(
      'web-1/app sampled at 500m / 100Mi',
      async () => {
        const { sample } = await collectApp();
        return sample && near(sample.cpuMillicores, 500) && sample.memoryBytes === 100 * MiB
          ? sample
          : undefined;
      },
      patience,
    );
    expect(near(first.cpuPercentOfLimit, 50)).toBe(true);
    expect(near(first.cpuPercentOfRequest, 200)).toBe(true);
    expect(first.memoryPercentOfLimit).toBe(50);
    expect(first.memoryPercentOfRequest).toBe(200);
    expect(first.uptimeSeconds).toBeGreaterThan(0);
    expect(first.labels).toEqual([{ k: 'app', v: 'web' }]);
    expect(sink.cycles.flatMap((c) => c.samples).every((s) => s.pod === 'web-1')).toBe(true);

    await setPodUsage(namespace, 'web-1', { cpu: '900m' });
    const changed = await waitFor(
      'web-1/app sampled at 900m',
      async () => {
        const { sample } = await collectApp();
        return sample && near(sample.cpuMillicores, 900) ? sample : undefined;
      },
      patience,
    );
    expect(near(changed.cpuPercentOfLimit, 90)).toBe(true);
    expect(changed.time).toBeGreaterThan(first.time);
  });

  it('records uptime only while the metrics APIService is gone, and recovers when it returns', async () => {
    const saved = JSON.parse(await kubectlOk(['get', METRICS_APISERVICE, '-o', 'json'])) as {
      metadata: Record<string, unknown>;
      status?: unknown;
    };
    const { name, labels, annotations } = saved.metadata;
    const manifest = JSON.stringify({ ...saved, metadata: { name, labels, annotations }, status: undefined });
    const warningsBefore = lines.filter((l) => l.level === 'warn').length;
    try {
      await kubectlOk(['delete', METRICS_APISERVICE, '--wait=true']);
      const degraded = await waitFor(
        'the policy degraded to uptime only',
        async () => {
          const { state, sample } = await collectApp();
          return state?.degraded?.reason === 'MetricsAPIUnavailable' ? { state, sample } : undefined;
        },
        patience,
      );
      expect(degraded.state?.metricsSource).toBe('none');
      expect(degraded.sample).toMatchObject({
        cpuMillicores: null,
        memoryBytes: null,
        cpuLimitMillicores: 1000,
      });
      expect(degraded.sample?.uptimeSeconds).toBeGreaterThan(0);
      expect(degraded.state?.degraded?.message).toMatch(/metrics\.k8s\.io\/v1beta1/);
      // Still degraded on the next cycle, without another warning.
      expect((await collectApp()).state?.metricsSource).toBe('none');

      await kubectlOk(['create', '-f', '-'], { input: manifest });
      const recovered = await waitFor(
        'the policy collecting usage again',
        async () => {
          const { state, sample } = await collectApp();
          return state?.metricsSource === 'metrics.k8s.io' && sample?.cpuMillicores !== null && sample
            ? state
            : undefined;
        },
        patience,
      );
      expect(recovered.degraded).toBeUndefined();
      const transitions = lines.filter((l) => l.level === 'warn' || l.message.includes('again'));
      expect(transitions.slice(warningsBefore).map((l) => [l.level, l.reason ?? l.previousReason])).toEqual([
        ['warn', 'MetricsAPIUnavailable'],
        ['info', 'MetricsAPIUnavailable'],
      ]);
    } finally {
      if ((await kubectl(['get', METRICS_APISERVICE])).code !== 0) {
        await kubectlOk(['create', '-f', '-'], { input: manifest });
      }
    }
  });
});
