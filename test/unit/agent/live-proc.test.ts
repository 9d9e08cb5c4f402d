/** The /proc readers on this machine's kernel, checked against independent sources. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { readBootTime, readHost, readProcess, summarizeProcesses } from '../../../agent/proc-fs.js';

const proc = { procRoot: '/proc', ticksPerSecond: 100, pageSize: 4096 };
let sleeper: ChildProcess;
let spawnedAt: number;

beforeAll(async () => {
  spawnedAt = Date.now();
  sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  await new Promise((resolve) => sleeper.once('spawn', resolve));
});
afterAll(() => {
  sleeper.kill('SIGKILL');
});

describe('processes', () => {
  it('a sleeping process: its command, no CPU, the RSS that /proc/<pid>/status reports, its start', async () => {
    const pid = sleeper.pid as number;
    const bootTime = await readBootTime('/proc');
    const p = await readProcess(proc, pid, bootTime);
    const vmRssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    // utime + stime (fields 14, 15) of the sleeping process, read independently.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ');
    const ticks = Number(fields[13]) + Number(fields[14]);
    expect(p).toMatchObject({
      pid,
      command: 'sleep',
      state: 'S',
      cpuSeconds: ticks / 100,
      rssBytes: vmRssKb * 1024,
    });
    // btime has a resolution of one second
    expect(p?.startTime).toBeGreaterThanOrEqual(spawnedAt - 1000);
    expect(p?.startTime).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('a process that exited is left out, the rest ranked by CPU', async () => {
    const summary = await summarizeProcesses(proc, [process.pid, 999_999_999, sleeper.pid as number], 0, 1);
    expect(summary.count).toBe(2);
    expect(summary.top.map((p) => p.pid)).toEqual([process.pid]);
  });
});

describe('host', () => {
  it('CPU count, memory total, lo and the root disk as the OS reports them', async () => {
    const host = await readHost(proc);
    expect(host.cpu.cpus).toBe(cpus().length);
    expect(host.memory.totalBytes).toBe(totalmem());
    expect(host.interfaces.map((i) => i.name)).toContain('lo');
    const dev = statSync('/').dev;
    const rootDevice = `${Math.floor(dev / 256) & 0xfff}:${(dev & 0xff) | ((dev >> 12) & 0xfff00)}`;
    expect(host.disks.map((d) => d.device)).toContain(rootDevice);
    expect(host.cpu.user + host.cpu.system + host.cpu.idle).toBeGreaterThan(0);
  });
});
