/**
 * Reads simulated nodes' `/metrics/resource` every second, as the collector reaches kwok, and
 * keeps every container's CPU counter readings with the interval in which kwok evaluated them:
 * what the ground truth derives kwok's counter origins from (usage-truth.ts, counterOrigin).
 * Reading every second also makes kwok start a new container's counter within a second of the
 * container appearing on its node.
 */
import { nodeEndpoint } from '../../operator/sources/kubelet/kubelet-endpoint.js';
import { NodeKubeletHttp } from '../../operator/sources/kubelet/kubelet-http.js';
import { kubeletCredentials } from '../../operator/sources/kubelet/kubernetes-kubelet.js';
import { coreApi, kubeConfig, SIMULATED_NODES } from './index.js';
import { containerKey, counterSamples } from './resource-metrics-text.js';
import { counterOrigin, type CounterOrigin, type CounterScrape } from './usage-truth.js';

export class KubeletRecorder {
  /** By `namespace/pod/container`. */
  readonly scrapes = new Map<string, CounterScrape[]>();
  private readonly http = new NodeKubeletHttp();
  private readonly credentials = kubeletCredentials(kubeConfig());
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private urls: URL[] = [];

  /**
   * Records the containers of these namespaces, on the test cluster's simulated nodes or at the
   * given endpoints (e.g. kwok's own, behind an interposer).
   */
  constructor(
    private readonly namespaces: Set<string>,
    private readonly endpoints?: URL[],
  ) {}

  async start(): Promise<void> {
    if (this.endpoints) this.urls = [...this.endpoints];
    else {
      const core = coreApi();
      for (const name of SIMULATED_NODES) {
        const endpoint = nodeEndpoint(await core.readNode({ name }));
        if ('error' in endpoint) throw new Error(`${name}: ${endpoint.error}`);
        this.urls.push(endpoint.url);
      }
    }
    await this.scrapeAll();
    this.timer = setInterval(() => void this.scrapeAll(), 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.http.close();
  }

  /** Also records the containers of this namespace from now on. */
  watchNamespace(namespace: string): void {
    this.namespaces.add(namespace);
  }

  private async scrapeAll(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const credentials = await this.credentials();
      await Promise.all(
        this.urls.map(async (url) => {
          const answer = await this.http.get(url, credentials, { timeoutMs: 5_000 }).catch(() => undefined);
          if (answer) this.record(answer.body, answer.requestedAt, answer.receivedAt);
        }),
      );
    } finally {
      this.running = false;
    }
  }

  private record(body: string, requestedAt: number, receivedAt: number): void {
    for (const sample of counterSamples(body)) {
      if (!this.namespaces.has(sample.namespace)) continue;
      const key = containerKey(sample);
      const list = this.scrapes.get(key) ?? [];
      list.push({ requestedAt, receivedAt, cpu: sample.cpu });
      this.scrapes.set(key, list);
    }
  }

  /**
   * When kwok's counter of a container started (counterOrigin), from the readings requested at
   * or after `since` (a pod re-created under the same name continues its predecessor's counter).
   */
  origin(key: string, cores: number, since = -Infinity): CounterOrigin {
    return counterOrigin(
      (this.scrapes.get(key) ?? []).filter((s) => s.requestedAt >= since),
      cores,
      key,
    );
  }
}
