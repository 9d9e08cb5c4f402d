/**
 * Collection, during a leadership term: the usage sources (the kubelets' resource endpoints,
 * metrics.k8s.io as fallback, the agents' I/O joined to their containers), the collector that
 * turns each policy's cycle into readings, and the scheduler that runs each policy's cycles.
 * A cycle goes to the alert pipeline first, then to the store and the event stream.
 */
import { PolicyCollector, type CycleSink, type NodeUsageSource } from '../../operator/collector/collector.js';
import { ScheduledCollection } from '../../operator/collector/scheduled-collection.js';
import { CollectionScheduler } from '../../operator/collector/schedule.js';
import type { SeriesBaseSource } from '../../operator/collector/series-cursors.js';
import type { OperatorConfig } from '../../operator/config.js';
import { keyOf } from '../../operator/runtime/controller.js';
import type { KubeClients } from '../../operator/runtime/kube.js';
import { cycleSinks } from '../../operator/sinks.js';
import { AgentIoJoiner, AgentIoWriter } from '../../operator/sources/agent/agent-io.js';
import { createKubeletSource } from '../../operator/sources/kubelet/kubernetes-kubelet.js';
import { KubernetesMetricsSource } from '../../operator/sources/metrics-api/kubernetes-metrics-api.js';
import type { UsageStore } from '../../operator/store/index.js';
import type { AgentParts } from './agents.js';
import type { OperatorBase } from './base.js';
import type { Caches } from './caches.js';
import type { OperatorOverrides } from './overrides.js';

export interface CollectionParts {
  collection: ScheduledCollection;
  /** Closes the kubelet source this builder opened (not one the overrides gave). */
  close(): void;
}

/** The primary usage source as configured: the kubelets' resource endpoints, or none (metrics.k8s.io only). */
function kubeletSource(
  config: OperatorConfig,
  kubeConfig: KubeClients['config'],
): (NodeUsageSource & { close(): void }) | undefined {
  if (config.usageSource.primary !== 'kubelet') return undefined;
  const { addressTypes, insecureSkipTLSVerify, caFile, timeoutMs } = config.usageSource.kubelet;
  return createKubeletSource(kubeConfig, {
    endpoint: { addressTypes },
    tls: { insecureSkipTLSVerify, ...(caFile !== undefined && { caFile }) },
    timeoutMs,
  });
}

export function buildCollection(
  { config, logger, timers, metrics, clients, events }: OperatorBase,
  parts: { store: UsageStore; caches: Caches; alerts: CycleSink; agents: AgentParts | undefined },
  overrides: Pick<OperatorOverrides, 'metricsSource' | 'kubeletSource'>,
): CollectionParts {
  const { store, caches } = parts;
  const scheduler = new CollectionScheduler({
    timers,
    metrics,
    logger: logger.child({ component: 'scheduler' }),
  });
  const ownKubelet =
    overrides.kubeletSource === undefined ? kubeletSource(config, clients.config) : undefined;
  const kubelet = overrides.kubeletSource === undefined ? ownKubelet : overrides.kubeletSource;
  // A new term's cursors continue each series from its last stored reading, and bill the containers
  // started after the store's newest reading from their start (no failover window lost).
  const bases: SeriesBaseSource = {
    latestReadings: (keys) => store.latestReadings(keys),
    lastReadingTime: () => store.lastReadingTime(),
  };
  // The agents' I/O continues from the store's last readings too (operator/sources/agent/agent-io.ts).
  const agentIo = new AgentIoJoiner(() => parts.agents?.readings, {
    bases: { latestReadings: (keys) => store.latestIoTotals(keys) },
    logger: logger.child({ component: 'agent-io' }),
  });
  const collector = new PolicyCollector({
    source: overrides.metricsSource ?? new KubernetesMetricsSource(clients.config),
    ...(kubelet && { kubelet }),
    seriesBases: bases,
    pods: caches.podIndex,
    namespaceUid: (name) => caches.namespaces.get(undefined, name)?.metadata?.uid,
    sinks: cycleSinks({
      alerts: parts.alerts,
      // The agents' I/O counters join the samples of the containers they report (operator/sources/agent/agent-io.ts).
      store: new AgentIoWriter(store.writer, agentIo),
      events,
      metrics,
      perTargetMetrics: config.perTargetMetrics,
      // A deleted policy's per-target series leave /metrics with it.
      onPolicyGone: (forget) => caches.policies.addHandlers({ onDelete: (policy) => forget(keyOf(policy)) }),
    }),
    clock: timers,
    logger: logger.child({ component: 'collector' }),
    metrics,
    skippedCycles: (policy) => scheduler.skippedCycles(policy),
  });
  return {
    collection: new ScheduledCollection(scheduler, collector, [agentIo]),
    close: () => ownKubelet?.close(),
  };
}
