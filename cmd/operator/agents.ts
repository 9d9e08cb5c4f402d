/**
 * The node agents' latest readings, on every replica (they feed the API and the I/O joined to
 * collection); none when the agents are not enabled.
 */
import { AgentReaderRunnable } from '../../operator/sources/agent/agent-reader-runnable.js';
import { AgentReadings } from '../../operator/sources/agent/agent-readings.js';
import { createAgentSource } from '../../operator/sources/agent/kubernetes-agent.js';
import type { OperatorBase } from './base.js';

export interface AgentParts {
  readings: AgentReadings;
  reader: AgentReaderRunnable;
}

export function buildAgents({
  config,
  logger,
  timers,
  metrics,
  clients,
}: OperatorBase): AgentParts | undefined {
  if (!config.agents.enabled) return undefined;
  const source = createAgentSource(clients.config, {
    port: config.agents.port,
    timeoutMs: config.agents.timeoutMs,
    tls: {
      ...(config.agents.caFile === undefined ? {} : { caFile: config.agents.caFile }),
      insecureSkipTLSVerify: config.agents.insecureSkipTLSVerify,
    },
  });
  const readings = new AgentReadings({
    source,
    timers,
    intervalMs: config.agents.intervalMs,
    logger: logger.child({ component: 'agents' }),
    onRead: (batch) => {
      metrics.agentNodes.set({ state: 'read' }, batch.reports.length);
      metrics.agentNodes.set({ state: 'absent' }, batch.absent.length);
      for (const n of batch.nodes) metrics.agentReadDuration.observe(n.durationMs / 1000);
    },
  });
  return { readings, reader: new AgentReaderRunnable(readings, source) };
}
