/** The agent's own Prometheus metrics: how its reads go and what it costs (process_* metrics). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly reads: Counter<'result'>;
  readonly readDuration: Histogram;
  readonly pods: Gauge<'state'>;
  readonly readErrors: Counter;
  readonly requests: Counter<'path' | 'code'>;

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'kube_usage_agent_' });
    const registers = [this.registry];
    this.reads = new Counter({
      name: 'kube_usage_agent_reads_total',
      help: 'Reads of the node (cgroups, /proc), by result',
      labelNames: ['result'],
      registers,
    });
    this.readDuration = new Histogram({
      name: 'kube_usage_agent_read_duration_seconds',
      help: 'How long one read of the node took',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.pods = new Gauge({
      name: 'kube_usage_agent_pods',
      help: 'Pods of the node in the last read: state=read (cgroup found) or without_cgroup',
      labelNames: ['state'],
      registers,
    });
    this.readErrors = new Counter({
      name: 'kube_usage_agent_read_errors_total',
      help: 'Container cgroups whose files could not be parsed',
      registers,
    });
    this.requests = new Counter({
      name: 'kube_usage_agent_http_requests_total',
      help: 'HTTP requests by path and status code',
      labelNames: ['path', 'code'],
      registers,
    });
  }
}
