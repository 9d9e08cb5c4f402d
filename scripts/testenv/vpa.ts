/**
 * The VPA recommender (k8s.io/autoscaler/vertical-pod-autoscaler, built by `build.sh vpa` into
 * the versioned cache) run against the test cluster: its CRDs installed from the same module,
 * the process on 127.0.0.1 with the cluster's kubeconfig, stopped on every path. For the
 * right-sizing comparison (test/integration/rightsizing-vpa.test.ts), which reads only the
 * public status of VerticalPodAutoscaler objects.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TESTENV_DIR } from './paths.js';
import { freeLoopbackPort } from './ports.js';

const run = promisify(execFile);

export interface VpaBinaries {
  recommender: string;
  /** The module's deploy/vpa-v1-crd-gen.yaml (VerticalPodAutoscaler, VerticalPodAutoscalerCheckpoint). */
  crds: string;
}

export const VPA_CRD_NAMES = [
  'verticalpodautoscalers.autoscaling.k8s.io',
  'verticalpodautoscalercheckpoints.autoscaling.k8s.io',
];

/** Builds the recommender when missing (seconds once the Kubernetes build is cached); returns its files. */
export function ensureVpa(): VpaBinaries {
  const out = execFileSync('bash', [join(TESTENV_DIR, 'build.sh'), 'vpa'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const dir = out.toString().trim().split('\n').pop() ?? '';
  return { recommender: join(dir, 'recommender'), crds: join(dir, 'crds', 'vpa-v1-crd-gen.yaml') };
}

async function kubectl(kubeconfig: string, args: string[]): Promise<void> {
  await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024 });
}

/** Installs the VPA CRDs and waits until the apiserver serves them. */
export async function installVpaCrds(kubeconfig: string, binaries: VpaBinaries = ensureVpa()): Promise<void> {
  await kubectl(kubeconfig, ['apply', '--server-side', '-f', binaries.crds]);
  await kubectl(kubeconfig, [
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...VPA_CRD_NAMES.map((name) => `crd/${name}`),
  ]);
}

/** Removes the VPA CRDs (and so every VPA object and checkpoint) without waiting. */
export async function uninstallVpaCrds(kubeconfig: string): Promise<void> {
  await kubectl(kubeconfig, [
    'delete',
    '--ignore-not-found',
    '--wait=false',
    ...VPA_CRD_NAMES.map((name) => `crd/${name}`),
  ]);
}

export interface VpaRecommenderOptions {
  kubeconfig: string;
  /** How often it fetches metrics and updates the VPAs' status (--recommender-interval). */
  intervalSeconds: number;
  /** Only VPA objects and pods of this namespace (--vpa-object-namespace); default: all. */
  namespace?: string;
  /** More of its public flags, e.g. ['--memory-aggregation-interval=1m']. */
  args?: string[];
  binaries?: VpaBinaries;
}

export interface VpaRecommender {
  /** 127.0.0.1 port of its /metrics and /health-check. */
  port: number;
  /** The command line it runs with (for the test's output). */
  args: string[];
  /** Its last log lines (klog, stderr). */
  logs(): string;
  /** SIGTERM, SIGKILL after 5 s; resolves when it has exited. Idempotent. */
  stop(): Promise<void>;
}

const LOG_LINES = 400;

/**
 * Starts the recommender (no leader election, only pods that have a VPA) and waits until its
 * health check answers. It is killed if this process exits without stopping it.
 */
export async function startVpaRecommender(options: VpaRecommenderOptions): Promise<VpaRecommender> {
  const binaries = options.binaries ?? ensureVpa();
  const port = await freeLoopbackPort();
  const args = [
    `--kubeconfig=${options.kubeconfig}`,
    `--address=127.0.0.1:${port}`,
    `--recommender-interval=${options.intervalSeconds}s`,
    '--leader-elect=false',
    '--memory-saver=true',
    '--kube-api-qps=50',
    '--kube-api-burst=100',
    '--v=2',
    ...(options.namespace ? [`--vpa-object-namespace=${options.namespace}`] : []),
    ...(options.args ?? []),
  ];
  const child: ChildProcess = spawn(binaries.recommender, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > LOG_LINES) lines.splice(0, lines.length - LOG_LINES);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (alive()) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  const logs = (): string => [...lines, partial].join('\n');
  try {
    await waitHealthy(port, alive, 60_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}; its log:\n${logs()}`, { cause: err });
  }
  return { port, args, logs, stop };
}

/** Polls /health-check (200 once its server is up) until the deadline or the process exits. */
async function waitHealthy(port: number, alive: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error('the VPA recommender exited at start-up');
    const status = await fetch(`http://127.0.0.1:${port}/health-check`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`the VPA recommender's /health-check did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
