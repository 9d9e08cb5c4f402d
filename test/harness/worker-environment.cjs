// The integration tests' Jest environment: Node's, with this worker's cluster. Global setup
// starts one cluster per worker when KUO_TEST_CLUSTERS > 1 and names them in
// KUBECONFIG_WORKER_<n> / KUO_TEST_CLUSTER_WORKER_<n> (environment.ts, workerKey); here, in the
// worker's own process and before any test file runs, worker n takes its cluster's under the
// plain names, so that the helpers, kubectl and spawned operators all talk to that cluster.
// CommonJS: Jest loads the environment before any TypeScript transform is set up.
const { TestEnvironment } = require('jest-environment-node');

const KEYS = ['KUBECONFIG', 'KUO_TEST_CLUSTER'];

class WorkerClusterEnvironment extends TestEnvironment {
  constructor(config, context) {
    const worker = process.env.JEST_WORKER_ID ?? '1';
    for (const key of KEYS) {
      const value = process.env[`${key}_WORKER_${worker}`];
      if (value) process.env[key] = value;
    }
    super(config, context);
  }
}

module.exports = WorkerClusterEnvironment;
