/**
 * What every builder of the operator shares: the config, logger, clocks, metrics and API
 * clients, and the parts several concerns use (the event bus the HTTP API streams, the
 * Kubernetes Event recorder, the status writers and the controllers' options).
 */
import { CONDITIONS } from '../../api/v1alpha1/conditions.js';
import { API_GROUP, API_VERSION_NAME } from '../../api/v1alpha1/schema-helpers.js';
import type { OperatorConfig } from '../../operator/config.js';
import { EventBus } from '../../operator/http/event-bus.js';
import type { Logger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { systemTimers, type Timers } from '../../operator/runtime/clock.js';
import { EventRecorder } from '../../operator/runtime/event-recorder.js';
import { KubeClients, loadKubeConfig } from '../../operator/runtime/kube.js';
import { StatusWriter } from '../../operator/runtime/status-writer.js';

export interface OperatorBase {
  config: OperatorConfig;
  logger: Logger;
  timers: Timers;
  metrics: OperatorMetrics;
  clients: KubeClients;
  /** Alert transitions and collection cycles, for the HTTP API's event stream. */
  events: EventBus;
  /** Kubernetes Events on the objects the operator acts on. */
  recorder: EventRecorder;
  /** The status writer of one of the operator's kinds (it owns that kind's conditions). */
  statusWriter(plural: string, kind: keyof typeof CONDITIONS): StatusWriter;
  controllerOptions: { workers: number; logger: Logger; metrics: OperatorMetrics };
}

export function buildBase(config: OperatorConfig, logger: Logger): OperatorBase {
  const metrics = new OperatorMetrics({ defaultMetrics: true });
  const clients = new KubeClients(loadKubeConfig(config.kubeconfig));
  return {
    config,
    logger,
    timers: systemTimers,
    metrics,
    clients,
    events: new EventBus(logger.child({ component: 'event-bus' })),
    recorder: new EventRecorder({
      sink: clients.eventSink(),
      component: 'kube-usage-operator',
      instance: config.identity,
      logger: logger.child({ component: 'events' }),
    }),
    statusWriter: (plural, kind) =>
      new StatusWriter(clients.statusPatcher({ group: API_GROUP, version: API_VERSION_NAME, plural }), {
        ownedConditionTypes: Object.keys(CONDITIONS[kind]),
      }),
    controllerOptions: { workers: config.workers, logger, metrics },
  };
}
