import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneStaleClusters, startCluster, type TestCluster } from '../../scripts/testenv/cluster.js';
import { startFerretDB, type FerretDB } from '../../scripts/testenv/ferretdb.js';
import { ensureBinaries } from '../../scripts/testenv/paths.js';
import { ENV_KEYS, workerKey } from './environment.js';
import { createSimulatedNodes } from './nodes.js';

/** What stopServers must stop; jest's global setup and teardown run in the same process. */
export interface StartedServers {
  clusters: TestCluster[];
  /** The run's directories of the clusters' kubeconfigs. */
  clusterDirs: string[];
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
 * Starts one simulated cluster (kwok + metrics-server; one per Jest worker when
 * KUO_TEST_CLUSTERS > 1) and one FerretDB for the whole run,
 * or uses the ones named by KUBECONFIG / MONGODB_URI. A KUBECONFIG pointing anywhere but
 * loopback is refused unless KUO_TEST_ALLOW_REMOTE=1: the tests create and delete objects.
 */
export async function startServers(): Promise<void> {
  const started: StartedServers = { clusters: [], clusterDirs: [] };
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
      // One cluster per Jest worker (KUO_TEST_CLUSTERS, default 1; see worker-environment.cjs).
      const count = clusterCount();
      // One after the other: kwokctl creates its shared CA with the first cluster, and two
      // concurrent creations race on it.
      for (let i = 0; i < count; i++) {
        const name = `kuo-test-${process.pid}${i === 0 ? '' : `-${i + 1}`}`;
        const dir = join(tmpdir(), name);
        mkdirSync(dir, { recursive: true });
        started.clusterDirs.push(dir);
        const cluster = await startCluster(name, join(dir, 'kubeconfig'));
        started.clusters.push(cluster);
        process.env[workerKey(ENV_KEYS.kubeconfig, i + 1)] = cluster.kubeconfig;
        process.env[workerKey(ENV_KEYS.clusterName, i + 1)] = name;
        await prepareCluster(cluster.kubeconfig);
      }
      process.env[ENV_KEYS.kubeconfig] = process.env[workerKey(ENV_KEYS.kubeconfig, 1)];
      process.env[ENV_KEYS.clusterName] = process.env[workerKey(ENV_KEYS.clusterName, 1)];
    }
    if (given) await prepareCluster(given);
    if (!process.env[ENV_KEYS.mongoUri]) {
      started.ferretdb = await startFerretDB();
      process.env[ENV_KEYS.mongoUri] = started.ferretdb.uri;
    }
  } catch (err) {
    await stopStartedServers(started);
    throw err;
  }
}

/** How many clusters to start: KUO_TEST_CLUSTERS (1 unless set), one per Jest worker. */
function clusterCount(): number {
  const n = Number(process.env.KUO_TEST_CLUSTERS ?? '1');
  if (!Number.isInteger(n) || n < 1 || n > 4) throw new Error(`KUO_TEST_CLUSTERS=${n}: expected 1..4`);
  return n;
}

/** The simulated nodes and the CRDs, in a new or a given cluster. */
async function prepareCluster(kubeconfig: string): Promise<void> {
  await createSimulatedNodes(kubeconfig);
  const crds = join(import.meta.dirname, '..', '..', 'crds');
  execFileSync('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', crds], {
    stdio: 'ignore',
  });
}

async function stopStartedServers(started: StartedServers | undefined): Promise<void> {
  await started?.ferretdb?.stop().catch(() => undefined);
  await Promise.all((started?.clusters ?? []).map((c) => c.delete().catch(() => undefined)));
  for (const dir of started?.clusterDirs ?? []) rmSync(dir, { recursive: true, force: true });
}

/** Stops what startServers started (nothing when the run used given servers). */
export async function stopServers(): Promise<void> {
  await stopStartedServers(globalThis.kuoStartedServers);
  globalThis.kuoStartedServers = undefined;
}
