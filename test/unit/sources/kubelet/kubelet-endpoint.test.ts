import { describe, expect, it } from '@jest/globals';
import { nodeEndpoint, type NodeObject } from '../../../../operator/sources/kubelet/kubelet-endpoint.js';

function node(
  addresses: { type: string; address: string }[],
  port?: number,
  annotations?: Record<string, string>,
): NodeObject {
  return {
    metadata: { name: 'node-a', ...(annotations ? { annotations } : {}) },
    status: {
      addresses,
      ...(port === undefined ? {} : { daemonEndpoints: { kubeletEndpoint: { Port: port } } }),
    },
  };
}

const href = (n: NodeObject, options?: Parameters<typeof nodeEndpoint>[1]) => {
  const e = nodeEndpoint(n, options);
  return 'url' in e ? e.url.href : e.error;
};

describe('nodeEndpoint', () => {
  const addresses = [
    { type: 'InternalIP', address: '10.0.0.7' },
    { type: 'Hostname', address: 'node-a' },
    { type: 'ExternalIP', address: '203.0.113.9' },
  ];

  it("uses metrics-server's default preference (Hostname first), the node's kubelet port and /metrics/resource", () => {
    expect(href(node(addresses, 10250))).toBe('https://node-a:10250/metrics/resource');
  });

  it('follows the given address preference', () => {
    expect(href(node(addresses, 10250), { addressTypes: ['InternalIP', 'ExternalIP', 'Hostname'] })).toBe(
      'https://10.0.0.7:10250/metrics/resource',
    );
  });

  it('takes the path from the metrics.k8s.io/resource-metrics-path annotation (kwok)', () => {
    const kwok = node([{ type: 'InternalIP', address: '127.0.0.1' }], 10247, {
      'metrics.k8s.io/resource-metrics-path': '/metrics/nodes/node-a/metrics/resource',
    });
    expect(href(kwok)).toBe('https://127.0.0.1:10247/metrics/nodes/node-a/metrics/resource');
  });

  it('falls back to the default port when the node gives none or the status port is not to be used', () => {
    expect(href(node(addresses))).toBe('https://node-a:10250/metrics/resource');
    expect(
      href(node(addresses, 12345), { useNodeStatusPort: false, defaultPort: 10255, scheme: 'http' }),
    ).toBe('http://node-a:10255/metrics/resource');
  });

  it('brackets IPv6 addresses', () => {
    expect(href(node([{ type: 'InternalIP', address: '::1' }], 10250))).toBe(
      'https://[::1]:10250/metrics/resource',
    );
  });

  it('says why a node has no endpoint', () => {
    expect(href(node([], 10250))).toBe(
      'the node has no address of the types Hostname, InternalDNS, InternalIP, ExternalDNS, ExternalIP',
    );
    expect(href(node(addresses, 70000))).toBe('invalid kubelet port 70000');
    expect(href(node(addresses, 10250, { 'metrics.k8s.io/resource-metrics-path': 'metrics' }))).toBe(
      'annotation metrics.k8s.io/resource-metrics-path: "metrics" is not a path',
    );
  });
});
