/**
 * The production package, installed the way the Dockerfile installs it (compile, `npm pack`,
 * unpack into an empty folder, `npm install --omit=dev` with the project's lockfile), then run
 * from there: `--help`, and a start against the test cluster as the operator's ServiceAccount.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kubectl, testEnvironment, waitFor } from '../harness/index.js';
import {
  OPERATOR_NAMESPACE,
  REPO_ROOT,
  applyOperatorIdentity,
  writeOperatorKubeconfig,
} from './operator-install.js';

const execFileAsync = promisify(execFile);

/** Runs a command; a failure carries its whole output (tsc and npm report on stdout). */
async function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(command, args, { ...options, maxBuffer: 32 * 1024 * 1024 });
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw Object.assign(new Error(`${command} ${args.join(' ')} failed:\n${stdout}${stderr}`), err as object);
  }
}

const MAIN = 'dist/cmd/operator.js';
const CRD_FILES = ['usage.kubeusage.dev_usagepolicies.yaml', 'usage.kubeusage.dev_resourcealerts.yaml'];
/** The leader-election Lease the shipped Role allows (and the operator's default name). */
const LEASE = 'kube-usage-operator';

interface PackResult {
  filename: string;
  files: { path: string }[];
}

/** A TCP port free on loopback right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function httpStatus(url: string): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await response.body?.cancel();
  return response.status;
}

async function leaseHolder(): Promise<string> {
  const { stdout } = await kubectl([
    'get',
    'lease',
    LEASE,
    '-n',
    OPERATOR_NAMESPACE,
    '-o',
    'jsonpath={.spec.holderIdentity}',
  ]);
  return stdout.trim();
}

/** The version of the package installed in `dir`, or undefined when there is none. */
function installedVersion(dir: string): string | undefined {
  const manifest = join(dir, 'package.json');
  return existsSync(manifest)
    ? (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version
    : undefined;
}

/** The environment of an installed operator: nothing of the test process's (no KUBECONFIG, no MONGODB_URI). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ...extra };
}

describe('the production package', () => {
  let work: string;
  let app: string;
  let packed: PackResult;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'kuo-package-'));
    app = join(work, 'app');
    await run('npm', ['run', 'build'], { cwd: REPO_ROOT });
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: REPO_ROOT,
    });
    packed = (JSON.parse(pack.stdout) as PackResult[])[0]!;
    mkdirSync(app);
    await run('tar', ['-xzf', join(work, packed.filename), '-C', app, '--strip-components=1'], { cwd: work });
    copyFileSync(join(REPO_ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
    const install = [
      'install',
      '--omit=dev',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
    ];
    await run('npm', install, { cwd: app });
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds the compiled operator and the CRDs, and no TypeScript sources or tests', () => {
    const paths = packed.files.map((f) => f.path);
    const expected = ['package.json', MAIN, 'dist/ui/index.html', ...CRD_FILES.map((f) => `crds/${f}`)];
    expect(paths).toEqual(expect.arrayContaining(expected));
    const unwanted = (p: string) =>
      /^(test|scripts|manifests)\//.test(p) || (p.endsWith('.ts') && !p.endsWith('.d.ts'));
    expect(paths.filter(unwanted)).toEqual([]);
  });

  it('installs exactly the locked runtime dependencies and none of the dev tools', () => {
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; dev?: boolean; optional?: boolean }>;
    };
    const runtime = Object.entries(lock.packages).filter(([path, p]) => path !== '' && !p.dev && !p.optional);
    const differing = runtime.filter(([path, p]) => installedVersion(join(app, path)) !== p.version);
    expect(runtime.length).toBeGreaterThan(50);
    expect(differing.map(([path]) => path)).toEqual([]);
    const devTools = ['typescript', 'jest', 'ts-jest', 'node', 'eslint', 'tsx'];
    expect(
      devTools.filter((name) => installedVersion(join(app, 'node_modules', name)) !== undefined),
    ).toEqual([]);
  });

  it('declares an executable bin that prints its flags for --help', async () => {
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(manifest.bin['kube-usage-operator']).toBe(MAIN);
    expect(readFileSync(join(app, MAIN), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    const { stdout } = await run(process.execPath, [MAIN, '--help'], { cwd: app, env: cleanEnv() });
    for (const flag of ['--kubeconfig', '--mongodb-uri', '--http-port', '--leader-elect', '--namespace']) {
      expect(stdout).toContain(flag);
    }
  });

  it('refuses to start without MONGODB_URI, naming it', async () => {
    const failure = await run(process.execPath, [MAIN], { cwd: app, env: cleanEnv() }).then(
      () => undefined,
      (err: { code?: number; stdout?: string; stderr?: string }) => err,
    );
    expect(failure?.code).not.toBe(0);
    expect(`${failure?.stdout ?? ''}${failure?.stderr ?? ''}`).toContain('MONGODB_URI');
  });

  describe('started against the test cluster as the operator ServiceAccount', () => {
    let operator: ChildProcess | undefined;
    let output = '';

    afterAll(() => {
      if (operator && operator.exitCode === null && operator.signalCode === null) operator.kill('SIGKILL');
    });

    it('becomes healthy, ready and leader with the shipped RBAC, and exits cleanly on SIGTERM', async () => {
      await applyOperatorIdentity();
      const kubeconfig = await writeOperatorKubeconfig(join(work, 'operator.kubeconfig'));
      const port = await freePort();
      const identity = `package-test-${randomBytes(3).toString('hex')}`;
      const child = spawn(
        process.execPath,
        [MAIN, '--kubeconfig', kubeconfig, '--http-address', '127.0.0.1', '--http-port', String(port)],
        {
          cwd: app,
          env: cleanEnv({
            MONGODB_URI: testEnvironment().mongoUri,
            MONGODB_DATABASE: `kuo_package_${identity.slice(-6)}`,
            POD_NAMESPACE: OPERATOR_NAMESPACE,
            POD_NAME: identity,
          }),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      operator = child;
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      const unlessExited = <T>(wait: Promise<T>): Promise<T> =>
        Promise.race([
          wait,
          exited.then(({ code, signal }): never => {
            throw new Error(
              `the operator exited (code ${code}, signal ${signal}) before it was ready:\n${output}`,
            );
          }),
        ]);

      const base = `http://127.0.0.1:${port}`;
      await unlessExited(
        waitFor('/healthz 200', async () => (await httpStatus(`${base}/healthz`)) === 200, {
          timeoutMs: 60_000,
        }),
      );
      await unlessExited(
        waitFor('/readyz 200', async () => (await httpStatus(`${base}/readyz`)) === 200, {
          timeoutMs: 90_000,
        }),
      );
      // A previous holder that did not release the Lease lets it expire first (15 s by default).
      await unlessExited(
        waitFor(`Lease ${LEASE} held by ${identity}`, async () => (await leaseHolder()) === identity, {
          timeoutMs: 60_000,
        }),
      );

      child.kill('SIGTERM');
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(await leaseHolder()).not.toBe(identity);
      // The shipped RBAC let it do everything it tried.
      expect(output).not.toMatch(/forbidden/i);
    }, 300_000);
  });
});
