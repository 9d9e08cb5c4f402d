/**
 * Joins the node agents' I/O counters to the samples the collector writes: a writer
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
 * - A leadership term continues each series from the counters of its last stored reading with
 *   I/O (the raw readings keep the totals), asked for the first time the term meets the series,
 *   so a failover loses no I/O and a replica leading again does not count the other's again.
 *   While the store cannot answer, the series' I/O waits (at the third failed lookup it starts
 *   without a base). A series without a stored base starts at its first agent reading: I/O
 *   before it is not accounted.
 */
import { containerSeriesKey, type ContainerSample } from '../../model.js';
import type { Logger } from '../../logging.js';
import { silentLogger } from '../../logging.js';
import type { SampleWriter, WriteOutcome } from '../../store/types.js';
import { ioIncrements, type IoBase, type IoValues } from '../../store/io-counters.js';
import { SeriesSeeding, type BaseSource } from '../../collector/series-seeding.js';
import type { ContainerStats, PodStats } from '../../../agent/types.js';
import type { AgentView } from './agent-readings.js';

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

export interface AgentIoJoinerOptions {
  /** Where a term's series continue from (the store's last readings with I/O); none: from the agents' next reading. */
  bases?: BaseSource<IoBase>;
  logger?: Logger;
}

export class AgentIoJoiner {
  private readonly bases = new Map<string, IoBase>();
  private readonly seeding: SeriesSeeding<IoBase>;

  constructor(
    private readonly agents: () => AgentView | undefined,
    options: AgentIoJoinerOptions = {},
  ) {
    const seeded = {
      has: (key: string) => this.bases.has(key),
      // A base the agents gave in this term is newer than the store's.
      seed: (key: string, base: IoBase) => {
        if (!this.bases.has(key)) this.bases.set(key, base);
      },
    };
    this.seeding = new SeriesSeeding(seeded, options.bases, {
      what: 'I/O',
      logger: options.logger ?? silentLogger(),
    });
  }

  /** A new leadership term: every series continues from the store's last reading again. */
  beginTerm(): void {
    this.bases.clear();
    this.seeding.reset();
  }

  /** Reads the stored bases of the series of `samples` new this term; resolves those not ready (their I/O waits). */
  prepare(samples: readonly ContainerSample[]): Promise<Set<string>> {
    const agents = this.agents();
    if (!agents) return Promise.resolve(new Set());
    const keys = new Set<string>();
    for (const sample of samples)
      if (reported(agents, sample)) keys.add(containerSeriesKey(sample.podUid!, sample.container));
    return this.seeding.prepare(keys);
  }

  /**
   * The samples, those of containers an agent reports given their I/O since the last join;
   * those of `notReady` series unchanged (their base is not known yet).
   */
  join(samples: readonly ContainerSample[], notReady: ReadonlySet<string> = new Set()): ContainerSample[] {
    const agents = this.agents();
    if (!agents) return [...samples];
    this.prune(samples);
    return samples.map((sample) => {
      const found = reported(agents, sample);
      if (!found || found.container.time > sample.time) return sample;
      const key = containerSeriesKey(sample.podUid!, sample.container);
      if (notReady.has(key)) return sample;
      const { pod, container } = found;
      const totals = ioTotalsOf(pod, container);
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
    let pruned = false;
    for (const [key, base] of this.bases)
      if (base.time < now - STALE_BASE_MS) {
        this.bases.delete(key);
        pruned = true;
      }
    if (!pruned) return;
    const live = new Set([...this.bases.keys()].map((key) => key.slice(0, key.lastIndexOf('/'))));
    for (const s of samples) if (s.podUid !== undefined) live.add(s.podUid);
    this.seeding.prune((uid) => live.has(uid));
  }

  get series(): number {
    return this.bases.size;
  }
}

/** The agent's pod and container of a sample, when an agent reports that container of that pod. */
function reported(
  agents: AgentView,
  sample: ContainerSample,
): { pod: PodStats; container: ContainerStats } | undefined {
  if (sample.podUid === undefined) return undefined;
  const found = agents.pod(sample.namespace, sample.pod);
  if ('absent' in found || found.pod.uid !== sample.podUid) return undefined;
  const container = found.pod.containers.find((c) => c.name === sample.container);
  return container && { pod: found.pod, container };
}

/** The store's writer with the agents' I/O joined to each sample. */
export class AgentIoWriter implements SampleWriter {
  constructor(
    private readonly writer: SampleWriter,
    private readonly joiner: AgentIoJoiner,
  ) {}

  async write(samples: ContainerSample[]): Promise<WriteOutcome> {
    const notReady = await this.joiner.prepare(samples);
    return this.writer.write(this.joiner.join(samples, notReady));
  }
}
