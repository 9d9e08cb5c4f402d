/**
 * The collector on cgroup trees written to a temporary directory in the kubelet's layouts
 * (cgroup v1 and v2, cgroupfs and systemd drivers), with /proc of this machine.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { detectHierarchy } from '../../../agent/cgroup-fs.js';
import { type KnownPod, NodeCollector } from '../../../agent/collect.js';

const UID_A = '11111111-2222-4333-8444-555555555555';
const UID_B = '66666666-7777-4888-9999-aaaaaaaaaaaa';
const UID_C = 'bbbbbbbb-cccc-4ddd-aeee-ffffffffffff';
const ID_APP = '1'.repeat(64);
const ID_SIDECAR = '2'.repeat(64);
const ID_PAUSE = '3'.repeat(64);
const ID_B = '4'.repeat(64);

let dir: string;
let sleeper: ChildProcess;

async function put(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

function pods(): KnownPod[] {
  return [
    {
      namespace: 'shop',
      name: 'web',
      uid: UID_A,
      hostNetwork: false,
      containers: [
        { name: 'app', containerID: `containerd://${ID_APP}` },
        { name: 'sidecar', containerID: `containerd://${ID_SIDECAR}` },
      ],
    },
    {
      namespace: 'shop',
      name: 'db',
      uid: UID_B,
      hostNetwork: true,
      containers: [{ name: 'db', containerID: `cri-o://${ID_B}` }],
    },
    { namespace: 'shop', name: 'pending', uid: UID_C, hostNetwork: false, containers: [{ name: 'x' }] },
  ];
}

const proc = { procRoot: '/proc', ticksPerSecond: 100, pageSize: 4096 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kuo-agent-'));
  sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  await new Promise((resolve) => sleeper.once('spawn', resolve));
});

afterAll(async () => {
  sleeper.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('cgroup v2, systemd driver', () => {
  it('finds pods by UID, names containers by their status ids, reads every figure', async () => {
    const root = join(dir, 'v2');
    await put(join(root, 'cgroup.controllers'), 'cpu memory io\n');
    const podDir = join(
      root,
      'kubepods.slice/kubepods-burstable.slice',
      `kubepods-burstable-pod${UID_A.replaceAll('-', '_')}.slice`,
    );
    const app = join(podDir, `cri-containerd-${ID_APP}.scope`);
    await put(
      join(app, 'cpu.stat'),
      'usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\nnr_periods 5\nnr_throttled 1\nthrottled_usec 20000\n',
    );
    await put(join(app, 'memory.current'), '2000000\n');
    await put(join(app, 'memory.stat'), 'anon 1500000\nfile 500000\ninactive_file 300000\n');
    await put(join(app, 'memory.events'), 'oom_kill 2\n');
    await put(join(app, 'io.stat'), '254:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n');
    await put(join(app, 'cgroup.procs'), `${sleeper.pid}\n`);
    const sidecar = join(podDir, `cri-containerd-${ID_SIDECAR}.scope`);
    await put(join(sidecar, 'cpu.stat'), 'usage_usec 10\n');
    await put(join(sidecar, 'cgroup.procs'), '');
    const pause = join(podDir, `cri-containerd-${ID_PAUSE}.scope`);
    await put(join(pause, 'cpu.stat'), 'usage_usec 1\n');
    await put(join(pause, 'cgroup.procs'), `${sleeper.pid}\n`);

    const hierarchy = await detectHierarchy(root);
    expect(hierarchy.version).toBe(2);
    // A clock that moves at every look: the files are read between a container's two stamps.
    let clock = 0;
    const now = () => (clock += 1000);
    const report = await new NodeCollector({ node: 'n1', hierarchy, proc, topProcesses: 5, now }).collect(
      pods(),
    );
    expect(report.podsWithoutCgroup.map((p) => p.name).sort()).toEqual(['db', 'pending']);
    expect(report.readErrors).toEqual([]);
    const [web] = report.pods;
    expect(web).toMatchObject({ name: 'web', uid: UID_A, qos: 'burstable', cgroupDriver: 'systemd' });
    expect(web?.containers.map((c) => c.name ?? c.id)).toEqual(['app', 'sidecar', ID_PAUSE]);
    const appStats = web?.containers[0];
    expect(appStats?.readStart).toBeLessThan(appStats!.time);
    expect(appStats?.cpu).toEqual({
      usageCoreSeconds: 3,
      userCoreSeconds: 2,
      systemCoreSeconds: 1,
      periods: 5,
      throttledPeriods: 1,
      throttledSeconds: 0.02,
    });
    expect(appStats?.memory).toEqual({
      usageBytes: 2000000,
      workingSetBytes: 1700000,
      rssBytes: 1500000,
      cacheBytes: 500000,
      oomKills: 2,
    });
    expect(appStats?.blockIo).toMatchObject({ readBytes: 100, writeBytes: 200, readOps: 1, writeOps: 2 });
    expect(appStats?.processes.count).toBe(1);
    expect(appStats?.processes.top[0]).toMatchObject({ pid: sleeper.pid, command: 'sleep', state: 'S' });
    // A container without memory files reports no memory rather than zero.
    expect(web?.containers[1]?.memory).toBeUndefined();
    expect(web?.containers[1]?.processes).toEqual({ count: 0, top: [] });
    // The network of the pod is read through one of its processes (here in the host's namespace).
    expect(web?.network?.interfaces.map((i) => i.name)).not.toContain('lo');
  });
});

describe('cgroup v1, cgroupfs and systemd drivers side by side', () => {
  it('joins each controller tree, wherever its kubepods root sits', async () => {
    const root = join(dir, 'v1');
    await put(join(root, 'cpuacct/cpuacct.usage'), '0\n');
    await put(join(root, 'cpu/cpu.shares'), '1024\n');
    await put(join(root, 'memory/memory.usage_in_bytes'), '0\n');
    await put(join(root, 'blkio/blkio.throttle.io_service_bytes'), 'Total 0\n');
    // cgroupfs driver, a Guaranteed pod directly under kubepods.
    const a = (controller: string, prefix = '') =>
      join(root, controller, prefix, 'kubepods', `pod${UID_A}`, ID_APP);
    await put(join(a('cpuacct'), 'cpuacct.usage'), '2500000000\n');
    await put(join(a('cpuacct'), 'cpuacct.stat'), 'user 200\nsystem 50\n');
    await put(join(a('cpuacct'), 'cgroup.procs'), `${sleeper.pid}\n`);
    await put(join(a('cpu'), 'cpu.stat'), 'nr_periods 7\nnr_throttled 0\nthrottled_time 0\n');
    // the memory tree's kubepods is nested deeper (as under a node's own cgroup)
    await put(join(a('memory', 'outer/node'), 'memory.usage_in_bytes'), '4096000\n');
    await put(
      join(a('memory', 'outer/node'), 'memory.stat'),
      'total_rss 3000000\ntotal_cache 1096000\ntotal_inactive_file 96000\n',
    );
    await put(
      join(a('memory', 'outer/node'), 'memory.oom_control'),
      'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    );
    await put(
      join(a('blkio'), 'blkio.throttle.io_service_bytes'),
      '254:0 Read 0\n254:0 Write 1048576\nTotal 1048576\n',
    );
    await put(join(a('blkio'), 'blkio.throttle.io_serviced'), '254:0 Read 0\n254:0 Write 16\nTotal 16\n');
    // systemd driver, a BestEffort pod.
    const b = join(
      root,
      'cpuacct',
      'kubepods.slice/kubepods-besteffort.slice',
      `kubepods-besteffort-pod${UID_B.replaceAll('-', '_')}.slice`,
      `crio-${ID_B}.scope`,
    );
    await put(join(b, 'cpuacct.usage'), '1000\n');
    await put(join(b, 'cgroup.procs'), '');

    const hierarchy = await detectHierarchy(root);
    expect(hierarchy.version).toBe(1);
    expect(hierarchy.trees.map((t) => t.controller).sort()).toEqual(['blkio', 'cpu', 'cpuacct', 'memory']);
    const report = await new NodeCollector({ node: 'n1', hierarchy, proc, topProcesses: 5 }).collect(pods());
    const web = report.pods.find((p) => p.name === 'web');
    expect(web).toMatchObject({ qos: 'guaranteed', cgroupDriver: 'cgroupfs' });
    expect(web?.containers).toHaveLength(1);
    expect(web?.containers[0]).toMatchObject({
      name: 'app',
      cpu: {
        usageCoreSeconds: 2.5,
        userCoreSeconds: 2,
        systemCoreSeconds: 0.5,
        periods: 7,
        throttledPeriods: 0,
        throttledSeconds: 0,
      },
      memory: {
        usageBytes: 4096000,
        workingSetBytes: 4000000,
        rssBytes: 3000000,
        cacheBytes: 1096000,
        oomKills: 0,
      },
      blockIo: { readBytes: 0, writeBytes: 1048576, readOps: 0, writeOps: 16 },
      processes: { count: 1 },
    });
    const db = report.pods.find((p) => p.name === 'db');
    expect(db).toMatchObject({ qos: 'besteffort', cgroupDriver: 'systemd' });
    expect(db?.containers[0]).toMatchObject({ name: 'db', cpu: { usageCoreSeconds: 1e-6 } });
    // host network pods: no pod network figures (their traffic is the node's)
    expect(db?.network).toBeUndefined();
    expect(report.podsWithoutCgroup.map((p) => p.name)).toEqual(['pending']);
  });

  it('reports a malformed file as a read error of that container and carries on', async () => {
    const root = join(dir, 'v1-bad');
    await put(join(root, 'cpuacct/cpuacct.usage'), '0\n');
    const bad = join(root, 'cpuacct/kubepods/burstable', `pod${UID_A}`, ID_APP);
    await put(join(bad, 'cpuacct.usage'), 'not a number\n');
    const good = join(root, 'cpuacct/kubepods/burstable', `pod${UID_A}`, ID_SIDECAR);
    await put(join(good, 'cpuacct.usage'), '5\n');
    const report = await new NodeCollector({
      node: 'n1',
      hierarchy: await detectHierarchy(root),
      proc,
      topProcesses: 5,
    }).collect(pods());
    expect(report.readErrors).toEqual([
      {
        namespace: 'shop',
        name: 'web',
        container: 'app',
        message: 'cpuacct.usage: "not a number" is not a non-negative integer',
      },
    ]);
    expect(report.pods[0]?.containers.map((c) => c.name)).toEqual(['sidecar']);
  });

  it('says why a directory is not a cgroup hierarchy', async () => {
    await expect(detectHierarchy(join(dir, 'nothing'))).rejects.toThrow(
      'neither cgroup.controllers (v2) nor a cpuacct controller (v1)',
    );
  });
});
