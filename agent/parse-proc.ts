/**
 * Pure parsers of /proc files: a process's `stat` and `statm`, `net/dev`, and the host's
 * `stat`, `meminfo`, `loadavg` and `diskstats`. No I/O here.
 */
import type {
  DiskStats,
  HostCpuStats,
  HostMemoryStats,
  InterfaceStats,
  LoadStats,
  NetworkStats,
} from './types.js';

/** What `/proc/<pid>/stat` says about one process (times still in clock ticks). */
export interface ProcStat {
  pid: number;
  command: string;
  state: string;
  utimeTicks: number;
  stimeTicks: number;
  /** Start time in clock ticks after boot. */
  startTicks: number;
}

function num(value: string | undefined, what: string): number {
  if (value === undefined || !/^-?\d+$/.test(value)) throw new Error(`${what}: "${value}" is not an integer`);
  return Number(value);
}

/**
 * `/proc/<pid>/stat`. The command sits in parentheses and may itself hold spaces and
 * parentheses, so fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`/proc/<pid>/stat: no "(comm)" in "${text.slice(0, 80)}"`);
  const pid = num(text.slice(0, open).trim(), '/proc/<pid>/stat pid');
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); field n is rest[n - 3].
  const state = rest[0];
  if (state === undefined || rest.length < 20) throw new Error(`/proc/${pid}/stat: too few fields`);
  return {
    pid,
    command: text.slice(open + 1, close),
    state,
    utimeTicks: num(rest[11], `/proc/${pid}/stat utime`),
    stimeTicks: num(rest[12], `/proc/${pid}/stat stime`),
    startTicks: num(rest[19], `/proc/${pid}/stat starttime`),
  };
}

/** Resident pages from `/proc/<pid>/statm` (its second field). */
export function parseStatmResidentPages(text: string): number {
  const fields = text.trim().split(/\s+/);
  return num(fields[1], '/proc/<pid>/statm resident');
}

/** Every interface of a `net/dev` file (the two header lines skipped). */
export function parseNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const name = line.slice(0, colon).trim();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (f.length < 16) throw new Error(`net/dev: too few fields for ${name}`);
    const at = (i: number, what: string) => num(f[i], `net/dev ${name} ${what}`);
    out.push({
      name,
      rxBytes: at(0, 'rx bytes'),
      rxPackets: at(1, 'rx packets'),
      rxErrors: at(2, 'rx errs'),
      rxDrops: at(3, 'rx drop'),
      txBytes: at(8, 'tx bytes'),
      txPackets: at(9, 'tx packets'),
      txErrors: at(10, 'tx errs'),
      txDrops: at(11, 'tx drop'),
    });
  }
  return out;
}

/** A pod's network: sums over its namespace's interfaces, `lo` left out. */
export function podNetwork(interfaces: InterfaceStats[]): NetworkStats {
  const kept = interfaces.filter((i) => i.name !== 'lo');
  const out: NetworkStats = {
    rxBytes: 0,
    rxPackets: 0,
    rxErrors: 0,
    rxDrops: 0,
    txBytes: 0,
    txPackets: 0,
    txErrors: 0,
    txDrops: 0,
    interfaces: kept,
  };
  for (const i of kept) {
    out.rxBytes += i.rxBytes;
    out.rxPackets += i.rxPackets;
    out.rxErrors += i.rxErrors;
    out.rxDrops += i.rxDrops;
    out.txBytes += i.txBytes;
    out.txPackets += i.txPackets;
    out.txErrors += i.txErrors;
    out.txDrops += i.txDrops;
  }
  return out;
}

/** The host's `/proc/stat`: CPU by mode (seconds) and the boot time (ms since epoch). */
export function parseHostStat(text: string, ticksPerSecond = 100): { cpu: HostCpuStats; bootTime: number } {
  let cpu: HostCpuStats | undefined;
  let cpus = 0;
  let bootTime: number | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'cpu') {
      const t = (i: number) =>
        f[i] === undefined ? 0 : num(f[i], `/proc/stat cpu field ${i}`) / ticksPerSecond;
      cpu = {
        user: t(1),
        nice: t(2),
        system: t(3),
        idle: t(4),
        iowait: t(5),
        irq: t(6),
        softirq: t(7),
        steal: t(8),
        guest: t(9),
        guestNice: t(10),
        cpus: 0,
      };
    } else if (f[0] && /^cpu\d+$/.test(f[0])) cpus++;
    else if (f[0] === 'btime') bootTime = num(f[1], '/proc/stat btime') * 1000;
  }
  if (!cpu) throw new Error('/proc/stat: no "cpu" line');
  if (bootTime === undefined) throw new Error('/proc/stat: no "btime" line');
  cpu.cpus = cpus;
  return { cpu, bootTime };
}

/** `/proc/meminfo` (kB values) to bytes. */
export function parseMeminfo(text: string): HostMemoryStats {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m?.[1] && m[2]) kb.set(m[1], Number(m[2]) * 1024);
  }
  const need = (key: string) => {
    const v = kb.get(key);
    if (v === undefined) throw new Error(`/proc/meminfo: no ${key}`);
    return v;
  };
  const out: HostMemoryStats = {
    totalBytes: need('MemTotal'),
    freeBytes: need('MemFree'),
    buffersBytes: kb.get('Buffers') ?? 0,
    cachedBytes: kb.get('Cached') ?? 0,
    swapTotalBytes: kb.get('SwapTotal') ?? 0,
    swapFreeBytes: kb.get('SwapFree') ?? 0,
  };
  const available = kb.get('MemAvailable');
  if (available !== undefined) out.availableBytes = available;
  return out;
}

/** `/proc/loadavg`: `0.12 0.34 0.56 2/345 6789`. */
export function parseLoadavg(text: string): LoadStats {
  const m = /^(\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+)\/(\d+)/.exec(text.trim());
  if (!m) throw new Error(`/proc/loadavg: unexpected "${text.trim()}"`);
  return {
    one: Number(m[1]),
    five: Number(m[2]),
    fifteen: Number(m[3]),
    runnable: Number(m[4]),
    threads: Number(m[5]),
  };
}

/** `/proc/diskstats`; sectors are always 512 bytes there, whatever the device's block size. */
export function parseDiskstats(text: string): DiskStats[] {
  const out: DiskStats[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const name = f[2] ?? '';
    const at = (i: number, what: string) => num(f[i], `/proc/diskstats ${name} ${what}`);
    out.push({
      name,
      device: `${at(0, 'major')}:${at(1, 'minor')}`,
      readsCompleted: at(3, 'reads'),
      readsMerged: at(4, 'reads merged'),
      readBytes: at(5, 'sectors read') * 512,
      readTimeMs: at(6, 'read ms'),
      writesCompleted: at(7, 'writes'),
      writesMerged: at(8, 'writes merged'),
      writeBytes: at(9, 'sectors written') * 512,
      writeTimeMs: at(10, 'write ms'),
      ioInProgress: at(11, 'in progress'),
      ioTimeMs: at(12, 'io ms'),
      weightedIoTimeMs: at(13, 'weighted io ms'),
    });
  }
  return out;
}
