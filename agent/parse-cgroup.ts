/**
 * Pure parsers of cgroup files (v1 and v2) and of the kubelet's cgroup names. No I/O here:
 * each function takes the text of a file and returns numbers, or throws a clear error naming
 * what was malformed.
 */
import type { BlockDeviceIo, BlockIoStats, CgroupDriver, CpuStats, MemoryStats, QosClass } from './types.js';

/** `key value` lines (cpu.stat, memory.stat, memory.events, memory.oom_control). */
export function parseFlatKeyed(text: string, file = 'flat-keyed file'): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const [key, value, extra] = trimmed.split(/\s+/);
    if (key === undefined || value === undefined || extra !== undefined)
      throw new Error(`${file}: expected "key value", got "${trimmed}"`);
    out.set(key, parseCount(value, `${file} ${key}`));
  }
  return out;
}

/** A file holding one non-negative integer (cpuacct.usage, memory.current, memory.usage_in_bytes). */
export function parseSingleNumber(text: string, file = 'file'): number {
  return parseCount(text.trim(), file);
}

function parseCount(value: string, what: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`${what}: "${value}" is not a non-negative integer`);
  return Number(value);
}

/** cgroup v2 `cpu.stat`: microsecond counters to core-seconds. */
export function cpuFromV2(cpuStat: string): CpuStats {
  const stat = parseFlatKeyed(cpuStat, 'cpu.stat');
  const usage = stat.get('usage_usec');
  if (usage === undefined) throw new Error('cpu.stat: no usage_usec line');
  const out: CpuStats = { usageCoreSeconds: usage / 1e6 };
  const user = stat.get('user_usec');
  const system = stat.get('system_usec');
  if (user !== undefined) out.userCoreSeconds = user / 1e6;
  if (system !== undefined) out.systemCoreSeconds = system / 1e6;
  addThrottling(out, stat, 'throttled_usec', 1e6);
  return out;
}

/**
 * cgroup v1: `cpuacct.usage` (ns), `cpuacct.stat` (user/system in USER_HZ ticks) and the cpu
 * controller's `cpu.stat` (throttled_time in ns), each optional but the first.
 */
export function cpuFromV1(
  usage: string,
  cpuacctStat?: string,
  cpuStat?: string,
  ticksPerSecond = 100,
): CpuStats {
  const out: CpuStats = { usageCoreSeconds: parseSingleNumber(usage, 'cpuacct.usage') / 1e9 };
  if (cpuacctStat !== undefined) {
    const stat = parseFlatKeyed(cpuacctStat, 'cpuacct.stat');
    const user = stat.get('user');
    const system = stat.get('system');
    if (user !== undefined) out.userCoreSeconds = user / ticksPerSecond;
    if (system !== undefined) out.systemCoreSeconds = system / ticksPerSecond;
  }
  if (cpuStat !== undefined) addThrottling(out, parseFlatKeyed(cpuStat, 'cpu.stat'), 'throttled_time', 1e9);
  return out;
}

function addThrottling(out: CpuStats, stat: Map<string, number>, timeKey: string, perSecond: number): void {
  const periods = stat.get('nr_periods');
  const throttled = stat.get('nr_throttled');
  const time = stat.get(timeKey);
  if (periods !== undefined) out.periods = periods;
  if (throttled !== undefined) out.throttledPeriods = throttled;
  if (time !== undefined) out.throttledSeconds = time / perSecond;
}

/** Working set as the kubelet computes it: usage minus inactive file pages, never below zero. */
export function workingSet(usageBytes: number, inactiveFileBytes: number | undefined): number {
  return Math.max(0, usageBytes - (inactiveFileBytes ?? 0));
}

/** cgroup v2 `memory.current`, `memory.stat` and (optional) `memory.events`. */
export function memoryFromV2(current: string, memoryStat: string, events?: string): MemoryStats {
  const usageBytes = parseSingleNumber(current, 'memory.current');
  const stat = parseFlatKeyed(memoryStat, 'memory.stat');
  const out: MemoryStats = { usageBytes, workingSetBytes: workingSet(usageBytes, stat.get('inactive_file')) };
  const anon = stat.get('anon');
  const file = stat.get('file');
  if (anon !== undefined) out.rssBytes = anon;
  if (file !== undefined) out.cacheBytes = file;
  if (events !== undefined) {
    const oom = parseFlatKeyed(events, 'memory.events').get('oom_kill');
    if (oom !== undefined) out.oomKills = oom;
  }
  return out;
}

/**
 * cgroup v1 `memory.usage_in_bytes`, `memory.stat` (the hierarchical `total_*` keys, as the
 * kubelet reads them) and (optional) `memory.oom_control` (`oom_kill` since Linux 4.13).
 */
export function memoryFromV1(usage: string, memoryStat: string, oomControl?: string): MemoryStats {
  const usageBytes = parseSingleNumber(usage, 'memory.usage_in_bytes');
  const stat = parseFlatKeyed(memoryStat, 'memory.stat');
  const pick = (key: string) => stat.get(`total_${key}`) ?? stat.get(key);
  const out: MemoryStats = { usageBytes, workingSetBytes: workingSet(usageBytes, pick('inactive_file')) };
  const rss = pick('rss');
  const cache = pick('cache');
  if (rss !== undefined) out.rssBytes = rss;
  if (cache !== undefined) out.cacheBytes = cache;
  if (oomControl !== undefined) {
    const oom = parseFlatKeyed(oomControl, 'memory.oom_control').get('oom_kill');
    if (oom !== undefined) out.oomKills = oom;
  }
  return out;
}

/** cgroup v2 `io.stat`: `MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..` lines. */
export function blockIoFromV2(ioStat: string): BlockIoStats {
  const devices: BlockDeviceIo[] = [];
  for (const line of ioStat.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const [device, ...pairs] = trimmed.split(/\s+/);
    if (!device || !/^\d+:\d+$/.test(device)) throw new Error(`io.stat: bad device in "${trimmed}"`);
    const values = new Map<string, number>();
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`io.stat: expected key=value, got "${pair}"`);
      values.set(pair.slice(0, eq), parseCount(pair.slice(eq + 1), `io.stat ${device} ${pair.slice(0, eq)}`));
    }
    devices.push({
      device,
      readBytes: values.get('rbytes') ?? 0,
      writeBytes: values.get('wbytes') ?? 0,
      readOps: values.get('rios') ?? 0,
      writeOps: values.get('wios') ?? 0,
    });
  }
  return sumDevices(devices);
}

/**
 * cgroup v1 `blkio.throttle.io_service_bytes` and `blkio.throttle.io_serviced`:
 * `MAJ:MIN Read N` / `Write N` / ... lines and a final `Total N`.
 */
export function blockIoFromV1(serviceBytes: string, serviced: string): BlockIoStats {
  const bytes = parseBlkioRwstat(serviceBytes, 'blkio.throttle.io_service_bytes');
  const ops = parseBlkioRwstat(serviced, 'blkio.throttle.io_serviced');
  const names = [...new Set([...bytes.keys(), ...ops.keys()])].sort();
  return sumDevices(
    names.map((device) => ({
      device,
      readBytes: bytes.get(device)?.read ?? 0,
      writeBytes: bytes.get(device)?.write ?? 0,
      readOps: ops.get(device)?.read ?? 0,
      writeOps: ops.get(device)?.write ?? 0,
    })),
  );
}

function parseBlkioRwstat(text: string, file: string): Map<string, { read: number; write: number }> {
  const out = new Map<string, { read: number; write: number }>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length === 1 && fields[0] === '') continue;
    if (fields[0] === 'Total' && fields.length === 2) continue;
    const [device, op, value] = fields;
    if (
      fields.length !== 3 ||
      !device ||
      !/^\d+:\d+$/.test(device) ||
      op === undefined ||
      value === undefined
    )
      throw new Error(`${file}: expected "MAJ:MIN Op N", got "${line.trim()}"`);
    const entry = out.get(device) ?? { read: 0, write: 0 };
    if (op === 'Read') entry.read = parseCount(value, `${file} ${device} Read`);
    else if (op === 'Write') entry.write = parseCount(value, `${file} ${device} Write`);
    out.set(device, entry);
  }
  return out;
}

function sumDevices(devices: BlockDeviceIo[]): BlockIoStats {
  const out: BlockIoStats = { readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0, devices };
  for (const d of devices) {
    out.readBytes += d.readBytes;
    out.writeBytes += d.writeBytes;
    out.readOps += d.readOps;
    out.writeOps += d.writeOps;
  }
  return out;
}

/** A parsed pod cgroup directory name. */
export interface PodCgroupName {
  uid: string;
  driver: CgroupDriver;
}

const UID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const UID_SYSTEMD = '[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}';
const CGROUPFS_POD = new RegExp(`^pod(${UID})$`);
const SYSTEMD_POD = new RegExp(`^kubepods(?:-(?:burstable|besteffort))?-pod(${UID_SYSTEMD})\\.slice$`);

/**
 * The pod UID in a kubelet pod cgroup's directory name: `pod<uid>` (cgroupfs driver) or
 * `kubepods[-<qos>]-pod<uid with _ for ->.slice` (systemd driver); undefined for other names.
 */
export function parsePodCgroupName(name: string): PodCgroupName | undefined {
  const cgroupfs = CGROUPFS_POD.exec(name);
  if (cgroupfs?.[1]) return { uid: cgroupfs[1], driver: 'cgroupfs' };
  const systemd = SYSTEMD_POD.exec(name);
  if (systemd?.[1]) return { uid: systemd[1].replaceAll('_', '-'), driver: 'systemd' };
  return undefined;
}

/** The QoS class a directory under the kubepods root stands for, or undefined for a pod dir. */
export function parseQosCgroupName(name: string): Exclude<QosClass, 'guaranteed'> | undefined {
  if (name === 'burstable' || name === 'kubepods-burstable.slice') return 'burstable';
  if (name === 'besteffort' || name === 'kubepods-besteffort.slice') return 'besteffort';
  return undefined;
}

/** Whether a directory name is a kubelet's root of pod cgroups. */
export function isKubepodsRoot(name: string): boolean {
  return name === 'kubepods' || name === 'kubepods.slice';
}

const CONTAINER = /^(?:(?:cri-containerd|crio|docker)-)?([0-9a-f]{64})(?:\.scope)?$/;

/**
 * The container id in a container cgroup's directory name: `<id>` (cgroupfs),
 * `cri-containerd-<id>.scope`, `crio-<id>.scope` or `docker-<id>.scope` (systemd).
 * CRI-O's `crio-conmon-<id>.scope` (the monitor, not the container) is not a container.
 */
export function parseContainerCgroupName(name: string): string | undefined {
  return CONTAINER.exec(name)?.[1];
}

/** The id part of a pod status `containerID` (`containerd://<id>`, `cri-o://<id>`). */
export function containerIdOfStatus(containerID: string | undefined): string | undefined {
  if (!containerID) return undefined;
  const sep = containerID.indexOf('://');
  return sep < 0 ? containerID : containerID.slice(sep + 3);
}
