/**
 * One read of the node: the known pods (from the API) joined with their cgroups, each
 * container's counters and processes, each pod's network, and the host.
 */
import { containerIdOfStatus } from './parse-cgroup.js';
import { type CgroupHierarchy, PodCgroupFinder, type PodCgroup, readCgroup } from './cgroup-fs.js';
import { type ProcOptions, readHost, readNetDevOf, summarizeProcesses } from './proc-fs.js';
import { podNetwork } from './parse-proc.js';
import type { ContainerStats, NodeReport, PodStats } from './types.js';

/** A pod of this node as the API describes it. */
export interface KnownPod {
  namespace: string;
  name: string;
  uid: string;
  hostNetwork: boolean;
  /** Names of the pod's containers and the runtime ids their statuses give (`containerd://<id>`). */
  containers: { name: string; containerID?: string }[];
}

export interface NodeCollectorOptions {
  node: string;
  hierarchy: CgroupHierarchy;
  proc: ProcOptions;
  /** Processes listed per container (the rest are counted). */
  topProcesses: number;
  now?: () => number;
  /** How often the cgroup trees are walked again for kubepods roots (default 30 s). */
  rescanMs?: number;
}

export class NodeCollector {
  private readonly finder: PodCgroupFinder;
  private readonly now: () => number;

  constructor(private readonly options: NodeCollectorOptions) {
    this.now = options.now ?? Date.now;
    this.finder = new PodCgroupFinder(options.hierarchy, {
      now: this.now,
      ...(options.rescanMs === undefined ? {} : { rescanMs: options.rescanMs }),
    });
  }

  async collect(pods: readonly KnownPod[]): Promise<NodeReport> {
    const host = await readHost(this.options.proc, this.now);
    const cgroups = await this.finder.find();
    const report: NodeReport = {
      node: this.options.node,
      time: host.time,
      cgroupVersion: this.options.hierarchy.version,
      host,
      pods: [],
      podsWithoutCgroup: [],
      readErrors: [],
    };
    for (const pod of pods) {
      const cgroup = cgroups.get(pod.uid);
      if (!cgroup) {
        report.podsWithoutCgroup.push({ namespace: pod.namespace, name: pod.name, uid: pod.uid });
        continue;
      }
      report.pods.push(await this.readPod(pod, cgroup, host.bootTime, report));
    }
    return report;
  }

  private async readPod(
    pod: KnownPod,
    cgroup: PodCgroup,
    bootTime: number,
    report: NodeReport,
  ): Promise<PodStats> {
    const names = new Map<string, string>();
    for (const c of pod.containers) {
      const id = containerIdOfStatus(c.containerID);
      if (id) names.set(id, c.name);
    }
    const containers: ContainerStats[] = [];
    let netnsPid: number | undefined;
    await Promise.all(
      [...cgroup.containers.values()].map(async (c) => {
        const name = names.get(c.id);
        try {
          const readStart = this.now();
          const reading = await readCgroup(
            this.options.hierarchy.version,
            c.paths,
            this.options.proc.ticksPerSecond,
          );
          const time = this.now();
          const processes = await summarizeProcesses(
            this.options.proc,
            reading.pids,
            bootTime,
            this.options.topProcesses,
          );
          // Any process of the pod is in its network namespace; the sandbox's (unnamed) is the surest.
          if (reading.pids[0] !== undefined && (netnsPid === undefined || name === undefined))
            netnsPid = reading.pids[0];
          const stats: ContainerStats = { id: c.id, readStart, time, processes };
          if (name !== undefined) stats.name = name;
          if (reading.cpu) stats.cpu = reading.cpu;
          if (reading.memory) stats.memory = reading.memory;
          if (reading.blockIo) stats.blockIo = reading.blockIo;
          containers.push(stats);
        } catch (err) {
          report.readErrors.push({
            namespace: pod.namespace,
            name: pod.name,
            container: name ?? c.id,
            message: err instanceof Error ? err.message : String(err),
          });
        }
      }),
    );
    containers.sort((a, b) => (a.name ?? '\uffff' + a.id).localeCompare(b.name ?? '\uffff' + b.id));
    const out: PodStats = {
      namespace: pod.namespace,
      name: pod.name,
      uid: pod.uid,
      qos: cgroup.qos,
      cgroupDriver: cgroup.driver,
      time: this.now(),
      containers,
    };
    if (!pod.hostNetwork && netnsPid !== undefined) {
      const interfaces = await readNetDevOf(this.options.proc.procRoot, netnsPid);
      out.time = this.now();
      if (interfaces) out.network = podNetwork(interfaces);
    }
    return out;
  }
}
