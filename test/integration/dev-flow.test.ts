import { get as httpsGet } from 'node:https';
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../harness/index.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const DEV = join(ROOT, '.dev');

async function kubectlDev(...args: string[]): Promise<string> {
  const { stdout } = await run('kubectl', ['--kubeconfig', join(DEV, 'kubeconfig'), ...args]);
  return stdout;
}

/** PIDs of the processes `make dev` starts (its cluster's components and FerretDB on .dev/). */
async function devProcesses(): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid,args']);
  return stdout
    .split('\n')
    .filter((line) => line.includes('/clusters/kuo-dev/') || line.includes(`file:${DEV}/ferretdb/`))
    .map((line) => line.trim().split(/\s+/)[0] ?? '');
}

describe('make dev / make dev-down (the README’s first command)', () => {
  let dev: ChildProcess | undefined;
  let output = '';

  afterAll(async () => {
    await run('make', ['-C', ROOT, 'dev-down']).catch(() => undefined);
    if (dev && dev.exitCode === null) dev.kill('SIGKILL');
  });

  it('starts the simulated cluster, store and operator; the demo alert fires; dev-down leaves nothing running', async () => {
    dev = spawn('make', ['-C', ROOT, '-o', 'node_modules/.installed', 'dev'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KUBECONFIG: '', MONGODB_URI: '' },
    });
    dev.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    dev.stderr?.on('data', (c: Buffer) => (output += c.toString()));

    await waitFor('make dev to be ready', () => output.includes('[dev] ready'), {
      timeoutMs: 180_000,
      intervalMs: 1000,
    });
    for (const file of ['kubeconfig', 'mongodb-uri', 'api-url', 'ca.crt'])
      expect(existsSync(join(DEV, file))).toBe(true);
    const apiUrl = readFileSync(join(DEV, 'api-url'), 'utf8').trim();
    expect(apiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    // What the printed curl does: trust .dev/ca.crt.
    const ca = readFileSync(join(DEV, 'ca.crt'), 'utf8');
    const health = await new Promise<number>((resolve, reject) =>
      httpsGet(`${apiUrl}/healthz`, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject),
    );
    expect(health).toBe(200);
    expect(output).toContain('create token usage-reader --audience kube-usage-operator');
    expect(output).toContain('curl --cacert .dev/ca.crt');

    await kubectlDev(
      '-n',
      'shop',
      'wait',
      '--for=condition=Firing',
      'resourcealert/web-cpu-hot',
      '--timeout=150s',
    );
    const listed = await kubectlDev('get', 'usagepolicies,resourcealerts', '-A');
    expect(listed).toMatch(/web-cpu-hot\s+Firing/);

    await run('make', ['-C', ROOT, 'dev-down']);
    await waitFor('make dev to exit', () => dev?.exitCode !== null, { timeoutMs: 30_000 });
    expect(await devProcesses()).toEqual([]);
    expect(existsSync(join(DEV, 'dev.pid'))).toBe(false);
  });
});
