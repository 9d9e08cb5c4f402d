import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneStaleClusters, startCluster, type TestCluster } from '../../scripts/testenv/cluster.js';
import { startFerretDB, type FerretDB } from '../../scripts/testenv/ferretdb.js';
import { ensureBinaries } from '../../scripts/testenv/paths.js';
import { ENV_KEYS } from './environment.js';
import { createSimulatedNodes } from './nodes.js';

/** What stopServers must stop; jest's global setup and teardown run in the same process. */
export interface StartedServers {
  cluster?: TestCluster;
  /** The run's directory of the cluster's kubeconfig. */
  clusterDir?: string;
  ferretdb?: FerretDB;
}
declare global {
  var kuoStartedServers: StartedServers | undefined;
}

function isLoopbackKubeconfig(path: string): boolean {
  const server = /server:\s*(\S+)/.exec(readFileSync(path, 'utf8'))?.[1] ?? '';
  return /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?/.test(server);
}

/**
 * Starts one simulated cluster (kwok + metrics-server) and one FerretDB for the whole run,
 * or uses the ones named by KUBECONFIG / MONGODB_URI. A KUBECONFIG pointing anywhere but
 * loopback is refused unless KUO_TEST_ALLOW_REMOTE=1: the tests create and delete objects.
 */
export async function startServers(): Promise<void> {
  const started: StartedServers = {};
  globalThis.kuoStartedServers = started;
  try {
    const given = process.env[ENV_KEYS.kubeconfig];
    if (given) {
      if (!isLoopbackKubeconfig(given) && process.env.KUO_TEST_ALLOW_REMOTE !== '1') {
        throw new Error(
          `KUBECONFIG=${given} is not a loopback test cluster; unset it or set KUO_TEST_ALLOW_REMOTE=1`,
        );
      }
    } else {
      process.env[ENV_KEYS.binDir] = ensureBinaries();
      await pruneStaleClusters();
      const name = `kuo-test-${process.pid}`;
      const dir = join(tmpdir(), name);
      mkdirSync(dir, { recursive: true });
      started.clusterDir = dir;
      started.cluster = await startCluster(name, join(dir, 'kubeconfig'));
      process.env[ENV_KEYS.kubeconfig] = started.cluster.kubeconfig;
      process.env[ENV_KEYS.clusterName] = name;
    }
    const kubeconfig = process.env[ENV_KEYS.kubeconfig] ?? '';
    await createSimulatedNodes(kubeconfig);
    const crds = join(import.meta.dirname, '..', '..', 'crds');
    execFileSync('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', crds], {
      stdio: 'ignore',
    });
    if (!process.env[ENV_KEYS.mongoUri]) {
      started.ferretdb = await startFerretDB();
      process.env[ENV_KEYS.mongoUri] = started.ferretdb.uri;
    }
  } catch (err) {
    await stopStartedServers(started);
    throw err;
  }
}

async function stopStartedServers(started: StartedServers | undefined): Promise<void> {
  await started?.ferretdb?.stop().catch(() => undefined);
  await started?.cluster?.delete().catch(() => undefined);
  if (started?.clusterDir) rmSync(started.clusterDir, { recursive: true, force: true });
}

/** Stops what startServers started (nothing when the run used given servers). */
export async function stopServers(): Promise<void> {
  await stopStartedServers(globalThis.kuoStartedServers);
  globalThis.kuoStartedServers = undefined;
}
