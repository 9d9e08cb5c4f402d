/**
 * MetricsSource over the cluster's resource metrics API (`metrics.k8s.io/v1beta1` pods),
 * read through the custom objects list so that label selectors go to the server.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import { abortable } from '../../runtime/kube.js';
import type { MetricsResult, MetricsScope, MetricsSource } from './metrics-source.js';
import { podMetricsItems } from './pod-metrics.js';

const GROUP = 'metrics.k8s.io';
const VERSION = 'v1beta1';
const API = `${GROUP}/${VERSION}`;

/**
 * Why the metrics API counts as not available for this error, or undefined when the error is
 * something else (forbidden, bad request, network) that the caller must see as a failure.
 */
export function metricsUnavailableReason(err: unknown): string | undefined {
  if (!(err instanceof ApiException)) return undefined;
  const detail = statusMessage(err.body);
  switch (err.code) {
    case 404:
      return `${API} is not served (404${detail}): is metrics-server installed and its APIService registered?`;
    case 502:
    case 503:
    case 504:
      return `${API} is registered but does not answer (${err.code}${detail})`;
    default:
      return undefined;
  }
}

function statusMessage(body: unknown): string {
  if (typeof body === 'string' && body !== '') {
    try {
      return statusMessage(JSON.parse(body));
    } catch {
      return `: ${body.slice(0, 200)}`;
    }
  }
  if (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { message?: unknown }).message === 'string'
  ) {
    return `: ${(body as { message: string }).message}`;
  }
  return '';
}

export interface KubernetesMetricsSourceOptions {
  /** Upper bound on one list call; metrics-server answers from memory, so this is generous. */
  requestTimeoutMs?: number;
}

export class KubernetesMetricsSource implements MetricsSource {
  private readonly api: CustomObjectsApi;
  private readonly requestTimeoutMs: number;

  constructor(kubeConfig: KubeConfig, options: KubernetesMetricsSourceOptions = {}) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  async listPodMetrics(scope: MetricsScope, signal?: AbortSignal): Promise<MetricsResult> {
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    const options = abortable(signal ? AbortSignal.any([signal, timeout]) : timeout);
    const common = { group: GROUP, version: VERSION, plural: 'pods', labelSelector: scope.labelSelector };
    let body: unknown;
    try {
      body =
        scope.namespace === undefined
          ? await this.api.listClusterCustomObject(common, options)
          : await this.api.listNamespacedCustomObject({ ...common, namespace: scope.namespace }, options);
    } catch (err) {
      const reason = metricsUnavailableReason(err);
      if (reason === undefined) throw err;
      return { available: false, reason };
    }
    return { available: true, items: podMetricsItems(body) };
  }
}
