/**
 * The kubelet source's boundary to the Kubernetes client: the operator's credentials for the
 * kubelets (from its kubeconfig or service account, as metrics-server uses its own) and the
 * node list. As in each source's folder, the kubernetes-*.ts module is the only one that imports
 * @kubernetes/client-node; the agent source reaches nodes with these credentials too.
 */
import { readFileSync } from 'node:fs';
import type https from 'node:https';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { EndpointOptions, NodeObject } from './kubelet-endpoint.js';
import { NodeKubeletHttp, type KubeletCredentials } from './kubelet-http.js';
import { KubeletResourceSource, type NodeLister } from './kubelet-source.js';

export interface KubeletTlsOptions {
  /**
   * CA bundle file that signs the kubelets' serving certificates (metrics-server's
   * `--kubelet-certificate-authority`); the kubeconfig's cluster CA when absent.
   */
  caFile?: string;
  /** Do not verify kubelet serving certificates (`--kubelet-insecure-tls`). */
  insecureSkipTLSVerify?: boolean;
}

/**
 * The operator's credentials for kubelets, read from the kubeconfig each time they are asked
 * for (service account tokens are rotated on disk).
 */
export function kubeletCredentials(
  kubeConfig: KubeConfig,
  tls: KubeletTlsOptions = {},
): () => Promise<KubeletCredentials> {
  const caOverride = tls.caFile === undefined ? undefined : readFileSync(tls.caFile);
  return async () => {
    const options: https.RequestOptions = {};
    await kubeConfig.applyToHTTPSOptions(options);
    const credentials: KubeletCredentials = {};
    const authorization = headerValue(options.headers, 'authorization');
    if (authorization !== undefined) credentials.authorization = authorization;
    else if (typeof options.auth === 'string' && options.auth !== '')
      credentials.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
    if (options.cert !== undefined) credentials.cert = options.cert as string | Buffer;
    if (options.key !== undefined) credentials.key = options.key as string | Buffer;
    if (tls.insecureSkipTLSVerify) credentials.insecureSkipTLSVerify = true;
    else {
      const ca = caOverride ?? (options.ca as string | Buffer | undefined);
      if (ca !== undefined) credentials.ca = ca;
    }
    return credentials;
  };
}

function headerValue(headers: https.RequestOptions['headers'], name: string): string | undefined {
  if (headers === undefined || Array.isArray(headers)) return undefined;
  for (const [key, value] of Object.entries(headers))
    if (key.toLowerCase() === name && value !== undefined)
      return Array.isArray(value) ? value.join(', ') : String(value);
  return undefined;
}

export interface NodeListOptions {
  /** Reuse a node list for this long, ms (nodes' addresses and ports rarely change). Default 30 s. */
  maxAgeMs?: number;
  clock?: () => number;
}

/** Lists the cluster's nodes (`nodes` list RBAC), at most once per `maxAgeMs`. */
export class KubernetesNodeLister implements NodeLister {
  private readonly api: CoreV1Api;
  private cached: { at: number; nodes: readonly NodeObject[] } | undefined;
  private readonly maxAgeMs: number;
  private readonly clock: () => number;

  constructor(kubeConfig: KubeConfig, options: NodeListOptions = {}) {
    this.api = kubeConfig.makeApiClient(CoreV1Api);
    this.maxAgeMs = options.maxAgeMs ?? 30_000;
    this.clock = options.clock ?? Date.now;
  }

  async list(signal?: AbortSignal): Promise<readonly NodeObject[]> {
    const now = this.clock();
    if (this.cached && now - this.cached.at < this.maxAgeMs) return this.cached.nodes;
    const list = await this.api.listNode();
    signal?.throwIfAborted();
    this.cached = { at: now, nodes: list.items };
    return list.items;
  }
}

export interface KubeletSourceConfig {
  tls?: KubeletTlsOptions;
  endpoint?: EndpointOptions;
  concurrency?: number;
  timeoutMs?: number;
  nodeList?: NodeListOptions;
  /** Another node list (e.g. an informer's cache) instead of a list call. */
  nodes?: NodeLister;
}

/** The kubelet source with the operator's identity, reading nodes from the API. */
export function createKubeletSource(
  kubeConfig: KubeConfig,
  config: KubeletSourceConfig = {},
): KubeletResourceSource {
  const concurrency = config.concurrency ?? 10;
  return new KubeletResourceSource(config.nodes ?? new KubernetesNodeLister(kubeConfig, config.nodeList), {
    concurrency,
    ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    credentials: kubeletCredentials(kubeConfig, config.tls),
    http: new NodeKubeletHttp({ maxSockets: concurrency }),
  });
}
