/**
 * Runs the operator against the test cluster and store: in this process (startTestOperator)
 * or as a child process (spawnOperator), each with its own operator namespace and database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { parseCommandLine, type OperatorConfig } from '../../operator/config.js';
import { createLogger, silentLogger, type Logger } from '../../operator/logging.js';
import { startOperator, type OperatorHandle, type OperatorOverrides } from '../../cmd/operator/start.js';
import { testEnvironment } from './environment.js';
import { uniqueName } from './index.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The admin allow-list entry the test operators get, so that webhooks reach receivers on this machine. */
export const LOCAL_RECEIVERS = '127.0.0.0/8';

export interface TestOperatorOptions {
  /** The operator's namespace (its Lease, admin policies); must exist. */
  namespace: string;
  database: string;
  identity?: string;
  leaderElection?: boolean;
  /** Extra flags, e.g. ['--leader-elect-lease-duration', '6s']. */
  args?: string[];
  /** Who the operator is to the apiserver; the test cluster's admin unless given. */
  kubeconfig?: string;
}

/** The command line the operator is started with in tests. */
export function operatorArgs(options: TestOperatorOptions): string[] {
  const env = testEnvironment();
  return [
    '--kubeconfig',
    options.kubeconfig ?? env.kubeconfig,
    '--namespace',
    options.namespace,
    '--identity',
    options.identity ?? uniqueName('operator'),
    '--leader-elect',
    String(options.leaderElection ?? false),
    '--http-address',
    '127.0.0.1',
    '--http-port',
    '0',
    '--mongodb-database',
    options.database,
    '--resync-period',
    '30s',
    // The tests' receivers listen on 127.0.0.1, which tenant webhooks may not reach by default.
    '--webhook-allow',
    LOCAL_RECEIVERS,
    ...(options.args ?? []),
  ];
}

export function testOperatorConfig(options: TestOperatorOptions): OperatorConfig {
  const parsed = parseCommandLine(operatorArgs(options), { MONGODB_URI: testEnvironment().mongoUri });
  if (parsed.kind !== 'run') throw new Error('unexpected --help');
  return parsed.config;
}

/** Starts the operator in this process (logs silenced unless KUO_TEST_LOGS=1). */
export async function startTestOperator(
  options: TestOperatorOptions,
  overrides: OperatorOverrides = {},
  logger: Logger = process.env.KUO_TEST_LOGS === '1' ? createLogger('debug') : silentLogger(),
): Promise<OperatorHandle> {
  return startOperator(testOperatorConfig(options), logger, overrides);
}

export interface OperatorProcess {
  child: ChildProcess;
  /** JSON log lines so far. */
  logs: Record<string, unknown>[];
  /** SIGKILL: no clean shutdown, the lease is not released. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit code. */
  terminate(): Promise<number | null>;
}

/**
 * Starts the operator as a separate process (from the TypeScript sources, through tsx's
 * loader); `env` adds to its environment.
 */
export function spawnOperator(
  options: TestOperatorOptions,
  env: Record<string, string> = {},
): OperatorProcess {
  return spawnEntry([join(ROOT, 'cmd', 'operator.ts')], options, env);
}

/**
 * Starts the operator as a separate process that SIGKILLs itself right after the first
 * ResourceAlert status write recording `transition`, before the transition is notified
 * (test/harness/operator-kill-hook.ts).
 */
export function spawnOperatorKilledAfterAlertWrite(
  options: TestOperatorOptions,
  transition: 'fired' | 'resolved',
): OperatorProcess {
  return spawnEntry([join(ROOT, 'test', 'harness', 'operator-kill-hook.ts'), transition], options, {});
}

/** Runs `entry` (a script and its first arguments) with the test operator's flags. */
function spawnEntry(
  entry: string[],
  options: TestOperatorOptions,
  env: Record<string, string>,
): OperatorProcess {
  // One process (node with tsx's loader), so that a kill reaches the operator itself.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', ...entry, ...operatorArgs(options), '--log-level', 'debug'],
    {
      env: { ...process.env, MONGODB_URI: testEnvironment().mongoUri, NODE_OPTIONS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: Record<string, unknown>[] = [];
  let buffer = '';
  const collect = (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ message: line });
      }
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    logs,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    terminate: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
