/**
 * Where a node's resource metrics are served, found the way metrics-server finds them: the
 * node's address of the first preferred type, the kubelet port from
 * `status.daemonEndpoints.kubeletEndpoint.port` (else the default port), and the path from the
 * `metrics.k8s.io/resource-metrics-path` annotation (else `/metrics/resource`). Pure.
 */
/** The annotation metrics-server (>= 0.7) reads for the path; kwok's simulated nodes set it. */
export const RESOURCE_METRICS_PATH_ANNOTATION = 'metrics.k8s.io/resource-metrics-path';
export const DEFAULT_RESOURCE_METRICS_PATH = '/metrics/resource';
/** The kubelet's secure port. */
export const DEFAULT_KUBELET_PORT = 10250;
/** metrics-server's default `--kubelet-preferred-address-types`. */
export const DEFAULT_ADDRESS_TYPES = ['Hostname', 'InternalDNS', 'InternalIP', 'ExternalDNS', 'ExternalIP'];

export interface EndpointOptions {
  /** Address types in order of preference. */
  addressTypes?: readonly string[];
  /** The port when the node does not say (or `useNodeStatusPort` is false). */
  defaultPort?: number;
  /** Use the node's `daemonEndpoints.kubeletEndpoint.port` (metrics-server's `--kubelet-use-node-status-port`). Default true. */
  useNodeStatusPort?: boolean;
  /** `https` (the kubelet) unless told otherwise. */
  scheme?: 'https' | 'http';
}

export type NodeEndpoint = { node: string; url: URL } | { node: string; error: string };

/** The fields of a Node that the kubelet and agent sources read; a V1Node has them. */
export interface NodeObject {
  metadata?: { name?: string; annotations?: Record<string, string> };
  status?: {
    addresses?: { type: string; address: string }[];
    daemonEndpoints?: { kubeletEndpoint?: { Port: number } };
    capacity?: Record<string, string>;
    allocatable?: Record<string, string>;
  };
}

/** The endpoint of one node, or why it has none. */
export function nodeEndpoint(node: NodeObject, options: EndpointOptions = {}): NodeEndpoint {
  const name = node.metadata?.name ?? '';
  const types = options.addressTypes ?? DEFAULT_ADDRESS_TYPES;
  const addresses = node.status?.addresses ?? [];
  let address: string | undefined;
  for (const type of types) {
    address = addresses.find((a) => a.type === type && a.address !== '')?.address;
    if (address !== undefined) break;
  }
  if (address === undefined)
    return { node: name, error: `the node has no address of the types ${types.join(', ')}` };
  const statusPort = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
  const port =
    (options.useNodeStatusPort ?? true) && statusPort !== undefined && statusPort > 0
      ? statusPort
      : (options.defaultPort ?? DEFAULT_KUBELET_PORT);
  if (!Number.isInteger(port) || port > 65_535) return { node: name, error: `invalid kubelet port ${port}` };
  const annotated = node.metadata?.annotations?.[RESOURCE_METRICS_PATH_ANNOTATION];
  const path = annotated !== undefined && annotated !== '' ? annotated : DEFAULT_RESOURCE_METRICS_PATH;
  if (!path.startsWith('/'))
    return {
      node: name,
      error: `annotation ${RESOURCE_METRICS_PATH_ANNOTATION}: ${JSON.stringify(path)} is not a path`,
    };
  const host = address.includes(':') ? `[${address}]` : address;
  try {
    return { node: name, url: new URL(`${options.scheme ?? 'https'}://${host}:${port}${path}`) };
  } catch {
    return {
      node: name,
      error: `no valid URL from address ${JSON.stringify(address)} and path ${JSON.stringify(path)}`,
    };
  }
}
