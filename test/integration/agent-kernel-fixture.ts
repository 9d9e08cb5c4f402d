/**
 * Real workloads for the node agent's tests: three pods of the test cluster (kwok runs them on
 * one simulated node) whose cgroups are made on this machine in the kubelet's layouts, in the
 * v1 controllers and in the cgroup2 mount alike, with real processes in them:
 *  - `busy` (Burstable, cgroupfs layout): `yes`, CPU-limited by a CFS quota so that it is throttled;
 *  - `writer` (BestEffort, systemd layout): `dd oflag=direct` writes WRITE_BYTES, `dd iflag=direct`
 *    reads them back, then a `sleep` stays;
 *  - `talker` (Burstable, systemd layout): in a network namespace of its own, sends DATAGRAMS UDP
 *    datagrams of PAYLOAD bytes to a peer namespace over a veth pair and receives each echoed back.
 * The pods' statuses name the containers' ids as a kubelet's would (`containerd://<id>`).
 * writeAndReadBack() and exchange() repeat the writer's and the talker's I/O when a test asks.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createPod,
  waitFor,
  coreApi,
  patchContainerStatuses,
  type SimulatedPodSpec,
} from '../harness/index.js';
import {
  KernelSandbox,
  containerCgroupPath,
  diskOf,
  randomContainerId,
  sweepStaleSandboxes,
  type Layout,
  type NetnsPair,
  type Qos,
  type SandboxProcess,
  type V1_CONTROLLERS,
} from '../harness/kernel.js';

export const BLOCK_SIZE = 65536;
export const BLOCKS = 64;
export const WRITE_BYTES = BLOCK_SIZE * BLOCKS;
export const DATAGRAMS = 25;
export const PAYLOAD = 1000;
/** An Ethernet frame of one datagram: 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + payload. */
export const FRAME_BYTES = 14 + 20 + 8 + PAYLOAD;

export type Tree = (typeof V1_CONTROLLERS)[number] | 'unified';

export interface FixturePod {
  name: string;
  uid: string;
  containerId: string;
  qos: Qos;
  layout: Layout;
  /** The container's cgroup in each tree. */
  cgroups: Record<Tree, string>;
  main?: SandboxProcess;
}

export interface KernelFixture {
  sandbox: KernelSandbox;
  namespace: string;
  node: string;
  busy: FixturePod;
  writer: FixturePod;
  talker: FixturePod;
  /** The talker's network namespace (`a`) and its peer's (`b`), the two ends of the veth pair. */
  net: NetnsPair;
  /** Writes WRITE_BYTES more in the writer's cgroups with `dd oflag=direct` and reads them back (`iflag=direct`). */
  writeAndReadBack(): Promise<void>;
  /** Sends `count` more datagrams of PAYLOAD bytes from the talker's namespace (in its cgroups); each is echoed back. */
  exchange(count: number): Promise<void>;
  cleanup(): Promise<void>;
}

/** `dd` writing WRITE_BYTES to `file` with O_DIRECT, then reading them back with O_DIRECT. */
function writeAndReadBackCommands(file: string): string[] {
  return [
    `dd if=/dev/zero of=${file} bs=${BLOCK_SIZE} count=${BLOCKS} oflag=direct status=none`,
    `dd if=${file} of=/dev/null bs=${BLOCK_SIZE} iflag=direct status=none`,
  ];
}

/** A Python program sending `count` datagrams of PAYLOAD bytes to the echo server, waiting for each echo. */
function talkProgram(net: NetnsPair, count: number, then: string[] = []): string {
  return [
    'import socket, time',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    's.settimeout(30)',
    `for i in range(${count}):`,
    `    s.sendto(b"x" * ${PAYLOAD}, ("${net.addressB}", 9000))`,
    '    s.recvfrom(65536)',
    ...then,
  ].join('\n');
}

async function runningPod(namespace: string, spec: SimulatedPodSpec): Promise<{ uid: string }> {
  await createPod(namespace, spec);
  return waitFor(`pod ${spec.name} running`, async () => {
    const pod = await coreApi().readNamespacedPod({ namespace, name: spec.name });
    const started = pod.status?.containerStatuses?.every((s) => s.state?.running?.startedAt);
    return pod.status?.phase === 'Running' && started && pod.metadata?.uid
      ? { uid: pod.metadata.uid }
      : undefined;
  });
}

/** Gives the pod's container status the runtime id a kubelet would report. */
async function setContainerId(namespace: string, name: string, containerId: string): Promise<void> {
  await patchContainerStatuses(namespace, name, (s) => ({
    ...s,
    containerID: `containerd://${containerId}`,
  }));
}

/**
 * Waits until a stopped process's cgroup CPU counters hold still: the kernel accounts a task's
 * last slice when it takes it off the run queue, and /proc/<pid>/wchan names where it sleeps
 * only once it is off it (`do_signal_stop`; `T` in /proc/<pid>/stat is set before). A quota
 * period that the cgroup ended throttled is counted (nr_throttled, throttled_time) by the period
 * timer when that period ends, so the counters are then read until two reads more than a
 * period apart agree.
 */
async function waitForStillCpu(pod: FixturePod): Promise<void> {
  const pid = pod.main!.pid;
  await waitFor(
    `process ${pid} of ${pod.name} stopped and off the run queue`,
    async () => (await readFile(`/proc/${pid}/wchan`, 'utf8')).trim() === 'do_signal_stop',
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  const periodMs = Number(await readFile(join(pod.cgroups.cpu, 'cpu.cfs_period_us'), 'utf8')) / 1000;
  const counters = async () =>
    (
      await Promise.all([
        readFile(join(pod.cgroups.cpu, 'cpu.stat'), 'utf8'),
        readFile(join(pod.cgroups.cpuacct, 'cpuacct.usage'), 'utf8'),
        readFile(join(pod.cgroups.unified, 'cpu.stat'), 'utf8'),
      ])
    ).join('\n');
  let previous: string | undefined;
  await waitFor(
    `the CPU counters of ${pod.name} unchanged over a quota period`,
    async () => {
      const now = await counters();
      const still = now === previous;
      previous = now;
      return still;
    },
    { timeoutMs: 30_000, intervalMs: 2 * periodMs },
  );
}

export async function startKernelFixture(namespace: string, node: string): Promise<KernelFixture> {
  await sweepStaleSandboxes();
  const sandbox = new KernelSandbox();
  const scratch = mkdtempSync(join(tmpdir(), 'kuo-agent-io-'));
  const cleanup = async () => {
    try {
      await sandbox.cleanup();
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  };
  try {
    const pod = async (name: string, qos: Qos, layout: Layout): Promise<FixturePod> => {
      const spec: SimulatedPodSpec =
        qos === 'burstable'
          ? { name, node, containers: [{ name: 'app', requests: { cpu: '100m', memory: '64Mi' } }] }
          : { name, node, containers: [{ name: 'app' }] };
      const { uid } = await runningPod(namespace, spec);
      const containerId = randomContainerId();
      await setContainerId(namespace, name, containerId);
      const cgroups = await sandbox.makeContainerCgroups(containerCgroupPath(layout, qos, uid, containerId));
      return { name, uid, containerId, qos, layout, cgroups };
    };
    const all = (p: FixturePod) => Object.values(p.cgroups);

    const busy = await pod('busy', 'burstable', 'cgroupfs');
    await sandbox.writeCgroupFile(join(busy.cgroups.cpu, 'cpu.cfs_quota_us'), '20000', '-1');
    busy.main = await sandbox.start(all(busy), 'yes');

    // The kernel counts v1 block I/O per cgroup only on a queue with a throttling rule (blk-throttle
    // is set up lazily since Linux 6.x): a rule far above what the disk can do turns it on.
    const writer = await pod('writer', 'besteffort', 'systemd');
    const disk = diskOf(scratch);
    const unlimited = `${disk} ${2 ** 40}`;
    for (const file of ['blkio.throttle.write_bps_device', 'blkio.throttle.read_bps_device'])
      await sandbox.writeCgroupFile(join(writer.cgroups.blkio, file), unlimited, `${disk} 0`);
    let writes = 0;
    const writeAndReadBack = async () => {
      for (const command of writeAndReadBackCommands(join(scratch, `written-${writes++}`)))
        await sandbox.runIn(all(writer), command);
    };
    await writeAndReadBack();
    writer.main = await sandbox.start(all(writer), 'sleep 3600');
    // Its block I/O counters hold still from when `sleep` sleeps: loading it (a read from the
    // disk when not cached) is over by then.
    const sleeper = writer.main.pid;
    await waitFor(
      'the writer asleep',
      async () =>
        (await readFile(`/proc/${sleeper}/comm`, 'utf8')).trim() === 'sleep' &&
        (await readFile(`/proc/${sleeper}/wchan`, 'utf8')).trim() === 'hrtimer_nanosleep',
      { timeoutMs: 30_000, intervalMs: 50 },
    );

    const talker = await pod('talker', 'burstable', 'systemd');
    const net = await sandbox.netnsPair();
    const ready = join(scratch, 'echo-ready');
    const done = join(scratch, 'talk-done');
    const echo = [
      'import socket',
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      `s.bind(("${net.addressB}", 9000))`,
      `open("${ready}", "w").close()`,
      'while True:',
      '    d, a = s.recvfrom(65536)',
      '    s.sendto(d, a)',
    ].join('\n');
    await sandbox.start([], `ip netns exec ${net.b} python3 -c '${echo}'`);
    await waitFor('the echo server', () => existsSync(ready));
    const talk = talkProgram(net, DATAGRAMS, [`open("${done}", "w").close()`, 'time.sleep(3600)']);
    talker.main = await sandbox.start(all(talker), `ip netns exec ${net.a} python3 -c '${talk}'`);
    await waitFor(
      'the datagrams echoed',
      () => existsSync(done) || (talker.main?.child.exitCode ?? null) !== null,
    );
    if (!existsSync(done)) throw new Error(`the talker failed: ${talker.main.stderr()}`);

    // Let the busy loop run into its quota a few times, then freeze it: once it is off the run
    // queue and its last period is counted, its counters stay put.
    await waitFor(
      'the busy loop throttled',
      async () => /nr_throttled [1-9]/.test(await readFile(join(busy.cgroups.cpu, 'cpu.stat'), 'utf8')),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    busy.main.child.kill('SIGSTOP');
    await waitForStillCpu(busy);
    const exchange = async (count: number) => {
      await sandbox.runIn(all(talker), `ip netns exec ${net.a} python3 -c '${talkProgram(net, count)}'`);
    };
    return { sandbox, namespace, node, busy, writer, talker, net, writeAndReadBack, exchange, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
