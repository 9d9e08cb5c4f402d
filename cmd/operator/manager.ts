/**
 * The Manager of the operator's lifecycle (operator/runtime/manager.ts): it syncs the caches,
 * competes for the lease when leader election is enabled, and starts and stops the runnables
 * of every replica and of each leadership term.
 */
import type { OperatorConfig } from '../../operator/config.js';
import { Manager } from '../../operator/runtime/manager.js';
import type { OperatorBase } from './base.js';

/** How a graceful shutdown's time is shared: most for ending the term, some for the lease. */
function shutdownBudget(config: OperatorConfig): { termStopTimeoutMs: number; releaseTimeoutMs: number } {
  const total = config.shutdownTimeoutMs;
  return {
    termStopTimeoutMs: Math.floor(total * 0.5),
    releaseTimeoutMs: Math.min(config.leaderElection.renewDeadlineMs, Math.floor(total * 0.2)),
  };
}

export function buildManager({ config, logger, timers, metrics, clients }: OperatorBase): Manager {
  const election = config.leaderElection;
  return new Manager({
    logger,
    timers,
    metrics,
    ...shutdownBudget(config),
    ...(election.enabled && {
      leaderElection: {
        identity: config.identity,
        lease: clients.leaseClient(config.namespace, election.leaseName),
        leaseDurationMs: election.leaseDurationMs,
        renewDeadlineMs: election.renewDeadlineMs,
        retryPeriodMs: election.retryPeriodMs,
      },
    }),
  });
}
