/**
 * Real cgroups, processes and network namespaces on this machine (root), for the node agent's
 * tests: pod cgroups in the kubelet's layouts under a directory of their own in each cgroup
 * tree (below the cgroup this process already is in, so limits set on it still hold), real
 * processes moved into them, and pairs of network namespaces joined by a veth pair.
 * Everything made is recorded and removed by cleanup(), in reverse order, on every path.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CGROUP_ROOT = '/sys/fs/cgroup';
/** The cgroup2 mount beside the v1 controllers on this machine (hybrid layout). */
export const CGROUP2_ROOT = '/sys/fs/cgroup/unified';
export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'blkio'] as const;

export type Layout = 'cgroupfs' | 'systemd';
export type Qos = 'burstable' | 'besteffort';

/** The path of a pod's container cgroup below a kubepods parent, in the kubelet's naming. */
export function containerCgroupPath(layout: Layout, qos: Qos, podUid: string, containerId: string): string {
  if (layout === 'cgroupfs') return join('kubepods', qos, `pod${podUid}`, containerId);
  return join(
    'kubepods.slice',
    `kubepods-${qos}.slice`,
    `kubepods-${qos}-pod${podUid.replaceAll('-', '_')}.slice`,
    `cri-containerd-${containerId}.scope`,
  );
}

export function randomContainerId(): string {
  return randomBytes(32).toString('hex');
}

/** This process's cgroup in a v1 controller's tree (`/` when it is the root). */
function ownV1Cgroup(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers?.split(',').includes(controller)) return path ?? '/';
  }
  return '/';
}

/** `major:minor` of the whole disk holding `path` (block throttling rules name disks, not partitions). */
export function diskOf(path: string): string {
  const dev = statSync(path, { bigint: true }).dev;
  // st_dev encodes major/minor as glibc's gnu_dev_major/gnu_dev_minor decode them.
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  const own = `${major}:${minor}`;
  const sys = `/sys/dev/block/${own}`;
  if (existsSync(join(sys, 'partition'))) return readFileSync(join(sys, '..', 'dev'), 'utf8').trim();
  return own;
}

/** Two network namespaces joined by a veth pair, and each end's address. */
export interface NetnsPair {
  a: string;
  b: string;
  addressA: string;
  addressB: string;
}

export interface SandboxProcess {
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  stderr(): string;
}

export class KernelSandbox {
  /** Names everything made; carries this process's pid so that sweepStaleSandboxes() can tell leftovers. */
  readonly tag = `kuo-test-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly undo: (() => Promise<void>)[] = [];
  private readonly processes: SandboxProcess[] = [];

  /** The directory under which this sandbox's kubepods trees live, in one v1 controller or cgroup2. */
  parent(tree: (typeof V1_CONTROLLERS)[number] | 'unified'): string {
    if (tree === 'unified') return join(CGROUP2_ROOT, this.tag);
    return join(CGROUP_ROOT, tree, ownV1Cgroup(tree), this.tag);
  }

  /** Creates `relative` (and its parents) below parent(tree); returns the full path. */
  async makeCgroup(tree: (typeof V1_CONTROLLERS)[number] | 'unified', relative: string): Promise<string> {
    const base = this.parent(tree);
    const parts = [this.tag, ...relative.split('/')];
    let path = join(base, '..');
    for (const part of parts) {
      path = join(path, part);
      if (!existsSync(path)) {
        await mkdir(path);
        const made = path;
        this.undo.push(() => removeCgroup(made));
      }
    }
    return path;
  }

  /** The same container cgroup in every v1 controller and in cgroup2; returns the full paths. */
  async makeContainerCgroups(
    relative: string,
  ): Promise<Record<(typeof V1_CONTROLLERS)[number] | 'unified', string>> {
    const out: Partial<Record<(typeof V1_CONTROLLERS)[number] | 'unified', string>> = {};
    for (const tree of [...V1_CONTROLLERS, 'unified'] as const)
      out[tree] = await this.makeCgroup(tree, relative);
    return out as Record<(typeof V1_CONTROLLERS)[number] | 'unified', string>;
  }

  /** Writes a cgroup file, undoing it with `undoValue` at cleanup when given. */
  async writeCgroupFile(path: string, value: string, undoValue?: string): Promise<void> {
    await writeFile(path, value);
    if (undoValue !== undefined) this.undo.push(() => writeFile(path, undoValue).catch(() => undefined));
  }

  /**
   * Starts `command` (through sh) with itself moved first into each of `cgroups` (full
   * paths), so that all it runs is accounted there. It is killed at cleanup.
   */
  async start(cgroups: string[], command: string, options: { cwd?: string } = {}): Promise<SandboxProcess> {
    const child = spawn('sh', ['-c', moveThenExec(cgroups, command)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    const proc: SandboxProcess = { child, pid: child.pid as number, exited, stderr: () => stderr };
    this.processes.push(proc);
    return proc;
  }

  /** Runs a command to completion with itself first moved into `cgroups`; throws on failure. */
  async runIn(cgroups: string[], command: string): Promise<string> {
    const { stdout } = await run('sh', ['-c', moveThenExec(cgroups, command)], { maxBuffer: 1 << 20 });
    return stdout;
  }

  /**
   * Two network namespaces joined by a veth pair (`eth0` in each, 10.251.N.1 and .2/30),
   * without IPv6 and with permanent neighbour entries, so that the only frames on the link
   * are the ones a test sends. Returns the namespaces' names and addresses.
   */
  async netnsPair(): Promise<NetnsPair> {
    const id = randomBytes(3).toString('hex');
    const a = `${this.tag}-a`;
    const b = `${this.tag}-b`;
    const octet = 1 + (parseInt(id, 16) % 250);
    const addressA = `10.251.${octet}.1`;
    const addressB = `10.251.${octet}.2`;
    for (const ns of [a, b]) {
      await run('ip', ['netns', 'add', ns]);
      this.undo.push(() => run('ip', ['netns', 'del', ns]).then(() => undefined));
      await run('ip', [
        'netns',
        'exec',
        ns,
        'sysctl',
        '-qw',
        'net.ipv6.conf.all.disable_ipv6=1',
        'net.ipv6.conf.default.disable_ipv6=1',
      ]);
    }
    const va = `kuo${id}a`;
    const vb = `kuo${id}b`;
    await run('ip', ['link', 'add', va, 'type', 'veth', 'peer', 'name', vb]);
    // Deleting the namespaces deletes the pair; this undoes a failure before they moved.
    this.undo.push(() =>
      run('ip', ['link', 'del', va]).then(
        () => undefined,
        () => undefined,
      ),
    );
    await run('ip', ['link', 'set', va, 'netns', a]);
    await run('ip', ['link', 'set', vb, 'netns', b]);
    const mac: Record<string, string> = {};
    for (const [ns, dev, address] of [
      [a, va, addressA],
      [b, vb, addressB],
    ] as const) {
      await run('ip', ['-n', ns, 'link', 'set', dev, 'name', 'eth0']);
      await run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.eth0.disable_ipv6=1']);
      await run('ip', ['-n', ns, 'addr', 'add', `${address}/30`, 'dev', 'eth0']);
      const { stdout } = await run('ip', ['-n', ns, '-br', 'link', 'show', 'eth0']);
      mac[ns] = stdout.trim().split(/\s+/)[2] ?? '';
    }
    await run('ip', [
      '-n',
      a,
      'neigh',
      'add',
      addressB,
      'lladdr',
      mac[b] ?? '',
      'dev',
      'eth0',
      'nud',
      'permanent',
    ]);
    await run('ip', [
      '-n',
      b,
      'neigh',
      'add',
      addressA,
      'lladdr',
      mac[a] ?? '',
      'dev',
      'eth0',
      'nud',
      'permanent',
    ]);
    for (const ns of [a, b]) {
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    return { a, b, addressA, addressB };
  }

  /** Kills every process, then undoes everything made, newest first; reports what failed. */
  async cleanup(): Promise<void> {
    for (const p of this.processes) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGCONT');
        p.child.kill('SIGKILL');
      }
    }
    await Promise.all(this.processes.map((p) => p.exited));
    const problems: string[] = [];
    for (const step of this.undo.reverse()) {
      try {
        await step();
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    this.undo.length = 0;
    if (problems.length > 0) throw new Error(`cleanup of ${this.tag} failed: ${problems.join('; ')}`);
  }
}

function moveThenExec(cgroups: string[], command: string): string {
  return [...cgroups.map((c) => `echo $$ > '${c}/cgroup.procs'`), `exec ${command}`].join(' && ');
}

/** rmdir of a cgroup, retried briefly: a killed process leaves its cgroup a moment later. */
async function removeCgroup(path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(path);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A cgroup file's text. */
export function readCgroupFile(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const STALE = /^kuo-test-(\d+)-[0-9a-f]{6}(?:-[ab])?$/;

/**
 * Removes what sandboxes of test processes that no longer run left behind (a run killed by a
 * signal cannot clean up): their processes, network namespaces and cgroups.
 */
export async function sweepStaleSandboxes(): Promise<string[]> {
  const removed: string[] = [];
  const stale = (name: string) => {
    const m = STALE.exec(name);
    return m !== null && !alive(Number(m[1]));
  };
  const { stdout } = await run('ip', ['netns', 'list']);
  for (const line of stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (!stale(name)) continue;
    const pids = await run('ip', ['netns', 'pids', name]).then(
      (r) => r.stdout,
      () => '',
    );
    for (const pid of pids.split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    await run('ip', ['netns', 'del', name]);
    removed.push(`netns ${name}`);
  }
  const parents = [
    ...V1_CONTROLLERS.flatMap((c) => [join(CGROUP_ROOT, c), join(CGROUP_ROOT, c, ownV1Cgroup(c))]),
    CGROUP2_ROOT,
  ];
  for (const parent of new Set(parents)) {
    let names: string[];
    try {
      names = (await readdir(parent, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const name of names.filter(stale)) {
      await removeTree(join(parent, name));
      removed.push(`cgroup ${join(parent, name)}`);
    }
  }
  return removed;
}

async function removeTree(path: string): Promise<void> {
  const children = (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory());
  for (const child of children) await removeTree(join(path, child.name));
  const procs = await readFile(join(path, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const pid of procs.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await removeCgroup(path);
}
