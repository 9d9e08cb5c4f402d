import { afterEach, describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../operator/logging.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { AlertmanagerNotifier } from '../../../operator/alerting/notifiers/alertmanager.js';
import {
  NotificationDispatcher,
  type DispatcherOptions,
} from '../../../operator/alerting/notifiers/dispatcher.js';
import {
  firingNotifications,
  toNotification,
  type Notification,
  type Notifier,
} from '../../../operator/alerting/notifiers/notification.js';
import { WebhookNotifier } from '../../../operator/alerting/notifiers/webhook.js';
import { cpuSeries, lastState, rule, runCycles } from './fixtures.js';
import { eventually, startReceiver, type Receiver } from './receiver.js';

const ALERT = 'shop/web-hot';
const r = rule({ for: 1, recoverAfter: 1 });
const steps = runCycles(r, cpuSeries([900, 500]));
const fired = toNotification(r, steps[0]!.transitions[0]!);
const resolved = toNotification(r, steps[1]!.transitions[0]!);
const FAST: Partial<DispatcherOptions> = { initialBackoffMs: 5, maxBackoffMs: 20, jitter: 0 };

const receivers: Receiver[] = [];
const dispatchers: NotificationDispatcher[] = [];
afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.close(1_000)));
  await Promise.all(receivers.splice(0).map((rc) => rc.close()));
});

async function receiver(respond?: (n: number) => number): Promise<Receiver> {
  const rc = await startReceiver(respond);
  receivers.push(rc);
  return rc;
}

function dispatcher(options: Partial<DispatcherOptions> = FAST) {
  const metrics = new OperatorMetrics();
  const changes: string[] = [];
  const d = new NotificationDispatcher(
    { metrics, logger: silentLogger(), random: () => 0.5, onFailureChange: (alert) => changes.push(alert) },
    options,
  );
  dispatchers.push(d);
  return { d, metrics, changes };
}

async function count(counter: OperatorMetrics['notificationsSent'], notifier: string): Promise<number> {
  return (await counter.get()).values.find((v) => v.labels.notifier === notifier)?.value ?? 0;
}

/** A notifier whose deliveries wait until released (or aborted). */
function heldNotifier(name = 'held') {
  const sent: Notification[] = [];
  let release: () => void = () => {};
  let gate = new Promise<void>((resolve) => (release = resolve));
  const notifier: Notifier = {
    name,
    send: (n, signal) =>
      new Promise<void>((resolve, reject) => {
        signal.addEventListener('abort', () => reject(new Error('aborted')));
        void gate.then(() => {
          sent.push(n);
          resolve();
        });
      }),
  };
  return {
    notifier,
    sent,
    open: () => {
      release();
      gate = Promise.resolve();
    },
  };
}

const transitions = (rc: Receiver) =>
  rc.requests.map((req) => (req.body as { transition: string }).transition);

describe('NotificationDispatcher', () => {
  it('delivers to a receiver that fails and then recovers, after retries', async () => {
    const rc = await receiver((n) => (n < 2 ? 503 : 200));
    const { d, metrics } = dispatcher();
    d.configure(ALERT, [new WebhookNotifier({ url: rc.url })]);
    d.enqueue(fired);
    await eventually(() => d.pending() === 0);
    expect(transitions(rc)).toEqual(['fired', 'fired', 'fired']);
    expect(await count(metrics.notificationsSent, 'webhook')).toBe(1);
    expect(await count(metrics.notificationFailures, 'webhook')).toBe(2);
    expect(d.failures(ALERT)).toEqual([]);
  });

  it('shows a receiver that never recovers in the failure state, and clears it when deliveries succeed again', async () => {
    let down = true;
    const rc = await receiver(() => (down ? 503 : 200));
    const { d, metrics, changes } = dispatcher({ ...FAST, maxAttempts: 4 });
    d.configure(ALERT, [new WebhookNotifier({ url: `${rc.url}/services/T000/s3cret-path` })]);
    d.enqueue(fired);
    await eventually(() => d.failures(ALERT).length > 0);
    expect(rc.requests).toHaveLength(4);
    // The condition names the class of failure only: never the URL (paths often embed a secret) nor the receiver's text.
    expect(d.failures(ALERT)).toEqual([
      {
        notifier: 'webhook',
        failing: true,
        failedNotifications: 1,
        lastError: 'fired notification not delivered after 4 attempt(s): HTTP 503',
        lastErrorClass: 'HTTP 503',
        lastFailureTime: expect.any(Number),
      },
    ]);
    expect(await count(metrics.notificationFailures, 'webhook')).toBe(4);
    expect(changes).toEqual([ALERT]);

    down = false;
    d.enqueue(resolved);
    await eventually(() => d.failures(ALERT)[0]?.failing === false);
    expect(changes).toEqual([ALERT, ALERT]);
    expect(d.failures(ALERT)[0]?.failedNotifications).toBe(1);
  });

  it('does not retry what the receiver rejected as invalid', async () => {
    const rc = await receiver(() => 400);
    const { d } = dispatcher();
    d.configure(ALERT, [new WebhookNotifier({ url: rc.url })]);
    d.enqueue(fired);
    await eventually(() => d.failures(ALERT).length > 0);
    expect(rc.requests).toHaveLength(1);
    expect(d.failures(ALERT)[0]?.lastError).toMatch(/after 1 attempt\(s\): .*HTTP 400/);
  });

  it('sends nothing for an alert that was never configured (or was removed)', () => {
    const held = heldNotifier();
    const { d } = dispatcher();
    d.configure(ALERT, [held.notifier]);
    d.remove(ALERT);
    d.enqueue(fired);
    expect(d.pending()).toBe(0);
    expect(d.failures(ALERT)).toEqual([]);
  });

  it('returns at once from enqueue while the receiver is slow', () => {
    const held = heldNotifier();
    const { d } = dispatcher();
    d.configure(ALERT, [held.notifier]);
    d.enqueue(fired);
    d.enqueue(resolved);
    expect(d.pending()).toBe(2);
    expect(held.sent).toEqual([]);
    held.open();
  });

  it('never lets a resolution overtake its firing, while another receiver is served meanwhile', async () => {
    const webhook = await receiver((n) => (n < 2 ? 503 : 200));
    const alertmanager = await receiver();
    const { d } = dispatcher({ ...FAST, initialBackoffMs: 50 });
    d.configure(ALERT, [
      new WebhookNotifier({ url: webhook.url }),
      new AlertmanagerNotifier({ targets: { urls: [alertmanager.url] } }),
    ]);
    d.enqueue(fired);
    d.enqueue(resolved);
    await eventually(() => alertmanager.requests.length === 2);
    expect(webhook.requests.length).toBeLessThan(4);
    await eventually(() => d.pending() === 0);
    expect(transitions(webhook)).toEqual(['fired', 'fired', 'fired', 'resolved']);
  });

  it('drops what exceeds maxPending and counts it as a failure', async () => {
    const held = heldNotifier();
    const { d, metrics } = dispatcher({ ...FAST, maxPending: 2 });
    d.configure(ALERT, [held.notifier]);
    for (let i = 0; i < 4; i += 1) d.enqueue(fired); // one in flight, two waiting, one dropped
    expect(d.pending()).toBe(3);
    expect(d.failures(ALERT)).toEqual([
      expect.objectContaining({
        notifier: 'held',
        failing: true,
        failedNotifications: 1,
        lastError: expect.stringMatching(/^dropped: 2 notifications already waiting/),
      }),
    ]);
    expect(await count(metrics.notificationFailures, 'held')).toBe(1);
    held.open();
    await eventually(() => held.sent.length === 3);
  });

  it('re-sends firing alerts to Alertmanager periodically, and stops once resolved', async () => {
    const am = await receiver();
    const { d } = dispatcher({ ...FAST, resendIntervalMs: 20 });
    d.configure(ALERT, [new AlertmanagerNotifier({ targets: { urls: [am.url] } })]);
    const other: Notification = {
      ...fired,
      target: { namespace: 'shop', pod: 'web-other', container: 'app' },
    };
    d.enqueue(fired);
    d.enqueue(other);
    const alertsIn = (n: number) => am.requests[n]?.body as { labels: { pod: string }; endsAt: string }[];
    const pods = (n: number) =>
      alertsIn(n)
        .map((a) => a.labels.pod)
        .sort();
    await eventually(() => am.requests.length >= 3);
    expect(pods(2)).toEqual(['web-7d9f', 'web-other']);
    d.enqueue(resolved);
    const resolution = new Date(resolved.endsAt!).toISOString();
    const resolvedAt = () => am.requests.findIndex((_, n) => alertsIn(n)[0]?.endsAt === resolution);
    await eventually(() => resolvedAt() >= 0 && am.requests.length >= resolvedAt() + 3);
    for (let n = resolvedAt() + 1; n < am.requests.length; n += 1) expect(pods(n)).toEqual(['web-other']);
  });

  it('re-sends what setFiring restored after a restart', async () => {
    const am = await receiver();
    const { d } = dispatcher({ ...FAST, resendIntervalMs: 20 });
    d.configure(ALERT, [new AlertmanagerNotifier({ targets: { urls: [am.url] } })]);
    d.setFiring(ALERT, firingNotifications(r, lastState(steps.slice(0, 1))));
    await eventually(() => am.requests.length >= 1);
    expect(am.requests[0]?.body).toEqual([
      expect.objectContaining({ labels: expect.objectContaining({ pod: 'web-7d9f', metric: 'cpu' }) }),
    ]);
  });

  it('on close, retries waiting deliveries at once and reports what it could not deliver by the deadline', async () => {
    const rc = await receiver((n) => (n === 0 ? 503 : 200));
    const { d } = dispatcher({ ...FAST, initialBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 });
    d.configure(ALERT, [new WebhookNotifier({ url: rc.url })]);
    d.enqueue(fired);
    await eventually(() => rc.requests.length === 1 && d.pending() === 1);
    expect(await d.close(5_000)).toEqual({ undelivered: 0 });
    expect(rc.requests).toHaveLength(2);

    const held = heldNotifier();
    const second = dispatcher();
    second.d.configure(ALERT, [held.notifier]);
    second.d.enqueue(fired);
    second.d.enqueue(resolved);
    expect(await second.d.close(20)).toEqual({ undelivered: 2 });
    expect(second.d.failures(ALERT)[0]).toMatchObject({ failing: true, failedNotifications: 2 });
    second.d.enqueue(fired);
    expect(second.d.failures(ALERT)[0]?.lastError).toBe('dropped: the dispatcher is closed');
  });
});

describe('NotificationDispatcher fairness', () => {
  const inNamespace = (n: Notification, namespace: string, i: number): Notification => ({
    ...n,
    alert: `${namespace}/alert-${i}`,
    target: { ...n.target, namespace, pod: `pod-${i}` },
  });

  it('serves a healthy namespace while another one holds its whole share with a receiver that hangs', async () => {
    const hung = heldNotifier('webhook');
    const healthy = await receiver();
    const { d } = dispatcher({ ...FAST, concurrency: 4, concurrencyPerNamespace: 2 });
    for (let i = 0; i < 50; i++) {
      d.configure(`starving/alert-${i}`, [hung.notifier]);
      d.enqueue(inNamespace(fired, 'starving', i));
    }
    d.configure('healthy/alert-0', [new WebhookNotifier({ url: healthy.url })]);
    d.enqueue(inNamespace(fired, 'healthy', 0));
    await eventually(() => healthy.requests.length === 1);
    expect(hung.sent).toEqual([]);
    hung.open();
  });

  it('drops what exceeds a namespace quota, for that namespace only', async () => {
    const held = heldNotifier('webhook');
    const { d } = dispatcher({ ...FAST, maxPendingPerNamespace: 3, concurrencyPerNamespace: 1 });
    for (let i = 0; i < 5; i++) {
      d.configure(`greedy/alert-${i}`, [held.notifier]);
      d.enqueue(inNamespace(fired, 'greedy', i)); // 1 in flight, 3 waiting, 1 dropped
    }
    d.configure('other/alert-0', [held.notifier]);
    d.enqueue(inNamespace(fired, 'other', 0));
    expect(d.failures('greedy/alert-4')).toEqual([
      expect.objectContaining({
        failing: true,
        lastErrorClass: 'dropped',
        lastError: expect.stringContaining('of namespace greedy already waiting (the per-namespace quota)'),
      }),
    ]);
    expect(d.failures('other/alert-0')).toEqual([]);
    held.open();
    await eventually(() => held.sent.length === 5);
  });

  it('opens the circuit of a receiver after consecutive failures, and tries it again after the cool-down', async () => {
    let now = 1_000_000;
    const rc = await receiver(() => 503);
    const metrics = new OperatorMetrics();
    const d = new NotificationDispatcher(
      { metrics, logger: silentLogger(), clock: { now: () => now }, random: () => 0.5 },
      { ...FAST, maxAttempts: 3, breakerThreshold: 4, breakerCooldownMs: 60_000 },
    );
    dispatchers.push(d);
    d.configure(ALERT, [new WebhookNotifier({ url: rc.url })]);
    d.enqueue(fired); // 3 attempts
    d.enqueue(resolved); // 1 attempt opens the circuit; 2 more fail at once, without a request
    await eventually(() => d.pending() === 0);
    expect(rc.requests).toHaveLength(4);
    expect(d.failures(ALERT)[0]).toMatchObject({
      lastErrorClass: 'circuit open',
      lastError: expect.stringContaining('circuit open: the receiver failed 4 times in a row'),
    });
    now += 60_001;
    rc.respond = () => 200;
    d.enqueue(fired);
    await eventually(() => d.pending() === 0);
    expect(rc.requests).toHaveLength(5);
    expect(d.failures(ALERT)[0]?.failing).toBe(false);
  });

  it('delivers Events while every HTTP worker waits on a receiver that hangs', async () => {
    const hung = heldNotifier('webhook');
    const events: string[] = [];
    const eventsNotifier: Notifier = {
      name: 'events',
      lane: 'local',
      send: (n) => {
        events.push(n.alert);
        return Promise.resolve();
      },
    };
    const { d } = dispatcher({ ...FAST, concurrency: 1, concurrencyPerNamespace: 1 });
    d.configure(ALERT, [hung.notifier, eventsNotifier]);
    d.enqueue(fired);
    await eventually(() => events.length === 1);
    expect(hung.sent).toEqual([]);
    hung.open();
  });
});

describe('evaluation to receiver', () => {
  it('delivers each transition exactly once', async () => {
    const rc = await receiver();
    const { d } = dispatcher();
    d.configure(ALERT, [new WebhookNotifier({ url: rc.url })]);
    const flapping = rule({ for: 2, recoverAfter: 2 });
    const run = runCycles(flapping, cpuSeries([900, 500, 900, 900, 900, 500, 900, 500, 500, 900, 500, 500]));
    for (const t of run.flatMap((s) => s.transitions)) if (t.notify) d.enqueue(toNotification(flapping, t));
    await eventually(() => d.pending() === 0);
    expect(transitions(rc)).toEqual(['fired', 'resolved']);
  });
});
