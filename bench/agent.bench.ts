/**
 * The node agent's overhead on a node with 100 pods and 1,000 processes: one read of the node
 * (every pod's cgroups in the kubelet's systemd layout, cgroup v2, two containers per pod, the
 * pause and the app; every process's /proc stat and statm; each pod's net/dev; the host's
 * /proc files) and the JSON answer the operator receives, as the agent does it per request.
 * The trees are fixtures in a temporary directory (the host's /proc files are copies of this
 * machine's), so the figures are the agent's own work, not the kernel's generation of /proc text.
 * Prints CPU per read, the share of one core at the operator's 15 s interval, memory, and size.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { detectHierarchy } from '../agent/cgroup-fs.js';
import { NodeCollector, type KnownPod } from '../agent/collect.js';

const PODS = 100;
const PROCESSES = 1000;
const ROUNDS = 50;
const INTERVAL_S = 15;

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const uidOf = (i: number) => `${hex(i, 8)}-0000-4000-8000-${hex(i, 12)}`;
const idOf = (pod: number, c: number) => hex(pod * 2 + c + 1, 64);

async function put(path: string, text: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
}

function procStat(pid: number, i: number): string {
  const fields = ['S', '1', String(pid), String(pid), '0', '-1', '4194560', '100', '0', '0', '0'];
  fields.push(String(1000 + i), String(200 + (i % 7)), '0', '0', '20', '0', '1', '0', String(5000 + i));
  fields.push('10000000', '500');
  while (fields.length < 50) fields.push('0');
  return `${pid} (worker-${i % 50}) ${fields.join(' ')}\n`;
}

function netDev(i: number): string {
  return (
    'Inter-|   Receive                                                |  Transmit\n' +
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
    '    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n' +
    `  eth0: ${1_000_000 + i} ${1000 + i} 0 0 0 0 0 0 ${2_000_000 + i} ${2000 + i} 0 0 0 0 0 0\n`
  );
}

async function buildFixture(
  dir: string,
): Promise<{ cgroupRoot: string; procRoot: string; pods: KnownPod[] }> {
  const cgroupRoot = join(dir, 'cgroup');
  const procRoot = join(dir, 'proc');
  await put(join(cgroupRoot, 'cgroup.controllers'), 'cpu io memory pids\n');
  for (const name of ['stat', 'meminfo', 'loadavg', 'diskstats'])
    await put(join(procRoot, name), await readFile(join('/proc', name), 'utf8'));
  await put(join(procRoot, '1', 'net', 'dev'), await readFile('/proc/1/net/dev', 'utf8'));
  const pods: KnownPod[] = [];
  let pid = 10_000;
  const perPod = PROCESSES / PODS;
  for (let p = 0; p < PODS; p++) {
    const uid = uidOf(p + 1);
    const podDir = join(
      cgroupRoot,
      'kubepods.slice',
      'kubepods-burstable.slice',
      `kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice`,
    );
    const containers: KnownPod['containers'] = [];
    for (let c = 0; c < 2; c++) {
      const id = idOf(p, c);
      const cg = join(podDir, `cri-containerd-${id}.scope`);
      // The pause container has one process; the app the rest of the pod's share.
      const count = c === 0 ? 1 : perPod - 1;
      const pids = Array.from({ length: count }, () => pid++);
      await put(join(cg, 'cgroup.procs'), pids.join('\n') + '\n');
      await put(
        join(cg, 'cpu.stat'),
        `usage_usec ${123_456_789 + p}\nuser_usec 100000000\nsystem_usec 23456789\nnr_periods 1000\nnr_throttled 10\nthrottled_usec 50000\n`,
      );
      await put(join(cg, 'memory.current'), `${50_000_000 + p}\n`);
      await put(
        join(cg, 'memory.stat'),
        `anon 40000000\nfile 10000000\ninactive_file 5000000\nactive_file 5000000\nshmem 0\n`,
      );
      await put(join(cg, 'memory.events'), 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n');
      await put(
        join(cg, 'io.stat'),
        `8:0 rbytes=${4096 * p} wbytes=${8192 * p} rios=${p} wios=${2 * p} dbytes=0 dios=0\n`,
      );
      for (const [k, q] of pids.entries()) {
        await put(join(procRoot, String(q), 'stat'), procStat(q, k));
        await put(join(procRoot, String(q), 'statm'), `${2000 + k} ${500 + k} 100 10 0 300 0\n`);
        await put(join(procRoot, String(q), 'net', 'dev'), netDev(p));
      }
      if (c === 1) containers.push({ name: 'app', containerID: `containerd://${id}` });
    }
    pods.push({ namespace: `team-${p % 10}`, name: `pod-${p}`, uid, hostNetwork: false, containers });
  }
  return { cgroupRoot, procRoot, pods };
}

const run_ = promisify(execFile);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

interface ProcessFigures {
  rounds: number;
  cpuMs: number;
  wallMs: number;
  bytes: number;
  idleRss: number;
  peakRss: number;
  heapAfterGc: number;
  rssAfter: number;
}

/** The reading loop bundled (esbuild) and run with plain node, as the image runs the agent. */
async function inOwnProcess(dir: string, cgroupRoot: string, procRoot: string, pods: KnownPod[]) {
  const bundle = join(dir, 'agent-process.mjs');
  await build({
    entryPoints: [join(import.meta.dirname, 'agent-process.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    outfile: bundle,
    logLevel: 'silent',
  });
  const podsFile = join(dir, 'pods.json');
  await writeFile(podsFile, JSON.stringify(pods));
  const { stdout } = await run_(process.execPath, [
    '--expose-gc',
    '--max-old-space-size=96',
    bundle,
    cgroupRoot,
    procRoot,
    podsFile,
    String(ROUNDS),
  ]);
  return JSON.parse(stdout) as ProcessFigures;
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kuo-bench-agent-'));
  try {
    const { cgroupRoot, procRoot, pods } = await buildFixture(dir);
    const hierarchy = await detectHierarchy(cgroupRoot, 2);
    const collector = new NodeCollector({
      node: 'bench-node',
      hierarchy,
      proc: { procRoot, ticksPerSecond: 100, pageSize: 4096 },
      topProcesses: 10,
    });
    const check = await collector.collect(pods);
    const processes = check.pods.reduce(
      (n, p) => n + p.containers.reduce((m, c) => m + c.processes.count, 0),
      0,
    );
    if (check.pods.length !== PODS || processes !== PROCESSES)
      throw new Error(`the fixture read ${check.pods.length} pods and ${processes} processes`);
    const f = await inOwnProcess(dir, cgroupRoot, procRoot, pods);
    const cpuMs = f.cpuMs / f.rounds;
    console.log(
      `agent read of ${PODS} pods (${PODS * 2} containers) and ${PROCESSES} processes, ${f.rounds} reads in a process of its own:`,
    );
    console.log(`  CPU per read      ${cpuMs.toFixed(1)} ms (wall ${(f.wallMs / f.rounds).toFixed(1)} ms)`);
    console.log(
      `  CPU at one read every ${INTERVAL_S} s: ${((cpuMs / (INTERVAL_S * 1000)) * 100).toFixed(2)}% of one core`,
    );
    console.log(`  answer            ${(f.bytes / 1024).toFixed(0)} KiB of JSON`);
    console.log(
      `  memory            RSS ${mib(f.idleRss)} MiB before the first read, peak ${mib(f.peakRss)} MiB; heap after GC ${mib(f.heapAfterGc)} MiB`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
