/**
 * Right-sizing for the UsagePolicy status and Events (leader only): periodically, for the
 * namespace of every active policy, the recommendations (strategy vpa, 8 days) summed up as
 * the workloads furthest above and below them, handed to the policy's reconcile; and a Warning
 * Event on a pod whose container was OOM-killed at a memory limit below what its history
 * alone recommends (once per kill, across replicas and leadership terms: each kill is claimed in
 * the report ledger before its Event is recorded).
 */
import { formatTimestamp } from '../../api/timestamp.js';
import type { UsagePolicyStatus } from '../../api/v1alpha1/usagepolicy.js';
import { RIGHTSIZING_SUMMARY_ENTRIES } from '../../api/v1alpha1/usagepolicy.js';
import { errorMessage, type Logger } from '../logging.js';
import { objectRef, type ObjectKey } from '../model.js';
import type { Timers } from '../runtime/clock.js';
import { PeriodicPass } from '../runtime/periodic.js';
import type { EventType, InvolvedObject } from '../runtime/event-recorder.js';
import type { ReportLedger } from '../store/report-ledger.js';
import type { RecommendationItem, Recommender } from './recommender.js';

export type RightsizingStatus = NonNullable<UsagePolicyStatus['rightsizing']>;

const WINDOW_MS = 8 * 86_400_000;
/**
 * How long a reported kill stays claimed after the last pass that saw it on the pod's status
 * (each pass refreshes it): longer than any leadership handover, short enough to forget pods
 * long gone.
 */
export const REPORTED_KILL_KEEP_MS = 7 * 86_400_000;

/** Quantities as a request is written: whole millicores, MiB (rounded up). */
export const formatCpuMillicores = (m: number): string => `${Math.ceil(m - 1e-9)}m`;
export const formatMemoryBytes = (bytes: number): string => `${Math.ceil(bytes / 2 ** 20 - 1e-9)}Mi`;

export interface RightsizingLoopDeps {
  recommender: Pick<Recommender, 'recommend'>;
  /** The active policies. */
  policies: () => Iterable<ObjectKey>;
  events: { record(object: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> };
  /** Where reported kills are claimed, shared by every replica (the store's). */
  reports: ReportLedger;
  timers: Timers;
  logger: Logger;
  /** Between runs; default 10 min, the first after `firstRunMs` (default 30 s). */
  intervalMs?: number;
  firstRunMs?: number;
}

const quantity = (value: number | null, format: (v: number) => string) =>
  value === null ? 'none' : format(value);

function entryOf(
  item: RecommendationItem,
): RightsizingStatus['overProvisioned'] extends (infer E)[] | undefined ? E : never {
  return {
    workload: `${item.workload.kind}/${item.workload.name}`,
    container: item.container,
    cpu: `${quantity(item.cpu.request === null ? null : item.cpu.request * 1000, formatCpuMillicores)} -> ${formatCpuMillicores(item.cpu.target * 1000)}`,
    memory: `${quantity(item.memory.request, formatMemoryBytes)} -> ${formatMemoryBytes(item.memory.target)}`,
    costPerHour: item.cost.differencePerHourAllReplicas,
  };
}

/** The status summary of a namespace's recommendations. */
export function summarize(items: readonly RecommendationItem[], now: number): RightsizingStatus {
  const cost = (i: RecommendationItem) => i.cost.differencePerHourAllReplicas;
  const over = items.filter((i) => cost(i) < 0).sort((a, b) => cost(a) - cost(b));
  const under = items.filter((i) => cost(i) > 0).sort((a, b) => cost(b) - cost(a));
  return {
    lastUpdateTime: formatTimestamp(now),
    workloads: items.length,
    savingsPerHour: Math.round(-over.reduce((n, i) => n + cost(i), 0) * 1e6) / 1e6,
    overProvisioned: over.slice(0, RIGHTSIZING_SUMMARY_ENTRIES).map(entryOf),
    underProvisioned: under.slice(0, RIGHTSIZING_SUMMARY_ENTRIES).map(entryOf),
  };
}

export class RightsizingLoop {
  readonly name = 'rightsizing';
  readonly needsLeadership = true;
  private readonly summaries = new Map<ObjectKey, RightsizingStatus>();
  private readonly summaryListeners: ((policy: ObjectKey) => void)[] = [];

  private readonly periodic: PeriodicPass;

  constructor(private readonly deps: RightsizingLoopDeps) {
    this.periodic = new PeriodicPass(
      deps.timers,
      () => this.runOnce(),
      deps.firstRunMs ?? 30_000,
      deps.intervalMs ?? 600_000,
    );
  }

  /** The latest summary of a policy, for its status. */
  summary(policy: ObjectKey): RightsizingStatus | undefined {
    return this.summaries.get(policy);
  }

  /** Calls `listener` after each new summary of a policy (its reconcile shows it). */
  onSummary(listener: (policy: ObjectKey) => void): void {
    this.summaryListeners.push(listener);
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** One pass over the active policies' namespaces. */
  async runOnce(): Promise<void> {
    const now = this.deps.timers.now();
    const byNamespace = new Map<string, ObjectKey[]>();
    for (const key of this.deps.policies()) {
      const { namespace } = objectRef(key);
      byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), key]);
    }
    for (const key of this.summaries.keys())
      if (!byNamespace.get(objectRef(key).namespace)?.includes(key)) this.summaries.delete(key);
    await this.deps.reports
      .forgetExpired(now)
      .catch((err: unknown) =>
        this.deps.logger.warn('reported OOM kills not pruned', { error: errorMessage(err) }),
      );
    for (const [namespace, keys] of byNamespace) {
      let items: RecommendationItem[];
      try {
        items = await this.deps.recommender.recommend({
          namespace,
          from: now - WINDOW_MS,
          to: now,
          strategy: 'vpa',
        });
      } catch (err) {
        this.deps.logger.warn('right-sizing failed', { namespace, error: errorMessage(err) });
        continue;
      }
      const summary = summarize(items, now);
      for (const key of keys) {
        this.summaries.set(key, summary);
        for (const listener of this.summaryListeners) listener(key);
      }
      await this.reportOomKills(namespace, items, now);
    }
  }

  private async reportOomKills(
    namespace: string,
    items: readonly RecommendationItem[],
    now: number,
  ): Promise<void> {
    for (const item of items) {
      const { oom } = item;
      const limit = item.memory.limit;
      if (oom === undefined || limit === null || limit >= oom.targetWithoutKill) continue;
      for (const pod of oom.pods) {
        // One kill: the pod instance, the container and the time its previous run ended.
        const id = `oom/${namespace}/${pod.name}/${pod.uid}/${item.container}/${pod.finishedAt ?? ''}`;
        const context = { namespace, pod: pod.name, container: item.container };
        let claimed: boolean;
        try {
          claimed = await this.deps.reports.claim(id, now, REPORTED_KILL_KEEP_MS);
        } catch (err) {
          // The store is out: the next pass tries again.
          this.deps.logger.warn('OOM kill not reported: the report ledger is unavailable', {
            ...context,
            error: errorMessage(err),
          });
          return;
        }
        if (!claimed) continue;
        try {
          await this.deps.events.record(
            { apiVersion: 'v1', kind: 'Pod', namespace, name: pod.name, uid: pod.uid },
            'Warning',
            'OOMKilledBelowRecommendation',
            `container ${item.container} was OOM-killed at its memory limit ${formatMemoryBytes(limit)}, below the ` +
              `${formatMemoryBytes(oom.targetWithoutKill)} its history recommends (${item.workload.kind}/${item.workload.name}, ` +
              `strategy vpa); with the kill taken into account: ${formatMemoryBytes(item.memory.target)}`,
          );
        } catch (err) {
          this.deps.logger.warn('event not recorded; trying again next pass', {
            ...context,
            error: errorMessage(err),
          });
          await this.deps.reports.release(id).catch(() => undefined);
        }
      }
    }
  }
}
