import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TESTENV_DIR } from './paths.js';

const run = promisify(execFile);
const SCRIPT = join(TESTENV_DIR, 'cluster.sh');

/** A kwokctl cluster started by cluster.sh. */
export interface TestCluster {
  name: string;
  kubeconfig: string;
  /** Stops every component (etcd data kept); `start` brings them back. For outage tests. */
  stopComponents(): Promise<void>;
  startComponents(): Promise<void>;
  delete(): Promise<void>;
}

async function clusterSh(...args: string[]): Promise<void> {
  await run('bash', [SCRIPT, ...args], { maxBuffer: 16 * 1024 * 1024 });
}

export function clusterHandle(name: string, kubeconfig: string): TestCluster {
  return {
    name,
    kubeconfig,
    stopComponents: () => clusterSh('stop', name),
    startComponents: () => clusterSh('start', name),
    delete: () => clusterSh('down', name),
  };
}

/** Builds what is missing, then creates the cluster and waits until it is ready. */
export async function startCluster(name: string, kubeconfig: string): Promise<TestCluster> {
  const child = execFile('bash', [SCRIPT, 'up', name, kubeconfig], { maxBuffer: 64 * 1024 * 1024 });
  child.stderr?.pipe(process.stderr);
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`cluster.sh up ${name} exited ${code}`)),
    );
  });
  return clusterHandle(name, kubeconfig);
}

/** Deletes test clusters of runs that died before their teardown. */
export async function pruneStaleClusters(): Promise<void> {
  await clusterSh('prune');
}
