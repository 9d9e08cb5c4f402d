/**
 * /proc readers: processes (stat + statm), a network namespace's interfaces through a process
 * in it, and the host's CPU, memory, load, interfaces and disks. Parsing is in parse-proc.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readOptional } from './cgroup-fs.js';
import {
  parseDiskstats,
  parseHostStat,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parseProcStat,
  parseStatmResidentPages,
} from './parse-proc.js';
import type { HostStats, InterfaceStats, ProcessStats, ProcessSummary } from './types.js';

export interface ProcOptions {
  /** Where the host's /proc is mounted (the DaemonSet mounts it at /host/proc). */
  procRoot: string;
  /** USER_HZ, the unit of /proc times: 100 on every Linux architecture Kubernetes runs on. */
  ticksPerSecond: number;
  /** Bytes per page, the unit of statm. */
  pageSize: number;
}

/** One process's figures, or undefined when it exited while being read. */
export async function readProcess(
  options: ProcOptions,
  pid: number,
  bootTime: number,
): Promise<ProcessStats | undefined> {
  const dir = join(options.procRoot, String(pid));
  const [statText, statmText] = await Promise.all([
    readOptional(join(dir, 'stat')),
    readOptional(join(dir, 'statm')),
  ]);
  if (statText === undefined || statmText === undefined) return undefined;
  const stat = parseProcStat(statText);
  return {
    pid,
    command: stat.command,
    state: stat.state,
    cpuSeconds: (stat.utimeTicks + stat.stimeTicks) / options.ticksPerSecond,
    rssBytes: parseStatmResidentPages(statmText) * options.pageSize,
    startTime: bootTime + Math.round((stat.startTicks * 1000) / options.ticksPerSecond),
  };
}

/** The processes of a cgroup: how many, and the `top` ones by CPU seconds (ties by pid). */
export async function summarizeProcesses(
  options: ProcOptions,
  pids: number[],
  bootTime: number,
  top: number,
): Promise<ProcessSummary> {
  const all = (await Promise.all(pids.map((pid) => readProcess(options, pid, bootTime)))).filter(
    (p): p is ProcessStats => p !== undefined,
  );
  all.sort((a, b) => b.cpuSeconds - a.cpuSeconds || a.pid - b.pid);
  return { count: all.length, top: all.slice(0, top) };
}

/** The interfaces of the network namespace `pid` is in, or undefined when it has exited. */
export async function readNetDevOf(
  procRoot: string,
  pid: number | 'self',
): Promise<InterfaceStats[] | undefined> {
  const text = await readOptional(join(procRoot, String(pid), 'net', 'dev'));
  return text === undefined ? undefined : parseNetDev(text);
}

/** The host's figures. Interfaces are those of PID 1's network namespace, the host's. */
export async function readHost(options: ProcOptions, now: () => number = Date.now): Promise<HostStats> {
  const f = (name: string) => readFile(join(options.procRoot, name), 'utf8');
  const [stat, meminfo, loadavg, diskstats, netdev] = await Promise.all([
    f('stat'),
    f('meminfo'),
    f('loadavg'),
    f('diskstats'),
    f('1/net/dev'),
  ]);
  const time = now();
  const { cpu, bootTime } = parseHostStat(stat, options.ticksPerSecond);
  return {
    time,
    bootTime,
    cpu,
    memory: parseMeminfo(meminfo),
    load: parseLoadavg(loadavg),
    interfaces: parseNetDev(netdev),
    disks: parseDiskstats(diskstats),
  };
}

/** The boot time from /proc/stat, ms since epoch (start times of processes count from it). */
export async function readBootTime(procRoot: string): Promise<number> {
  return parseHostStat(await readFile(join(procRoot, 'stat'), 'utf8')).bootTime;
}
