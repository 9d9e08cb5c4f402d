/**
 * The agent's reading loop alone, as a process of its own (bundled by agent.bench.ts and run
 * with plain node, as the image runs the agent): reads the node fixture ROUNDS times and prints
 * its CPU and memory as JSON. Arguments: cgroupRoot procRoot podsFile rounds.
 */
import { readFile } from 'node:fs/promises';
import { detectHierarchy } from '../agent/cgroup-fs.js';
import { NodeCollector, type KnownPod } from '../agent/collect.js';

const [cgroupRoot, procRoot, podsFile, roundsText] = process.argv.slice(2);
const pods = JSON.parse(await readFile(podsFile!, 'utf8')) as KnownPod[];
const rounds = Number(roundsText);
const collector = new NodeCollector({
  node: 'bench-node',
  hierarchy: await detectHierarchy(cgroupRoot!, 2),
  proc: { procRoot: procRoot!, ticksPerSecond: 100, pageSize: 4096 },
  topProcesses: 10,
});
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const idle = process.memoryUsage();
let bytes = 0;
let peakRss = idle.rss;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < rounds; i++) {
  bytes = JSON.stringify(await collector.collect(pods)).length;
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
gc?.();
const after = process.memoryUsage();
process.stdout.write(
  JSON.stringify({
    rounds,
    cpuMs: (cpu.user + cpu.system) / 1000,
    wallMs,
    bytes,
    idleRss: idle.rss,
    peakRss,
    heapAfterGc: after.heapUsed,
    rssAfter: after.rss,
  }) + '\n',
);
