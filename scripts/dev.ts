/**
 * `make dev`: a simulated cluster (kwok + metrics-server), FerretDB, the CRDs and the demo
 * (samples and simulated workloads, one of them hot), and the operator with its HTTP API, all
 * on 127.0.0.1. Writes .dev/kubeconfig, .dev/mongodb-uri, .dev/api-url and .dev/ca.crt (the API's
 * self-signed certificate; and the operator's
 * JSON log to .dev/operator.log) and runs until Ctrl-C or `make dev-down`.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import winston from 'winston';
import { parseCommandLine } from '../operator/config.js';
import { buildUi } from './build-ui.js';
import { startOperator, type OperatorHandle } from '../cmd/operator/start.js';
import { createSimulatedNodes } from '../test/harness/nodes.js';
import { startCluster, type TestCluster } from './testenv/cluster.js';
import { startFerretDB, type FerretDB } from './testenv/ferretdb.js';

const ROOT = join(import.meta.dirname, '..');
const DEV = join(ROOT, '.dev');
const CLUSTER = 'kuo-dev';

function say(message: string): void {
  process.stderr.write(`[dev] ${message}\n`);
}

function kubectl(kubeconfig: string, ...args: string[]): void {
  execFileSync('kubectl', ['--kubeconfig', kubeconfig, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The operator's JSON log goes to .dev/operator.log, not the terminal. */
function fileLogger(path: string): winston.Logger {
  return winston.createLogger({
    level: 'info',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream: createWriteStream(path, { flags: 'a' }) })],
  });
}

async function main(): Promise<void> {
  mkdirSync(DEV, { recursive: true });
  writeFileSync(join(DEV, 'dev.pid'), String(process.pid));
  let cluster: TestCluster | undefined;
  let store: FerretDB | undefined;
  let operator: OperatorHandle | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      say('stopping…');
      await operator?.stop().catch(() => undefined);
      await store?.stop().catch(() => undefined);
      await cluster?.delete().catch(() => undefined);
      for (const file of ['dev.pid', 'api-url', 'ca.crt']) rmSync(join(DEV, file), { force: true });
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

    say('installing the CRDs and the demo (manifests/demo)');
    kubectl(kubeconfig, 'apply', '--server-side', '-f', join(ROOT, 'crds'));
    kubectl(kubeconfig, 'wait', '--for=condition=Established', '--timeout=60s', '-f', join(ROOT, 'crds'));
    kubectl(kubeconfig, 'apply', '-k', join(ROOT, 'manifests', 'demo'));

    say('building the dashboard (dist/ui)');
    await buildUi();
    const parsed = parseCommandLine(
      [
        '--kubeconfig',
        kubeconfig,
        '--namespace',
        'kube-usage-system',
        '--identity',
        'dev',
        '--http-address',
        '127.0.0.1',
        '--http-port',
        '0',
        // The demo's receivers (if you add webhooks) run on this machine: allow them explicitly.
        '--webhook-allow',
        '127.0.0.0/8',
        // HTTPS with a certificate made at start; curl trusts it with --cacert .dev/ca.crt.
        '--tls-self-signed',
      ],
      { MONGODB_URI: store.uri },
    );
    if (parsed.kind !== 'run') throw new Error('unexpected --help');
    operator = await startOperator(parsed.config, fileLogger(join(DEV, 'operator.log')));
    if (operator.certificate) writeFileSync(join(DEV, 'ca.crt'), operator.certificate);
    writeFileSync(join(DEV, 'api-url'), `${operator.url}\n`);

    say('ready. Try, in another terminal:');
    say('  export KUBECONFIG=.dev/kubeconfig');
    say('  kubectl get usagepolicies,resourcealerts -A -w      # web-cpu-hot goes Firing in about a minute');
    say('  kubectl -n shop wait --for=condition=Firing resourcealert/web-cpu-hot --timeout=5m');
    say(
      '  kubectl -n shop annotate --overwrite pod web-hot kwok.x-k8s.io/usage-cpu=100m   # and it resolves',
    );
    say('  TOKEN=$(kubectl -n kube-usage-system create token usage-reader --audience kube-usage-operator)');
    say(
      '  curl --cacert .dev/ca.crt -H "Authorization: Bearer $TOKEN" "$(cat .dev/api-url)/api/v1/usage/top?metric=cpu&window=1h"',
    );
    say(`  open ${operator.url}/ui/ and sign in with $TOKEN   # the dashboard`);
    say('  tail -f .dev/operator.log');
    say('Ctrl-C (or `make dev-down`) stops everything.');
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await stop(1);
  }
  await new Promise(() => undefined);
}

void main();
