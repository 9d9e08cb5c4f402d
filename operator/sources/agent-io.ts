/**
 * Joins the node agents' I/O counters to the samples the collector writes (issue 16): a writer
 * in front of the store's that gives each sample of a container the agent reports the counters'
 * increments since the agent reading last joined to that series, over the span between the two
 * agent readings' own timestamps (store/io-counters.ts integrates and splits it).
 *
 * - Block I/O is per container (its cgroup's counters).
 * - Network is per pod (one network namespace): it is attributed to one series of the pod, the
 *   container whose name sorts first among those the agent reports, and to no other, so a pod's
 *   and a namespace's totals count it once.
 * - A reading newer than the sample waits for the next sample (a span never ends after the
 *   reading it is stored with). A counter lower than before was reset and counts from zero.
 * - The first agent reading of a series (and the first after the operator starts) is the base
 *   only: I/O before it is not accounted (the counters' totals are kept in the raw readings).
 */
import type { ContainerSample } from '../model.js';
import type { SampleWriter, WriteOutcome } from '../store/types.js';
import { ioIncrements, type IoValues } from '../store/io-counters.js';
import type { ContainerStats, PodStats } from '../../agent/types.js';
import type { AgentView } from './agent-readings.js';

interface Base {
  time: number;
  totals: IoValues;
}

/** The cumulative I/O counters of a container as the agent reports them (network when attributed to it). */
export function ioTotalsOf(pod: PodStats, container: ContainerStats): IoValues {
  const totals: IoValues = {};
  if (container.blockIo) {
    totals.blockReadBytes = container.blockIo.readBytes;
    totals.blockWriteBytes = container.blockIo.writeBytes;
    totals.blockReadOps = container.blockIo.readOps;
    totals.blockWriteOps = container.blockIo.writeOps;
  }
  if (pod.network && networkCarrier(pod) === container.name) {
    const n = pod.network;
    totals.networkRxBytes = n.rxBytes;
    totals.networkRxPackets = n.rxPackets;
    totals.networkRxErrors = n.rxErrors;
    totals.networkRxDrops = n.rxDrops;
    totals.networkTxBytes = n.txBytes;
    totals.networkTxPackets = n.txPackets;
    totals.networkTxErrors = n.txErrors;
    totals.networkTxDrops = n.txDrops;
  }
  return totals;
}

/** The container whose series carries the pod's network: the first by name. */
export function networkCarrier(pod: PodStats): string | undefined {
  const names = pod.containers.map((c) => c.name).filter((n): n is string => n !== undefined);
  return names.sort()[0];
}

const STALE_BASE_MS = 3_600_000;

export class AgentIoJoiner {
  private readonly bases = new Map<string, Base>();

  constructor(private readonly agents: () => AgentView | undefined) {}

  /** The samples, those of containers an agent reports given their I/O since the last join. */
  join(samples: readonly ContainerSample[]): ContainerSample[] {
    const agents = this.agents();
    if (!agents) return [...samples];
    this.prune(samples);
    return samples.map((sample) => {
      if (sample.podUid === undefined) return sample;
      const found = agents.pod(sample.namespace, sample.pod);
      if ('absent' in found || found.pod.uid !== sample.podUid) return sample;
      const container = found.pod.containers.find((c) => c.name === sample.container);
      if (!container || container.time > sample.time) return sample;
      const key = `${sample.podUid}/${sample.container}`;
      const totals = ioTotalsOf(found.pod, container);
      const base = this.bases.get(key);
      if (base !== undefined && container.time <= base.time) return sample;
      this.bases.set(key, { time: container.time, totals });
      if (base === undefined) return sample;
      return {
        ...sample,
        io: { from: base.time, to: container.time, inc: ioIncrements(base.totals, totals), totals },
      };
    });
  }

  /** Bases not joined for an hour (pods that are gone) are forgotten. */
  private prune(samples: readonly ContainerSample[]): void {
    let now = -Infinity;
    for (const s of samples) if (s.time > now) now = s.time;
    for (const [key, base] of this.bases) if (base.time < now - STALE_BASE_MS) this.bases.delete(key);
  }

  get series(): number {
    return this.bases.size;
  }
}

/** The store's writer with the agents' I/O joined to each sample. */
export class AgentIoWriter implements SampleWriter {
  constructor(
    private readonly writer: SampleWriter,
    private readonly joiner: AgentIoJoiner,
  ) {}

  write(samples: ContainerSample[]): Promise<WriteOutcome> {
    return this.writer.write(this.joiner.join(samples));
  }
}
