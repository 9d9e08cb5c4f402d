import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import { forEachBounded } from './bounded.js';

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
  await createNodes(kubeconfigPath, SIMULATED_NODES);
}

/** Creates simulated nodes of these names (those that exist are left as they are), `concurrency` at a time. */
export async function createNodes(
  kubeconfigPath: string,
  names: readonly string[],
  concurrency = 1,
): Promise<void> {
  await eachNode(kubeconfigPath, names, concurrency, 409, (core, name) =>
    core.createNode({ body: simulatedNode(name) }),
  );
}

/** Deletes nodes (those already gone are ignored), `concurrency` at a time. */
export async function deleteNodes(
  kubeconfigPath: string,
  names: readonly string[],
  concurrency = 1,
): Promise<void> {
  await eachNode(kubeconfigPath, names, concurrency, 404, (core, name) => core.deleteNode({ name }));
}

/** Calls `call` for each name, ignoring the answer `ignoredCode` (already there, already gone). */
async function eachNode(
  kubeconfigPath: string,
  names: readonly string[],
  concurrency: number,
  ignoredCode: number,
  call: (core: CoreV1Api, name: string) => Promise<unknown>,
): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  await forEachBounded(names, concurrency, async (name) => {
    try {
      await call(core, name);
    } catch (err) {
      if ((err as { code?: number }).code !== ignoredCode) throw err;
    }
  });
}
