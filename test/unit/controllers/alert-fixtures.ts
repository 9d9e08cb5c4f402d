/**
 * The ResourceAlert reconciler and the alert pipeline it reads, with fakes at their boundaries,
 * and operator "processes" (a pipeline and a reconciler in one term) that can be replaced.
 */
import type { ResourceAlert } from '../../../api/v1alpha1/resourcealert.js';
import type { UsagePolicy } from '../../../api/v1alpha1/usagepolicy.js';
import { ResourceAlertReconciler } from '../../../controllers/resourcealert/reconcile.js';
import { NotificationDispatcher } from '../../../operator/alerting/notifiers/dispatcher.js';
import { AlertPipeline } from '../../../operator/alerting/pipeline.js';
import { silentLogger } from '../../../operator/logging.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import type { CollectionCycle, ContainerSample } from '../../../operator/model.js';
import { StatusWriter } from '../../../operator/runtime/status-writer.js';
import { FakeTimers } from '../runtime/fake-timers.js';
import { ObjectStore, type StoredObject } from './fixtures.js';
import { CONDITION_OWNED_TYPES } from './owned.js';
import { alertsWithinQuota } from '../../../controllers/admin-bounds.js';

const signal = new AbortController().signal;
const validPolicy = { selector: { matchLabels: { app: 'web' } }, interval: '30s' };

const T0 = Date.parse('2026-11-21T10:00:00Z');

function sample(overrides: Partial<ContainerSample>): ContainerSample {
  return {
    time: T0,
    policy: 'shop/web',
    namespace: 'shop',
    pod: 'web-1',
    container: 'app',
    node: 'node-1',
    labels: [{ k: 'app', v: 'web' }],
    cpuMillicores: 100,
    memoryBytes: 100 * 2 ** 20,
    uptimeSeconds: 60,
    intervalSeconds: 30,
    ...overrides,
  };
}

function cycleAt(time: number, samples: ContainerSample[]): CollectionCycle {
  return {
    policy: 'shop/web',
    time,
    metricsSource: 'metrics.k8s.io',
    samples: samples.map((s) => ({ ...s, time })),
    podsWithoutMetrics: 0,
  };
}

/** Events as the apiserver would take them; `failing` makes every create fail. */
export class RecordingEvents {
  failing = false;
  readonly recorded: { reason: string; message: string }[] = [];
  async record(_object: unknown, _type: string, reason: string, message: string): Promise<void> {
    if (this.failing) throw new Error('events are forbidden');
    this.recorded.push({ reason, message });
  }
}

export const collectingPolicy: StoredObject = {
  metadata: { namespace: 'shop', name: 'web' },
  spec: validPolicy,
  status: {
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Collecting',
        message: 'collecting',
        lastTransitionTime: '2026-11-21T09:00:00Z',
      },
    ],
  },
};

/** One operator process in one term: its alert pipeline and the reconciler that reads it. */
export interface AlertProcess {
  pipeline: AlertPipeline;
  reconcile: ResourceAlertReconciler['reconcile'];
  stopTerm(): Promise<void>;
}

export function alertSetup(
  options: {
    secret?: () => Promise<string>;
    events?: RecordingEvents;
    onStatus?: (object: StoredObject | undefined) => void;
    maxAlertsPerNamespace?: number;
  } = {},
) {
  const clock = new FakeTimers(T0);
  const alerts = new ObjectStore<StoredObject>();
  const policies = new ObjectStore<StoredObject>();
  const events = options.events ?? new RecordingEvents();
  const metrics = new OperatorMetrics();
  const queued: string[] = [];
  const caches = {
    alert: (ns: string, name: string) => alerts.get(ns, name) as unknown as ResourceAlert | undefined,
    alerts: (ns?: string) => alerts.list(ns) as unknown as ResourceAlert[],
    policy: (ns: string, name: string) => policies.get(ns, name) as unknown as UsagePolicy | undefined,
  };
  const bounds =
    options.maxAlertsPerNamespace !== undefined
      ? { maxAlertsPerNamespace: options.maxAlertsPerNamespace }
      : undefined;
  const processes: AlertProcess[] = [];
  const status = new StatusWriter(alerts, {
    clock,
    ownedConditionTypes: CONDITION_OWNED_TYPES.ResourceAlert,
  });
  /** A fresh operator process (or term): no memory, resumes from the stored status. */
  const startProcess = (): AlertProcess => {
    const pipeline = new AlertPipeline({
      // As the operator wires it: alerts beyond their namespace's quota are not evaluated.
      alerts: (ns) => alertsWithinQuota(caches.alerts(ns), bounds),
      newDispatcher: (onFailureChange) =>
        new NotificationDispatcher(
          { metrics, logger: silentLogger(), timers: clock, onFailureChange },
          { maxAttempts: 1 },
        ),
      events,
      secrets: { read: options.secret ?? (async () => 'token') },
      clock,
      logger: silentLogger(),
      metrics,
    });
    pipeline.onChange((key) => void queued.push(key));
    const reconciler = new ResourceAlertReconciler({ caches, status, pipeline, ...(bounds && { bounds }) });
    pipeline.startTerm();
    const process = {
      pipeline,
      reconcile: reconciler.reconcile,
      stopTerm: () => pipeline.stopTerm(),
    };
    processes.push(process);
    return process;
  };
  const reconciler = startProcess();
  policies.put(collectingPolicy);
  const put = (spec: Record<string, unknown>) =>
    alerts.put({ metadata: { namespace: 'shop', name: 'web-hot', uid: 'u-1' }, spec });
  const reconcile = async (on = reconciler) => {
    await on.reconcile('shop/web-hot', signal);
    const object = alerts.get('shop', 'web-hot');
    options.onStatus?.(object);
    return object;
  };
  /** Evaluates one cycle per CPU value (millicores), 30 s apart, reconciling after each. */
  const cycles = async (cpu: number[], memoryMi: number[] = cpu.map(() => 100), on = reconciler) => {
    let object: StoredObject | undefined;
    for (let i = 0; i < cpu.length; i++) {
      await clock.advance(30_000);
      on.pipeline.onCycle(
        cycleAt(clock.now(), [sample({ cpuMillicores: cpu[i]!, memoryBytes: memoryMi[i]! * 2 ** 20 })]),
      );
      object = await reconcile(on);
    }
    return object;
  };
  const stopAll = () => Promise.all(processes.map((p) => p.stopTerm()));
  /** One cycle at `time` with one container at `cpu` millicores. */
  const cycle = (time: number, cpu: number) => cycleAt(time, [sample({ cpuMillicores: cpu })]);
  return {
    cycleAt: cycle,
    clock,
    alerts,
    policies,
    events,
    reconciler,
    startProcess,
    put,
    reconcile,
    cycles,
    stopAll,
    queued,
  };
}
