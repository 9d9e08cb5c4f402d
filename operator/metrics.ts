import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric the operator exports, created on one registry so that tests can
 * create a fresh set per operator instance. Components take the narrow part they use.
 */
export class OperatorMetrics {
  readonly registry: Registry;
  readonly collectionDuration: Histogram<'policy'>;
  readonly collectionsSkipped: Counter<'policy'>;
  readonly samplesCollected: Counter<'policy' | 'source'>;
  readonly readingsSkipped: Counter<'reason'>;
  readonly samplesWritten: Counter;
  readonly samplesBuffered: Gauge;
  readonly samplesDropped: Counter;
  readonly samplesMerged: Counter;
  readonly storeLatency: Histogram<'operation'>;
  readonly storeErrors: Counter<'operation'>;
  readonly alertsByState: Gauge<'state'>;
  readonly alertTransitions: Counter<'transition'>;
  readonly notificationsSent: Counter<'notifier'>;
  readonly notificationFailures: Counter<'notifier'>;
  readonly workQueueDepth: Gauge<'name'>;
  readonly workQueueAdds: Counter<'name'>;
  readonly workQueueRetries: Counter<'name'>;
  readonly reconcileDuration: Histogram<'controller'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly isLeader: Gauge;
  readonly containerCpu: Gauge<'namespace' | 'pod' | 'container'>;
  readonly containerMemory: Gauge<'namespace' | 'pod' | 'container'>;
  readonly tokenReviews: Counter<'result'>;
  readonly eventStreams: Gauge;
  readonly agentNodes: Gauge<'state'>;
  readonly agentReadDuration: Histogram;

  /** Removes the series of a policy that is gone (deleted), so that /metrics does not keep them forever. */
  async forgetPolicy(policy: string): Promise<void> {
    for (const metric of [this.collectionDuration, this.collectionsSkipped, this.samplesCollected] as const) {
      const values = (await metric.get()).values as { labels: Record<string, string | number> }[];
      const gone = values.filter((v) => v.labels.policy === policy).map((v) => JSON.stringify(v.labels));
      for (const labels of new Set(gone)) {
        const parsed = JSON.parse(labels) as Record<string, string>;
        // A histogram's values carry `le`; its series are keyed without it.
        delete parsed.le;
        (metric as { remove(labels: Record<string, string>): void }).remove(parsed);
      }
    }
  }

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [(this.registry = new Registry())];
    if (options.defaultMetrics)
      collectDefaultMetrics({ register: this.registry, prefix: 'kube_usage_operator_' });
    const p = 'kube_usage_';
    this.collectionDuration = new Histogram({
      name: `${p}collection_duration_seconds`,
      help: 'Duration of one collection cycle of a UsagePolicy.',
      labelNames: ['policy'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.collectionsSkipped = new Counter({
      name: `${p}collections_skipped_total`,
      help: 'Collection cycles skipped because the previous cycle of the same policy was still running.',
      labelNames: ['policy'],
      registers,
    });
    this.samplesCollected = new Counter({
      name: `${p}samples_collected_total`,
      help: 'Container samples produced by collection cycles, by metrics source.',
      labelNames: ['policy', 'source'],
      registers,
    });
    this.readingsSkipped = new Counter({
      name: `${p}readings_skipped_total`,
      help:
        'CPU counter readings not accounted because they cannot be true: counter-decrease (lower than ' +
        "the last with the same start time) or above-capacity (more than the node's CPU in the span).",
      labelNames: ['reason'],
      registers,
    });
    this.samplesWritten = new Counter({
      name: `${p}samples_written_total`,
      help: 'Container samples written to the store.',
      registers,
    });
    this.samplesBuffered = new Gauge({
      name: `${p}samples_buffered`,
      help: 'Samples waiting in memory for the store to come back.',
      registers,
    });
    this.samplesDropped = new Counter({
      name: `${p}samples_dropped_total`,
      help: 'Samples dropped because the outage buffer was full (oldest first).',
      registers,
    });
    this.samplesMerged = new Counter({
      name: `${p}samples_merged_total`,
      help: 'Buffered samples merged into the span of the next sample of their series because the outage buffer was full (usage kept, resolution lost).',
      registers,
    });
    this.storeLatency = new Histogram({
      name: `${p}store_operation_duration_seconds`,
      help: 'Latency of store operations.',
      labelNames: ['operation'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.storeErrors = new Counter({
      name: `${p}store_errors_total`,
      help: 'Failed store operations.',
      labelNames: ['operation'],
      registers,
    });
    this.alertsByState = new Gauge({
      name: `${p}alert_targets`,
      help: 'Alert targets by state (Normal, Pending, Firing, NoBasis).',
      labelNames: ['state'],
      registers,
    });
    this.alertTransitions = new Counter({
      name: `${p}alert_transitions_total`,
      help: 'Alert transitions (fired, resolved).',
      labelNames: ['transition'],
      registers,
    });
    this.notificationsSent = new Counter({
      name: `${p}notifications_sent_total`,
      help: 'Notifications delivered, by notifier.',
      labelNames: ['notifier'],
      registers,
    });
    this.notificationFailures = new Counter({
      name: `${p}notification_failures_total`,
      help: 'Failed notification attempts, by notifier.',
      labelNames: ['notifier'],
      registers,
    });
    // client-go's names and label, so that stock controller dashboards work unchanged.
    this.workQueueDepth = new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue.',
      labelNames: ['name'],
      registers,
    });
    this.workQueueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue.',
      labelNames: ['name'],
      registers,
    });
    this.workQueueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue.',
      labelNames: ['name'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: `${p}reconcile_duration_seconds`,
      help: 'Duration of one reconcile.',
      labelNames: ['controller'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: `${p}reconcile_errors_total`,
      help: 'Reconciles that failed.',
      labelNames: ['controller'],
      registers,
    });
    this.isLeader = new Gauge({
      name: `${p}leader`,
      help: '1 while this replica holds the leader lease.',
      registers,
    });
    this.containerCpu = new Gauge({
      name: `${p}container_cpu_millicores`,
      help: 'Latest CPU usage per container (only with --per-target-metrics).',
      labelNames: ['namespace', 'pod', 'container'],
      registers,
    });
    this.containerMemory = new Gauge({
      name: `${p}container_memory_bytes`,
      help: 'Latest memory working set per container (only with --per-target-metrics).',
      labelNames: ['namespace', 'pod', 'container'],
      registers,
    });
    this.tokenReviews = new Counter({
      name: `${p}http_token_reviews_total`,
      help: 'TokenReviews of API callers (authenticated, refused, error), and tokens not reviewed (rate-limited).',
      labelNames: ['result'],
      registers,
    });
    this.eventStreams = new Gauge({
      name: `${p}http_event_streams`,
      help: 'Open event streams (GET /api/v1/events).',
      registers,
    });
    this.agentNodes = new Gauge({
      name: `${p}agent_nodes`,
      help: 'Nodes whose agent the last read of the agents read (state=read) or could not (state=absent).',
      labelNames: ['state'],
      registers,
    });
    this.agentReadDuration = new Histogram({
      name: `${p}agent_read_duration_seconds`,
      help: "How long one node's agent read took.",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }
}
