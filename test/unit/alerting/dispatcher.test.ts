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
import { FakeTimers } from '../runtime/fake-timers.js';
import { cpuSeries, lastState, rule, runCycles } from './fixtures.js';
import { eventually, startReceiver, type Receiver } from './receiver.js';

// Every dispatcher here runs on a fake clock: backoff, re-sends, cool-downs and the close
// deadline move only when a test advances it; receivers are real HTTP servers on 127.0.0.1,
// waited for by polling what they received.

const ALERT = 'shop/web-hot';
const r = rule({ for: 1, recoverAfter: 1 });
const steps = runCycles(r, cpuSeries([900, 500]));
const fired = toNotification(r, steps[0]!.transitions[0]!);
const resolved = toNotification(r, steps[1]!.transitions[0]!);
const RETRY: Partial<DispatcherOptions> = { initialBackoffMs: 1_000, maxBackoffMs: 4_000, jitter: 0 };

const receivers: Receiver[] = [];
const dispatchers: { d: NotificationDispatcher; timers: FakeTimers }[] = [];
afterEach(async () => {
  await Promise.all(
    dispatchers.splice(0).map(async ({ d, timers }) => {
      const closed = d.close(1_000);
      await timers.advance(1_000);
      await closed;
    }),
  );
  await Promise.all(receivers.splice(0).map((rc) => rc.close()));
});

async function receiver(respond?: (n: number) => number): Promise<Receiver> {
  const rc = await startReceiver(respond);
  receivers.push(rc);
  return rc;
}

function dispatcher(options: Partial<DispatcherOptions> = RETRY) {
  const metrics = new OperatorMetrics();
  const changes: string[] = [];
  const timers = new FakeTimers();
  const d = new NotificationDispatcher(
    {
      metrics,
      logger: silentLogger(),
      timers,
      random: () => 0.5,
      onFailureChange: (alert) => changes.push(alert),
    },
    options,
  );
  dispatchers.push({ d, timers });
  return { d, metrics, changes, timers };
}

/**
 * Runs until `done`: waits (polling, real time) while deliveries are being sent, and whenever
 * only a timer can make progress moves the fake clock to it. Returns the fake time it took.
 */
async function runUntil(
  d: NotificationDispatcher,
  timers: FakeTimers,
  done: () => boolean,
  limitMs = 3_600_000,
): Promise<number> {
  const start = timers.now();
  for (;;) {
    await eventually(() => done() || d.sending() === 0);
    if (done()) return timers.now() - start;
    if ((await timers.advanceToNext()) === undefined || timers.now() - start > limitMs)
      throw new Error(`not done after ${timers.now() - start} ms of fake time`);
  }
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
  it('delivers to a receiver that fails and then recovers, retrying after 1 s and then 2 s', async () => {
    const rc = await receiver((n) => (n < 2 ? 503 : 200));
    const { d, metrics, timers } = dispatcher();
    d.configure(ALERT, [new WebhookNotifier({ url: rc.url })]);
    d.enqueue(fired);
    await eventually(() => rc.requests.length === 1 && d.sending() === 0);
    // Nothing is sent again before the backoff is over (only the fake clock could start it).
    await timers.advance(999);
    expect(rc.requests).toHaveLength(1);
    await timers.advance(1);
    await eventually(() => rc.requests.length === 2 && d.sending() === 0);
    await timers.advance(1_999);
    expect(rc.requests).toHaveLength(2);
    await timers.advance(1);
    await eventually(() => d.pending() === 0);
    expect(transitions(rc)).toEqual(['fired', 'fired', 'fired']);
    expect(await count(metrics.notificationsSent, 'webhook')).toBe(1);
    expect(await count(metrics.notificationFailures, 'webhook')).toBe(2);
    expect(d.failures(ALERT)).toEqual([]);
  });

  it('shows a receiver that never recovers in the failure state, and clears it when deliveries succeed again', async () => {
    let down = true;
    const rc = await receiver(() => (down ? 503 : 200));
    const { d, metrics, changes, timers } = dispatcher({ ...RETRY, maxAttempts: 4 });
    d.configure(ALERT, [new WebhookNotifier({ url: `${rc.url}/services/T000/s3cret-path` })]);
    d.enqueue(fired);
    // 4 attempts: backoffs of 1, 2 and 4 s between them.
    expect(await runUntil(d, timers, () => d.failures(ALERT).length > 0)).toBe(7_000);
    expect(rc.requests).toHaveLength(4);
    // The condition names the class of failure only: never the URL (paths often embed a secret) nor the receiver's text.
    expect(d.failures(ALERT)).toEqual([
      {
        notifier: 'webhook',
        failing: true,
        failedNotifications: 1,
        lastError: 'fired notification not delivered after 4 attempt(s): HTTP 503',
        lastErrorClass: 'HTTP 503',
        lastFailureTime: timers.now(),
      },
    ]);
    expect(await count(metrics.notificationFailures, 'webhook')).toBe(4);
    expect(changes).toEqual([ALERT]);

    down = false;
    d.enqueue(resolved);
    expect(await runUntil(d, timers, () => d.failures(ALERT)[0]?.failing === false)).toBe(0);
    expect(changes).toEqual([ALERT, ALERT]);
    expect(d.failures(ALERT)[0]?.failedNotifications).toBe(1);
  });

  it('does not retry what the receiver rejected as invalid', async () => {
    const rc = await receiver(() => 400);
    const { d, timers } = dispatcher();
    d.configure(ALERT, [new WebhookNotifier({ url: rc.url })]);
    d.enqueue(fired);
    await eventually(() => d.failures(ALERT).length > 0);
    await timers.advance(60_000);
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
    const { d, timers } = dispatcher();
    d.configure(ALERT, [
      new WebhookNotifier({ url: webhook.url }),
      new AlertmanagerNotifier({ targets: { urls: [alertmanager.url] } }),
    ]);
    d.enqueue(fired);
    d.enqueue(resolved);
    // Alertmanager gets both while the webhook's firing waits for its retry (the clock stands still).
    await eventually(() => alertmanager.requests.length === 2 && d.sending() === 0);
    expect(transitions(webhook)).toEqual(['fired']);
    await runUntil(d, timers, () => d.pending() === 0);
    expect(transitions(webhook)).toEqual(['fired', 'fired', 'fired', 'resolved']);
  });

  it('drops what exceeds maxPending and counts it as a failure', async () => {
    const held = heldNotifier();
    const { d, metrics } = dispatcher({ ...RETRY, maxPending: 2 });
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
    const { d, timers } = dispatcher({ ...RETRY, resendIntervalMs: 60_000 });
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
    await eventually(() => am.requests.length === 2 && d.pending() === 0);
    // The first re-send comes a full interval later, with both firing alerts.
    await timers.advance(59_999);
    expect(am.requests).toHaveLength(2);
    await timers.advance(1);
    await eventually(() => am.requests.length === 3 && d.pending() === 0);
    expect(pods(2)).toEqual(['web-7d9f', 'web-other']);
    d.enqueue(resolved);
    await eventually(() => am.requests.length === 4 && d.pending() === 0);
    expect(alertsIn(3)[0]?.endsAt).toBe(new Date(resolved.endsAt!).toISOString());
    // Later re-sends carry the one still firing.
    for (const n of [4, 5]) {
      await timers.advance(60_000);
      await eventually(() => am.requests.length === n + 1 && d.pending() === 0);
      expect(pods(n)).toEqual(['web-other']);
    }
  });

  it('re-sends what setFiring restored after a restart', async () => {
    const am = await receiver();
    const { d, timers } = dispatcher({ ...RETRY, resendIntervalMs: 60_000 });
    d.configure(ALERT, [new AlertmanagerNotifier({ targets: { urls: [am.url] } })]);
    d.setFiring(ALERT, firingNotifications(r, lastState(steps.slice(0, 1))));
    await timers.advance(60_000);
    await eventually(() => am.requests.length === 1);
    expect(am.requests[0]?.body).toEqual([
      expect.objectContaining({ labels: expect.objectContaining({ pod: 'web-7d9f', metric: 'cpu' }) }),
    ]);
  });

  it('on close, retries waiting deliveries at once and reports what it could not deliver by the deadline', async () => {
    const rc = await receiver((n) => (n === 0 ? 503 : 200));
    const { d } = dispatcher({ ...RETRY, initialBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 });
    d.configure(ALERT, [new WebhookNotifier({ url: rc.url })]);
    d.enqueue(fired);
    await eventually(() => rc.requests.length === 1 && d.pending() === 1 && d.sending() === 0);
    // The retry goes out at once, long before the backoff (and the clock does not move).
    expect(await d.close(5_000)).toEqual({ undelivered: 0 });
    expect(rc.requests).toHaveLength(2);

    const held = heldNotifier();
    const second = dispatcher();
    second.d.configure(ALERT, [held.notifier]);
    second.d.enqueue(fired);
    second.d.enqueue(resolved);
    const closed = second.d.close(20);
    await second.timers.advance(20);
    expect(await closed).toEqual({ undelivered: 2 });
    expect(second.d.failures(ALERT)[0]).toMatchObject({ failing: true, failedNotifications: 2 });
    second.d.enqueue(fired);
    expect(second.d.failures(ALERT)[0]?.lastError).toBe('dropped: the dispatcher is closed');
  });
});

describe('NotificationDispatcher onSettled', () => {
  it('is called once, when every notifier has delivered or given up', async () => {
    const ok = await receiver();
    const refusing = await receiver(() => 503);
    const { d, timers } = dispatcher({ ...RETRY, maxAttempts: 2 });
    d.configure(ALERT, [
      new WebhookNotifier({ url: ok.url }),
      new AlertmanagerNotifier({ targets: { urls: [refusing.url] } }),
    ]);
    let settled = 0;
    d.enqueue(fired, () => (settled += 1));
    await eventually(() => ok.requests.length === 1 && refusing.requests.length === 1 && d.sending() === 0);
    expect(settled).toBe(0); // Alertmanager's retry is still owed
    expect(await runUntil(d, timers, () => settled > 0)).toBe(1_000);
    expect(refusing.requests).toHaveLength(2);
    expect(settled).toBe(1);
  });

  it('is not called for what close() leaves undelivered (owed to the next term)', async () => {
    const held = heldNotifier();
    const { d, timers } = dispatcher();
    d.configure(ALERT, [held.notifier]);
    const settled: string[] = [];
    d.enqueue(fired, () => settled.push('fired'));
    d.enqueue(resolved, () => settled.push('resolved'));
    const closed = d.close(1_000);
    await timers.advance(1_000);
    expect(await closed).toEqual({ undelivered: 2 });
    expect(settled).toEqual([]);
  });

  it('is called at once for an alert without notifiers', () => {
    const { d } = dispatcher();
    let settled = 0;
    d.configure(ALERT, []);
    d.enqueue(fired, () => (settled += 1));
    d.remove(ALERT);
    d.enqueue(fired, () => (settled += 1));
    expect(settled).toBe(2);
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
    const { d } = dispatcher({ ...RETRY, concurrency: 4, concurrencyPerNamespace: 2 });
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
    const { d } = dispatcher({ ...RETRY, maxPendingPerNamespace: 3, concurrencyPerNamespace: 1 });
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
    const rc = await receiver(() => 503);
    const { d, metrics, timers } = dispatcher({
      ...RETRY,
      maxAttempts: 3,
      breakerThreshold: 4,
      breakerCooldownMs: 60_000,
    });
    d.configure(ALERT, [new WebhookNotifier({ url: rc.url })]);
    d.enqueue(fired); // 3 attempts
    d.enqueue(resolved); // 1 attempt opens the circuit; 2 more fail at once, without a request
    // Backoffs: 1 + 2 s for the firing, 1 + 2 s for the resolution.
    expect(await runUntil(d, timers, () => d.pending() === 0)).toBe(6_000);
    expect(rc.requests).toHaveLength(4);
    expect(d.failures(ALERT)[0]).toMatchObject({
      lastErrorClass: 'circuit open',
      lastError: expect.stringContaining('circuit open: the receiver failed 4 times in a row'),
    });
    expect(await count(metrics.notificationFailures, 'webhook')).toBe(6);
    // 1 ms before the cool-down (60 s from the failure that opened it, at 3 s) ends, the first
    // attempt fails at once without a request; its retry 1 s later is the trial, and succeeds.
    rc.respond = () => 200;
    await timers.advance(56_999);
    d.enqueue(fired);
    expect(await runUntil(d, timers, () => d.pending() === 0)).toBe(1_000);
    expect(await count(metrics.notificationFailures, 'webhook')).toBe(7);
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
    const { d } = dispatcher({ ...RETRY, concurrency: 1, concurrencyPerNamespace: 1 });
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
