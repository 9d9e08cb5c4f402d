/**
 * The cgroup file system: which hierarchy the node runs (v2, or v1 with one tree per
 * controller), where the kubelet's pod cgroups are, and reading one container's files.
 * Parsing is in parse-cgroup.ts; this module only finds and reads files.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  blockIoFromV1,
  blockIoFromV2,
  cpuFromV1,
  cpuFromV2,
  isKubepodsRoot,
  memoryFromV1,
  memoryFromV2,
  parseContainerCgroupName,
  parsePodCgroupName,
  parseQosCgroupName,
} from './parse-cgroup.js';
import type { BlockIoStats, CgroupDriver, CpuStats, MemoryStats, QosClass } from './types.js';

/** The v1 controllers the agent reads. */
export type V1Controller = 'cpu' | 'cpuacct' | 'memory' | 'blkio';
const V1_CONTROLLERS: readonly V1Controller[] = ['cpuacct', 'cpu', 'memory', 'blkio'];

/** A mounted cgroup tree: the single v2 tree, or one v1 controller's. */
export interface CgroupTree {
  /** `unified` for v2. */
  controller: V1Controller | 'unified';
  mount: string;
}

export interface CgroupHierarchy {
  version: 1 | 2;
  trees: CgroupTree[];
}

/** Characteristic files of each v1 controller, to find its mount among the names in use. */
const V1_MARKERS: Record<V1Controller, string> = {
  cpu: 'cpu.shares',
  cpuacct: 'cpuacct.usage',
  memory: 'memory.usage_in_bytes',
  blkio: 'blkio.throttle.io_service_bytes',
};
const V1_DIRS: Record<V1Controller, string[]> = {
  cpu: ['cpu', 'cpu,cpuacct', 'cpuacct,cpu'],
  cpuacct: ['cpuacct', 'cpu,cpuacct', 'cpuacct,cpu'],
  memory: ['memory'],
  blkio: ['blkio'],
};

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The hierarchy mounted at `root` (normally /sys/fs/cgroup): v2 when the root itself is a
 * cgroup2 mount, v1 when controller directories are there. `version` forces one.
 */
export async function detectHierarchy(root: string, version?: 1 | 2): Promise<CgroupHierarchy> {
  if (version !== 1 && (await exists(join(root, 'cgroup.controllers'))))
    return { version: 2, trees: [{ controller: 'unified', mount: root }] };
  if (version === 2) throw new Error(`${root} is not a cgroup v2 mount (no cgroup.controllers)`);
  const trees: CgroupTree[] = [];
  for (const controller of V1_CONTROLLERS) {
    for (const dir of V1_DIRS[controller]) {
      const mount = join(root, dir);
      if (await exists(join(mount, V1_MARKERS[controller]))) {
        trees.push({ controller, mount });
        break;
      }
    }
  }
  if (!trees.some((t) => t.controller === 'cpuacct'))
    throw new Error(
      `no cgroup hierarchy under ${root}: neither cgroup.controllers (v2) nor a cpuacct controller (v1)`,
    );
  return { version: 1, trees };
}

/** A container's cgroup directory in each tree that has it. */
export interface ContainerCgroup {
  id: string;
  paths: Partial<Record<CgroupTree['controller'], string>>;
}

export interface PodCgroup {
  uid: string;
  qos: QosClass;
  driver: CgroupDriver;
  paths: Partial<Record<CgroupTree['controller'], string>>;
  containers: Map<string, ContainerCgroup>;
}

async function subdirs(path: string): Promise<string[]> {
  try {
    const entries = await readdir(path, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if (isGone(err)) return [];
    throw err;
  }
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ESRCH' || code === 'ENODEV' || code === 'ENOTDIR';
}

/**
 * Finds the kubelet's `kubepods` / `kubepods.slice` directories in each tree (at any depth up
 * to `maxDepth`, since nested setups such as kind put them below the node's own cgroup), and
 * caches them: they outlive pods, so pods are listed from the cached roots on every read and
 * the trees are walked again only every `rescanMs`.
 */
export class PodCgroupFinder {
  private roots: { tree: CgroupTree; path: string }[] = [];
  private scannedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly hierarchy: CgroupHierarchy,
    private readonly options: { maxDepth?: number; rescanMs?: number; now?: () => number } = {},
  ) {}

  private async scanRoots(): Promise<void> {
    const maxDepth = this.options.maxDepth ?? 5;
    const roots: { tree: CgroupTree; path: string }[] = [];
    const walk = async (tree: CgroupTree, path: string, depth: number): Promise<void> => {
      for (const name of await subdirs(path)) {
        const child = join(path, name);
        if (isKubepodsRoot(name)) roots.push({ tree, path: child });
        else if (depth < maxDepth) await walk(tree, child, depth + 1);
      }
    };
    for (const tree of this.hierarchy.trees) await walk(tree, tree.mount, 1);
    this.roots = roots;
  }

  /** Every pod cgroup under the kubepods roots, by pod UID. */
  async find(): Promise<Map<string, PodCgroup>> {
    const now = (this.options.now ?? Date.now)();
    if (now - this.scannedAt >= (this.options.rescanMs ?? 30_000) || this.roots.length === 0) {
      await this.scanRoots();
      this.scannedAt = now;
    }
    const pods = new Map<string, PodCgroup>();
    const addPod = async (tree: CgroupTree, path: string, name: string, qos: QosClass) => {
      const parsed = parsePodCgroupName(name);
      if (!parsed) return;
      let pod = pods.get(parsed.uid);
      if (!pod) {
        pod = { uid: parsed.uid, qos, driver: parsed.driver, paths: {}, containers: new Map() };
        pods.set(parsed.uid, pod);
      }
      pod.paths[tree.controller] = path;
      for (const child of await subdirs(path)) {
        const id = parseContainerCgroupName(child);
        if (!id) continue;
        let container = pod.containers.get(id);
        if (!container) {
          container = { id, paths: {} };
          pod.containers.set(id, container);
        }
        container.paths[tree.controller] = join(path, child);
      }
    };
    for (const { tree, path } of this.roots) {
      for (const name of await subdirs(path)) {
        const qos = parseQosCgroupName(name);
        if (qos)
          for (const podDir of await subdirs(join(path, name)))
            await addPod(tree, join(path, name, podDir), podDir, qos);
        else await addPod(tree, join(path, name), name, 'guaranteed');
      }
    }
    return pods;
  }
}

/** A file's text, or undefined when it (or its cgroup) does not exist. */
export async function readOptional(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

export interface CgroupReading {
  cpu?: CpuStats;
  memory?: MemoryStats;
  blockIo?: BlockIoStats;
  pids: number[];
}

function parsePids(text: string | undefined): number[] {
  if (!text) return [];
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * Reads one cgroup's counters. Files of controllers the node does not enable are absent
 * (on a v2 tree without the memory controller there is no memory.current): those figures are
 * left out, never reported as zero.
 */
export async function readCgroup(
  version: 1 | 2,
  paths: Partial<Record<CgroupTree['controller'], string>>,
  ticksPerSecond = 100,
): Promise<CgroupReading> {
  const out: CgroupReading = { pids: [] };
  if (version === 2) {
    const dir = paths.unified;
    if (dir === undefined) return out;
    const f = (name: string) => readOptional(join(dir, name));
    const [cpuStat, current, memoryStat, events, ioStat, procs] = await Promise.all([
      f('cpu.stat'),
      f('memory.current'),
      f('memory.stat'),
      f('memory.events'),
      f('io.stat'),
      f('cgroup.procs'),
    ]);
    if (cpuStat !== undefined) out.cpu = cpuFromV2(cpuStat);
    if (current !== undefined && memoryStat !== undefined)
      out.memory = memoryFromV2(current, memoryStat, events);
    if (ioStat !== undefined) out.blockIo = blockIoFromV2(ioStat);
    out.pids = parsePids(procs);
    return out;
  }
  const f = (controller: V1Controller, name: string) =>
    readOptional(paths[controller] === undefined ? undefined : join(paths[controller], name));
  const procsDir = paths.cpuacct ?? paths.cpu ?? paths.memory ?? paths.blkio;
  const [usage, cpuacctStat, cpuStat, memUsage, memStat, oom, ioBytes, ioOps, procs] = await Promise.all([
    f('cpuacct', 'cpuacct.usage'),
    f('cpuacct', 'cpuacct.stat'),
    f('cpu', 'cpu.stat'),
    f('memory', 'memory.usage_in_bytes'),
    f('memory', 'memory.stat'),
    f('memory', 'memory.oom_control'),
    f('blkio', 'blkio.throttle.io_service_bytes'),
    f('blkio', 'blkio.throttle.io_serviced'),
    readOptional(procsDir === undefined ? undefined : join(procsDir, 'cgroup.procs')),
  ]);
  if (usage !== undefined) out.cpu = cpuFromV1(usage, cpuacctStat, cpuStat, ticksPerSecond);
  if (memUsage !== undefined && memStat !== undefined) out.memory = memoryFromV1(memUsage, memStat, oom);
  if (ioBytes !== undefined && ioOps !== undefined) out.blockIo = blockIoFromV1(ioBytes, ioOps);
  out.pids = parsePids(procs);
  return out;
}
