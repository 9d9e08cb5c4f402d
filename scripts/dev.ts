/**
 * `make dev`: a simulated cluster (kwok + metrics-server), FerretDB, and (once built) the
 * operator with the sample policies, all on 127.0.0.1. Writes .dev/kubeconfig,
 * .dev/mongodb-uri and .dev/api-url, and runs until Ctrl-C or `make dev-down`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSimulatedNodes } from '../test/harness/nodes.js';
import { startCluster, type TestCluster } from './testenv/cluster.js';
import { startFerretDB, type FerretDB } from './testenv/ferretdb.js';

const ROOT = join(import.meta.dirname, '..');
const DEV = join(ROOT, '.dev');
const CLUSTER = 'kuo-dev';

function say(message: string): void {
  process.stderr.write(`[dev] ${message}\n`);
}

async function main(): Promise<void> {
  mkdirSync(DEV, { recursive: true });
  writeFileSync(join(DEV, 'dev.pid'), String(process.pid));
  let cluster: TestCluster | undefined;
  let store: FerretDB | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      say('stopping…');
      await store?.stop().catch(() => undefined);
      await cluster?.delete().catch(() => undefined);
      rmSync(join(DEV, 'dev.pid'), { force: true });
      say('stopped');
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    const kubeconfig = join(DEV, 'kubeconfig');
    cluster = await startCluster(CLUSTER, kubeconfig);
    await createSimulatedNodes(kubeconfig);
    store = await startFerretDB({ dataDir: join(DEV, 'ferretdb') });
    writeFileSync(join(DEV, 'mongodb-uri'), `${store.uri}\n`);
    say(`cluster:  export KUBECONFIG=${kubeconfig}`);
    say(`store:    ${store.uri}  (also in .dev/mongodb-uri)`);
    say('running; Ctrl-C or `make dev-down` stops everything');
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await stop(1);
  }
  await new Promise(() => undefined);
}

void main();
