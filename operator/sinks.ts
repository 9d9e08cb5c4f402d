/**
 * Where each collection cycle goes: the alert evaluator first (in memory, so alerts do not
 * wait on the store), then the store, then the live event stream and per-target gauges.
 */
import type { CycleSink } from './collector/collector.js';
import type { EventBus } from './http/event-bus.js';
import type { OperatorMetrics } from './metrics.js';
import type { CollectionCycle, ObjectKey } from './model.js';
import type { SampleWriter } from './store/types.js';

export interface CycleSinkDeps {
  alerts: CycleSink;
  store: SampleWriter;
  events: EventBus;
  metrics: Pick<OperatorMetrics, 'containerCpu' | 'containerMemory'>;
  perTargetMetrics: boolean;
  /** Registers what to do when a policy is gone (its per-target series are removed). */
  onPolicyGone?: (forget: (policy: ObjectKey) => void) => void;
}

export function cycleSinks(deps: CycleSinkDeps): CycleSink[] {
  const sinks: CycleSink[] = [deps.alerts, storeSink(deps.store), new SnapshotPublisher(deps.events)];
  if (deps.perTargetMetrics) {
    const gauges = new TargetGauges(deps.metrics);
    deps.onPolicyGone?.((policy) => gauges.forget(policy));
    sinks.push(gauges);
  }
  return sinks;
}

function storeSink(writer: SampleWriter): CycleSink {
  return {
    async onCycle(cycle) {
      await writer.write(cycle.samples);
    },
  };
}

/** Publishes each sample to the live stream, only while someone listens. */
class SnapshotPublisher implements CycleSink {
  constructor(private readonly events: EventBus) {}

  onCycle(cycle: CollectionCycle): void {
    if (this.events.subscribers === 0) return;
    for (const s of cycle.samples) {
      this.events.publish({
        type: 'snapshot',
        namespace: s.namespace,
        pod: s.pod,
        container: s.container,
        time: s.time,
        cpuMillicores: s.cpuMillicores,
        memoryBytes: s.memoryBytes,
      });
    }
  }
}

/** Per-container gauges (opt-in: one series per container); series of vanished containers are removed. */
class TargetGauges implements CycleSink {
  private readonly series = new Map<ObjectKey, Set<string>>();

  constructor(private readonly metrics: Pick<OperatorMetrics, 'containerCpu' | 'containerMemory'>) {}

  onCycle(cycle: CollectionCycle): void {
    const seen = new Set<string>();
    for (const s of cycle.samples) {
      const labels = { namespace: s.namespace, pod: s.pod, container: s.container };
      seen.add(JSON.stringify(labels));
      if (s.cpuMillicores !== null) this.metrics.containerCpu.set(labels, s.cpuMillicores);
      if (s.memoryBytes !== null) this.metrics.containerMemory.set(labels, s.memoryBytes);
    }
    for (const gone of this.series.get(cycle.policy) ?? []) {
      if (seen.has(gone)) continue;
      const labels = JSON.parse(gone) as Record<string, string>;
      this.metrics.containerCpu.remove(labels);
      this.metrics.containerMemory.remove(labels);
    }
    this.series.set(cycle.policy, seen);
  }

  /** Removes every series of a policy that is gone. */
  forget(policy: ObjectKey): void {
    for (const gone of this.series.get(policy) ?? []) {
      const labels = JSON.parse(gone) as Record<string, string>;
      this.metrics.containerCpu.remove(labels);
      this.metrics.containerMemory.remove(labels);
    }
    this.series.delete(policy);
  }
}
