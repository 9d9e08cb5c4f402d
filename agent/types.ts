/**
 * What the node agent reads from cgroups and /proc, as plain data. Every reading carries the
 * time it was read (ms since epoch); counters are the kernel's own cumulative values, so a
 * consumer integrates them exactly and sees a reset as a smaller value.
 */
import type { NetworkCounters, NetworkInterface } from '../api/http/v1.js';

/** A container's CPU counters (cgroup v2 `cpu.stat`, v1 `cpuacct.usage` and `cpu.stat`). */
export interface CpuStats {
  /** Core-seconds used since the cgroup was created (cumulative). */
  usageCoreSeconds: number;
  userCoreSeconds?: number;
  systemCoreSeconds?: number;
  /** CFS enforcement periods, periods in which the cgroup was throttled, time throttled. */
  periods?: number;
  throttledPeriods?: number;
  throttledSeconds?: number;
}

/** A container's memory (v2 `memory.current`/`memory.stat`/`memory.events`, v1 `memory.*`). */
export interface MemoryStats {
  usageBytes: number;
  /** usage minus inactive file pages, floored at 0: what the kubelet evicts and OOM-kills on. */
  workingSetBytes: number;
  /** Anonymous memory (v2 `anon`, v1 `total_rss`). */
  rssBytes?: number;
  /** Page cache (v2 `file`, v1 `total_cache`). */
  cacheBytes?: number;
  /** OOM kills in the cgroup (v2 `memory.events oom_kill`, v1 `memory.oom_control oom_kill`), cumulative. */
  oomKills?: number;
}

/** Block I/O of one device, cumulative. */
export interface BlockDeviceIo {
  /** `major:minor`. */
  device: string;
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
}

/** Block I/O summed over devices, with the per-device figures. */
export interface BlockIoStats {
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
  devices: BlockDeviceIo[];
}

/** One line of `/proc/<pid>/net/dev` or `/proc/net/dev`, cumulative: the API's interface. */
export type InterfaceStats = NetworkInterface;

/** A pod's network: the sums over its network namespace's interfaces except `lo`. */
export interface NetworkStats extends NetworkCounters {
  interfaces: InterfaceStats[];
}

/** One process, from `/proc/<pid>/stat` and `statm`. */
export interface ProcessStats {
  pid: number;
  /** The command name (`comm`, at most 15 characters). */
  command: string;
  /** utime + stime, seconds (cumulative). */
  cpuSeconds: number;
  /** Resident set size, bytes. */
  rssBytes: number;
  /** When the process started, ms since epoch. */
  startTime: number;
  /** One-letter state (R, S, D, Z, ...). */
  state: string;
}

export interface ProcessSummary {
  /** Processes in the container's cgroup. */
  count: number;
  /** The top processes by CPU seconds, at most the agent's `--top-processes`. */
  top: ProcessStats[];
}

/** One container's cgroup and what was read from it. */
export interface ContainerStats {
  /** The container id as the runtime names it (64 hex digits for containerd and CRI-O). */
  id: string;
  /** The container's name in the pod spec, when the pod's status maps the id to it. */
  name?: string;
  /**
   * When the reading of the container's cgroup files began and when it was done, ms since epoch:
   * each figure was read at some instant in [readStart, time].
   */
  readStart: number;
  time: number;
  cpu?: CpuStats;
  memory?: MemoryStats;
  blockIo?: BlockIoStats;
  processes: ProcessSummary;
}

export type CgroupDriver = 'cgroupfs' | 'systemd';
export type QosClass = 'guaranteed' | 'burstable' | 'besteffort';

export interface PodStats {
  namespace: string;
  name: string;
  uid: string;
  qos: QosClass;
  cgroupDriver: CgroupDriver;
  /** When the network was read, ms since epoch. */
  time: number;
  /** Absent for host-network pods (their traffic is the node's) and pods with no process. */
  network?: NetworkStats;
  containers: ContainerStats[];
}

/** `/proc/stat` CPU time by mode, seconds (cumulative), summed over CPUs. */
export interface HostCpuStats {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  guest: number;
  guestNice: number;
  /** Online CPUs (cpuN lines). */
  cpus: number;
}

export interface HostMemoryStats {
  totalBytes: number;
  freeBytes: number;
  availableBytes?: number;
  buffersBytes: number;
  cachedBytes: number;
  swapTotalBytes: number;
  swapFreeBytes: number;
}

export interface LoadStats {
  one: number;
  five: number;
  fifteen: number;
  runnable: number;
  threads: number;
}

/** One line of `/proc/diskstats`, cumulative; bytes are 512-byte sectors times 512. */
export interface DiskStats {
  name: string;
  device: string;
  readsCompleted: number;
  readsMerged: number;
  readBytes: number;
  readTimeMs: number;
  writesCompleted: number;
  writesMerged: number;
  writeBytes: number;
  writeTimeMs: number;
  ioInProgress: number;
  ioTimeMs: number;
  weightedIoTimeMs: number;
}

export interface HostStats {
  time: number;
  /** Boot time, ms since epoch (`/proc/stat btime`). */
  bootTime: number;
  cpu: HostCpuStats;
  memory: HostMemoryStats;
  load: LoadStats;
  /** Every interface of the host's network namespace, `lo`, TAP and veth devices included. */
  interfaces: InterfaceStats[];
  disks: DiskStats[];
}

/** What one read of the node produced: the agent's `/stats` answer. */
export interface NodeReport {
  node: string;
  time: number;
  cgroupVersion: 1 | 2;
  host: HostStats;
  pods: PodStats[];
  /** Pods of the node the agent knows from the API but found no cgroup for. */
  podsWithoutCgroup: { namespace: string; name: string; uid: string }[];
  /** Files that could not be parsed (the rest of the node is still reported). */
  readErrors: { namespace: string; name: string; container?: string; message: string }[];
}
