/**
 * The agents' latest readings, kept in memory on every replica for the API: a loop reads every
 * node's agent each interval and keeps, per node, the newest report and the outcome of the last
 * attempt. A node whose agent stops answering keeps its last report until it is older than
 * `maxAgeMs`, then it has none; the API then says which fields are absent and why.
 */
import { sleep, type Timers } from '../../runtime/clock.js';
import { errorMessage, type Logger } from '../../logging.js';
import type { NodeReport, PodStats } from '../../../agent/types.js';
import type { AgentBatch, AgentSource } from './agent-source.js';
import type { UnreadableNode } from '../readings.js';

/** What the API asks of the agents' readings (a fake in unit tests). */
export interface AgentView {
  /** The node's latest report (at most maxAge old), or why there is none. */
  node(name: string): { report: NodeReport } | { absent: string };
  /** The pod's latest reading on whatever node reported it, or why there is none. */
  pod(namespace: string, name: string): { report: NodeReport; pod: PodStats } | { absent: string };
}

export interface AgentReadingsOptions {
  source: Pick<AgentSource, 'read'>;
  timers: Timers;
  logger: Logger;
  /** Between the starts of two reads, ms. Default 15 s. */
  intervalMs?: number;
  /** A report older than this is dropped, ms. Default 3 intervals. */
  maxAgeMs?: number;
  /** Called after each read, for metrics. */
  onRead?: (batch: AgentBatch) => void;
}

interface NodeState {
  report?: NodeReport;
  /** Why the last attempt gave no report. */
  failure?: UnreadableNode;
}

export class AgentReadings implements AgentView {
  private readonly nodes = new Map<string, NodeState>();
  /** namespace/name -> node of the newest report naming the pod. */
  private readonly podNodes = new Map<string, string>();
  private readonly intervalMs: number;
  private readonly maxAgeMs: number;
  private loop: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private lastError = '';
  private lastAbsent = '';
  /** When a read last completed (ms), undefined before the first. */
  lastReadAt: number | undefined;

  constructor(private readonly options: AgentReadingsOptions) {
    this.intervalMs = options.intervalMs ?? 15_000;
    this.maxAgeMs = options.maxAgeMs ?? 3 * this.intervalMs;
  }

  /** One read of every agent, folded into the latest readings. */
  async refresh(signal?: AbortSignal): Promise<AgentBatch> {
    const batch = await this.options.source.read(signal ? { signal } : {});
    this.apply(batch);
    return batch;
  }

  /** Folds a batch in (exposed for tests). */
  apply(batch: AgentBatch): void {
    const seen = new Set<string>();
    for (const result of batch.nodes) {
      seen.add(result.node);
      const state = this.nodes.get(result.node) ?? {};
      if (result.report) {
        for (const pod of state.report?.pods ?? []) {
          const key = `${pod.namespace}/${pod.name}`;
          if (this.podNodes.get(key) === result.node) this.podNodes.delete(key);
        }
        state.report = result.report;
        delete state.failure;
        for (const pod of result.report.pods) this.podNodes.set(`${pod.namespace}/${pod.name}`, result.node);
      } else if (result.failure) state.failure = result.failure;
      this.nodes.set(result.node, state);
    }
    // Nodes that are gone from the cluster are forgotten.
    for (const name of [...this.nodes.keys()]) if (!seen.has(name)) this.forget(name);
    this.lastReadAt = this.options.timers.now();
    this.options.onRead?.(batch);
    const absent = JSON.stringify(batch.absent.map((a) => [a.node, a.reason]));
    if (absent !== this.lastAbsent && batch.absent.length > 0)
      this.options.logger.warn('some nodes have no agent reading', {
        nodes: batch.absent.map((a) => ({ node: a.node, reason: a.reason, detail: a.detail })),
      });
    this.lastAbsent = absent;
  }

  private forget(name: string): void {
    for (const pod of this.nodes.get(name)?.report?.pods ?? []) {
      const key = `${pod.namespace}/${pod.name}`;
      if (this.podNodes.get(key) === name) this.podNodes.delete(key);
    }
    this.nodes.delete(name);
  }

  private fresh(report: NodeReport | undefined): report is NodeReport {
    return report !== undefined && this.options.timers.now() - report.time <= this.maxAgeMs;
  }

  node(name: string): { report: NodeReport } | { absent: string } {
    const state = this.nodes.get(name);
    if (this.fresh(state?.report)) return { report: state.report };
    if (state?.failure)
      return {
        absent: `the agent of the node "${name}" could not be read: ${state.failure.reason}${
          state.failure.detail ? ` (${state.failure.detail})` : ''
        }`,
      };
    if (state?.report)
      return {
        absent: `the last reading of the agent of the node "${name}" is older than ${this.maxAgeMs} ms`,
      };
    if (this.lastReadAt === undefined) return { absent: 'the agents have not been read yet' };
    return { absent: `no agent reading for the node "${name}"` };
  }

  pod(namespace: string, name: string): { report: NodeReport; pod: PodStats } | { absent: string } {
    const node = this.podNodes.get(`${namespace}/${name}`);
    if (node === undefined) {
      if (this.lastReadAt === undefined) return { absent: 'the agents have not been read yet' };
      return { absent: `no agent reports the pod "${namespace}/${name}"` };
    }
    const found = this.node(node);
    if ('absent' in found) return found;
    const pod = found.report.pods.find((p) => p.namespace === namespace && p.name === name);
    if (!pod) return { absent: `no agent reports the pod "${namespace}/${name}"` };
    return { report: found.report, pod };
  }

  /** Reads every interval until stop(); a failed read is logged (once per distinct error). */
  start(): void {
    if (this.loop) return;
    const abort = new AbortController();
    this.abort = abort;
    this.loop = (async () => {
      while (!abort.signal.aborted) {
        const started = this.options.timers.now();
        try {
          await this.refresh(abort.signal);
          this.lastError = '';
        } catch (err) {
          const message = errorMessage(err);
          if (message !== this.lastError && !abort.signal.aborted)
            this.options.logger.warn('reading the agents failed', { error: message });
          this.lastError = message;
        }
        const elapsed = this.options.timers.now() - started;
        await sleep(this.options.timers, Math.max(0, this.intervalMs - elapsed), abort.signal);
      }
    })();
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
  }
}
