/**
 * How the node agents' readings appear in the API: times as RFC 3339, counters as the kernel
 * keeps them (cumulative since the container, the network namespace or the boot began), and
 * for each field the agents could not give, the reason.
 */
import type {
  BlockIoStats,
  ContainerStats,
  HostStats,
  NetworkStats,
  NodeReport,
  PodStats,
  ProcessStats,
} from '../../agent/types.js';
import type { AbsentField, BlockIo, CurrentAnswer, CurrentContainer, PodNetwork } from '../../api/http/v1.js';

/** Without agents configured, the reason every agent field gives. */
export const NO_AGENTS =
  'the operator reads no node agents (start it with --agents and install manifests/agent)';

const iso = (time: number) => new Date(time).toISOString();

export function presentNetwork(network: NetworkStats, time: number): PodNetwork {
  return {
    time: iso(time),
    rxBytes: network.rxBytes,
    rxPackets: network.rxPackets,
    rxErrors: network.rxErrors,
    rxDrops: network.rxDrops,
    txBytes: network.txBytes,
    txPackets: network.txPackets,
    txErrors: network.txErrors,
    txDrops: network.txDrops,
    interfaces: network.interfaces,
  };
}

export function presentBlockIo(io: BlockIoStats, time: number): BlockIo {
  return {
    time: iso(time),
    readBytes: io.readBytes,
    writeBytes: io.writeBytes,
    readOps: io.readOps,
    writeOps: io.writeOps,
    devices: io.devices,
  };
}

export function presentProcess(p: ProcessStats) {
  return {
    pid: p.pid,
    command: p.command,
    state: p.state,
    cpuSeconds: p.cpuSeconds,
    rssBytes: p.rssBytes,
    startTime: iso(p.startTime),
  };
}

/** The container's name as the pod spec gives it, else its runtime id. */
export function containerName(c: ContainerStats): string {
  return c.name ?? c.id;
}

/** The agent fields of one pod's containers in the usage answer, by container name. */
export function agentContainerFields(
  c: ContainerStats | undefined,
): Pick<CurrentContainer, 'cgroupCpu' | 'blockIo' | 'processCount'> {
  return {
    /** The cgroup's own CPU counter and throttling (cumulative), beside the store's rate. */
    cgroupCpu: c?.cpu
      ? {
          time: iso(c.time),
          usageCoreSeconds: c.cpu.usageCoreSeconds,
          throttledPeriods: c.cpu.throttledPeriods ?? null,
          throttledSeconds: c.cpu.throttledSeconds ?? null,
        }
      : null,
    blockIo: c?.blockIo ? presentBlockIo(c.blockIo, c.time) : null,
    processCount: c ? c.processes.count : null,
  };
}

/** The pod-level agent fields of the usage answer, and the reasons for those that are absent. */
export function agentPodFields(
  found: { report: NodeReport; pod: PodStats } | { absent: string },
  containers: readonly string[],
): Pick<CurrentAnswer, 'agent' | 'network' | 'absent'> {
  if ('absent' in found)
    return {
      agent: null,
      network: null,
      absent: [
        { field: 'network', reason: found.absent },
        { field: 'containers[].cgroupCpu', reason: found.absent },
        { field: 'containers[].blockIo', reason: found.absent },
        { field: 'containers[].processCount', reason: found.absent },
      ],
    };
  const { pod, report } = found;
  const absent: AbsentField[] = [];
  if (!pod.network)
    absent.push({
      field: 'network',
      reason: "the pod uses the host network (its traffic is the node's) or has no process to read it from",
    });
  const byName = new Map(pod.containers.map((c) => [containerName(c), c]));
  for (const name of containers) {
    const c = byName.get(name);
    if (!c)
      absent.push({
        field: `containers[${name}].blockIo`,
        reason: `the agent of the node "${report.node}" found no cgroup of this container`,
      });
    else if (!c.blockIo)
      absent.push({ field: `containers[${name}].blockIo`, reason: 'the cgroup has no block I/O accounting' });
  }
  return {
    agent: { node: report.node, time: iso(report.time) },
    network: pod.network ? presentNetwork(pod.network, pod.time) : null,
    absent,
  };
}

export function presentHost(node: string, host: HostStats, report: NodeReport) {
  return {
    node,
    time: iso(host.time),
    bootTime: iso(host.bootTime),
    cgroupVersion: report.cgroupVersion,
    cpu: {
      cpus: host.cpu.cpus,
      secondsByMode: {
        user: host.cpu.user,
        nice: host.cpu.nice,
        system: host.cpu.system,
        idle: host.cpu.idle,
        iowait: host.cpu.iowait,
        irq: host.cpu.irq,
        softirq: host.cpu.softirq,
        steal: host.cpu.steal,
        guest: host.cpu.guest,
        guestNice: host.cpu.guestNice,
      },
    },
    memory: host.memory,
    load: host.load,
    interfaces: host.interfaces,
    disks: host.disks,
    pods: { read: report.pods.length, withoutCgroup: report.podsWithoutCgroup.length },
  };
}
