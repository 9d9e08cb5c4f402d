/**
 * Where the integration tests' servers are: set by global-setup.ts in process.env before
 * the test workers start, and read by the helpers in this folder.
 */
export interface TestEnvironment {
  kubeconfig: string;
  mongoUri: string;
  /** kwokctl cluster name when global setup started the cluster itself (outage tests need it). */
  clusterName?: string;
  binDir?: string;
}

export const ENV_KEYS = {
  kubeconfig: 'KUBECONFIG',
  mongoUri: 'MONGODB_URI',
  clusterName: 'KUO_TEST_CLUSTER',
  binDir: 'KUO_TEST_BIN_DIR',
} as const;

/**
 * The variable global setup sets for Jest worker `worker` (1-based), e.g. KUBECONFIG_WORKER_2;
 * worker-environment.cjs copies it to the plain name in that worker's process.
 */
export function workerKey(key: string, worker: number): string {
  return `${key}_WORKER_${worker}`;
}

export function testEnvironment(): TestEnvironment {
  const kubeconfig = process.env[ENV_KEYS.kubeconfig];
  const mongoUri = process.env[ENV_KEYS.mongoUri];
  if (!kubeconfig || !mongoUri) {
    throw new Error(
      'KUBECONFIG and MONGODB_URI are not set: run integration tests through jest (global setup)',
    );
  }
  return {
    kubeconfig,
    mongoUri,
    clusterName: process.env[ENV_KEYS.clusterName] || undefined,
    binDir: process.env[ENV_KEYS.binDir] || undefined,
  };
}
