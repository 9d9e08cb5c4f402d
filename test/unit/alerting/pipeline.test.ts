/**
 * The alert pipeline through its read interface, as the ResourceAlert reconcile uses it: a
 * collection cycle queues the alerts it evaluated; a status takes the transitions evaluated
 * since the last one, and they are announced only once a status that records them has been
 * written (one that failed to be written leaves them to the next).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ResourceAlert } from '../../../api/v1alpha1/resourcealert.js';
import { AlertPipeline } from '../../../operator/alerting/pipeline.js';
import { NotificationDispatcher } from '../../../operator/alerting/notifiers/dispatcher.js';
import { silentLogger } from '../../../operator/logging.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { waitFor } from '../../harness/wait.js';
import { FakeTimers } from '../runtime/fake-timers.js';
import { LIMITS, POLICY, sample } from './fixtures.js';

const KEY = 'shop/web-hot';

/** Events as the apiserver would take them. */
class RecordingEvents {
  readonly recorded: { reason: string; message: string }[] = [];
  async record(_object: unknown, _type: string, reason: string, message: string): Promise<void> {
    this.recorded.push({ reason, message });
  }
}

function alert(name: string, policy: string): ResourceAlert {
  return {
    apiVersion: 'usage.kubeusage.dev/v1alpha1',
    kind: 'ResourceAlert',
    metadata: { namespace: 'shop', name, uid: `u-${name}`, generation: 1 },
    spec: { policyRef: { name: policy }, cpu: { above: '800m' }, for: 1, recoverAfter: 1 },
  } as ResourceAlert;
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

function setup() {
  const clock = new FakeTimers();
  const metrics = new OperatorMetrics();
  const events = new RecordingEvents();
  const alerts = [alert('web-hot', 'web'), alert('db-hot', 'db')];
  const pipeline = new AlertPipeline({
    alerts: (ns) => alerts.filter((a) => a.metadata.namespace === ns),
    newDispatcher: (onFailureChange) =>
      new NotificationDispatcher({ metrics, logger: silentLogger(), timers: clock, onFailureChange }),
    events,
    secrets: { read: async () => 'token' },
    clock,
    logger: silentLogger(),
    metrics,
  });
  const changed: string[] = [];
  pipeline.onChange((key) => void changed.push(key));
  pipeline.startTerm();
  stops.push(() => pipeline.stopTerm());
  const cycle = (cpu: number) =>
    pipeline.onCycle({
      policy: POLICY,
      time: clock.now(),
      metricsSource: 'metrics.k8s.io',
      samples: [sample({ time: clock.now(), cpuMillicores: cpu })],
      podsWithoutMetrics: 0,
    });
  // The reconcile reads the alert before any cycle: its state starts here.
  expect(pipeline.evaluationOf(KEY, alerts[0]!)?.rule.policy).toBe(POLICY);
  return { pipeline, events, changed, cycle };
}

const delivered = (events: RecordingEvents, n: number) =>
  waitFor('the Events to be recorded', () => events.recorded.length >= n, {
    timeoutMs: 5_000,
    intervalMs: 1,
  });

describe('alert pipeline', () => {
  it("queues, after a cycle, exactly the alerts on the cycle's policy", () => {
    const { changed, cycle } = setup();
    cycle(100);
    expect(changed).toEqual([KEY]);
  });

  it('announces a firing only after a status recording it was written; a failed write leaves it to the next status', async () => {
    const { pipeline, events, cycle } = setup();
    cycle(900);

    const failed = pipeline.nextStatus(KEY, LIMITS)!;
    expect(failed.transitions.map((t) => t.kind)).toEqual(['fired']);
    // Owed until delivered: written as not notified.
    expect(failed.status.targets).toMatchObject([{ state: 'Firing', firingNotified: false }]);
    failed.notWritten();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.recorded).toEqual([]);

    const written = pipeline.nextStatus(KEY, LIMITS)!;
    expect(written.transitions.map((t) => t.kind)).toEqual(['fired']);
    expect(written.status.targets).toMatchObject([{ state: 'Firing', firingNotified: false }]);
    written.written();
    await delivered(events, 1);
    expect(events.recorded.map((e) => e.reason)).toEqual(['AlertFiring']);

    // Delivered: the next status shows it notified and records nothing new.
    const next = pipeline.nextStatus(KEY, LIMITS)!;
    expect(next.transitions).toEqual([]);
    expect(next.status.targets).toMatchObject([{ state: 'Firing', firingNotified: true }]);
  });

  it('keeps no state outside a term', async () => {
    const { pipeline, cycle } = setup();
    cycle(900);
    await pipeline.stopTerm();
    expect(pipeline.inTerm).toBe(false);
    expect(pipeline.nextStatus(KEY, LIMITS)).toBeUndefined();
  });
});
