import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';

export const SIMULATED_NODES = ['kwok-node-0', 'kwok-node-1'];

/**
 * A node kwok simulates. No status.addresses: kwok then serves its kubelet endpoints on
 * localhost itself, so metrics-server never sends traffic off the machine.
 */
export function simulatedNode(name: string): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' },
      annotations: {
        'kwok.x-k8s.io/node': 'fake',
        'node.alpha.kubernetes.io/ttl': '0',
        'metrics.k8s.io/resource-metrics-path': `/metrics/nodes/${name}/metrics/resource`,
      },
    },
    status: {
      allocatable: { cpu: '64', memory: '256Gi', pods: '250' },
      capacity: { cpu: '64', memory: '256Gi', pods: '250' },
    },
  };
}

/** Creates the simulated nodes when they are not there yet. */
export async function createSimulatedNodes(kubeconfigPath: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of SIMULATED_NODES) {
    try {
      await core.createNode({ body: simulatedNode(name) });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
}
