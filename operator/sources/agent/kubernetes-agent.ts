/**
 * The agent source with the operator's identity: its token (or client certificate) from its
 * kubeconfig or service account, the node list from the API, node's http(s) with keep-alive.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { AgentSource } from './agent-source.js';
import { NodeKubeletHttp } from '../kubelet/kubelet-http.js';
import {
  KubernetesNodeLister,
  kubeletCredentials,
  type KubeletTlsOptions,
} from '../kubelet/kubernetes-kubelet.js';

export interface AgentSourceConfig {
  port?: number;
  concurrency?: number;
  timeoutMs?: number;
  /**
   * How the agents' serving certificates are verified: a CA bundle file (`caFile`), or not at
   * all (`insecureSkipTLSVerify`, for agents' self-signed certificates); the kubeconfig's
   * cluster CA otherwise.
   */
  tls?: KubeletTlsOptions;
}

export function createAgentSource(kubeConfig: KubeConfig, config: AgentSourceConfig = {}): AgentSource {
  const concurrency = config.concurrency ?? 10;
  return new AgentSource({
    nodes: new KubernetesNodeLister(kubeConfig, { maxAgeMs: 30_000 }),
    credentials: kubeletCredentials(kubeConfig, config.tls),
    http: new NodeKubeletHttp({ maxSockets: concurrency }),
    concurrency,
    ...(config.port === undefined ? {} : { port: config.port }),
    ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
  });
}
