import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { AlertmanagerNotifier } from '../../../operator/alerting/notifiers/alertmanager.js';
import { EventsNotifier, type EventObjectRef } from '../../../operator/alerting/notifiers/events.js';
import {
  DeliveryError,
  toNotification,
  type Notification,
} from '../../../operator/alerting/notifiers/notification.js';
import { WebhookNotifier, type SecretReader } from '../../../operator/alerting/notifiers/webhook.js';
import { INTERVAL, T0, cpuSeries, rule, runCycles } from './fixtures.js';
import { startReceiver, type Receiver } from './receiver.js';
import { FakeTimers } from '../runtime/fake-timers.js';

const r = rule({
  for: 1,
  recoverAfter: 1,
  cpu: { kind: 'percent', percent: 80, of: 'limit' },
  severity: 'critical',
});
const steps = runCycles(r, cpuSeries([910, 500], { cpuLimitMillicores: 1000 }));
const fired = toNotification(r, steps[0]!.transitions[0]!);
const resolved = toNotification(r, steps[1]!.transitions[0]!);
const signal = new AbortController().signal;
const NOW = T0 + 2 * INTERVAL;
const clock = new FakeTimers(NOW);

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('toNotification', () => {
  it('carries what a receiver needs to route and to read', () => {
    expect(fired).toEqual({
      alert: 'shop/web-hot',
      policy: 'shop/web',
      transition: 'fired',
      target: { namespace: 'shop', pod: 'web-7d9f', container: 'app' },
      metric: 'cpu',
      value: 910,
      threshold: 800,
      startsAt: T0,
      severity: 'critical',
      message: 'web-7d9f/app cpu 910m > 800m (80% of limit 1) for 1 consecutive samples',
    });
    expect(resolved).toMatchObject({ transition: 'resolved', startsAt: T0, endsAt: T0 + INTERVAL });
    expect(resolved.message).toBe(
      'web-7d9f/app cpu resolved after 1 healthy samples, 500m <= 800m (80% of limit 1) (firing since 2026-11-21T10:00:00Z)',
    );
  });
});

describe('AlertmanagerNotifier', () => {
  it('posts firing alerts to /api/v2/alerts with identifying labels and an endsAt ahead', async () => {
    receiver = await startReceiver();
    const notifier = new AlertmanagerNotifier({
      targets: { urls: [`${receiver.url}/`] },
      clock,
      activeForMs: 240_000,
    });
    await notifier.send(fired, signal);
    expect(receiver.requests).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: '/api/v2/alerts',
        body: [
          {
            labels: {
              alertname: 'web-hot',
              resourcealert: 'shop/web-hot',
              namespace: 'shop',
              pod: 'web-7d9f',
              container: 'app',
              metric: 'cpu',
              severity: 'critical',
              policy: 'shop/web',
            },
            annotations: {
              summary: 'cpu above threshold (ResourceAlert shop/web-hot)',
              description: fired.message,
            },
            startsAt: '2026-11-21T10:00:00Z',
            endsAt: new Date(NOW + 240_000).toISOString(),
          },
        ],
      }),
    ]);
    expect(receiver.requests[0]?.headers['content-type']).toBe('application/json');
  });

  it('resolves with endsAt at the resolution, under the same labels', async () => {
    receiver = await startReceiver();
    const notifier = new AlertmanagerNotifier({ targets: { urls: [receiver.url] }, clock });
    await notifier.send(fired, signal);
    await notifier.send(resolved, signal);
    const [first, second] = receiver.requests.map(
      (req) => (req.body as { labels: unknown; endsAt: string }[])[0],
    );
    expect(second?.labels).toEqual(first?.labels);
    expect(second?.endsAt).toBe(new Date(T0 + INTERVAL).toISOString());
  });

  it('re-sends all firing alerts in one request', async () => {
    receiver = await startReceiver();
    const other: Notification = {
      ...fired,
      target: { namespace: 'shop', pod: 'web-abcd', container: 'app' },
    };
    await new AlertmanagerNotifier({ targets: { urls: [receiver.url] }, clock }).resend(
      [fired, other],
      signal,
    );
    expect((receiver.requests[0]?.body as unknown[]).length).toBe(2);
  });

  it('fails with a retryable error on 5xx and a final one on 400', async () => {
    receiver = await startReceiver((n) => (n === 0 ? 503 : 400));
    const notifier = new AlertmanagerNotifier({ targets: { urls: [receiver.url] }, clock });
    const first = notifier.send(fired, signal);
    // The class of failure only, never the receiver's text.
    await expect(first).rejects.toThrow(/^HTTP 503$/);
    await expect(first).rejects.toMatchObject({ retryable: true, failureClass: 'HTTP 503' });
    await expect(notifier.send(fired, signal)).rejects.toMatchObject({ retryable: false });
  });

  it('fails with a retryable error when nothing listens', async () => {
    receiver = await startReceiver();
    const url = receiver.url;
    await receiver.close();
    receiver = undefined;
    const error = await new AlertmanagerNotifier({ targets: { urls: [url] }, clock })
      .send(fired, signal)
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ retryable: true });
    expect((error as Error).message).toBe('connection refused');
  });
});

describe('WebhookNotifier', () => {
  it('gives up on a receiver that does not answer within the timeout, retryably', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const error = await new WebhookNotifier({ url, timeoutMs: 50 })
        .send(fired, signal)
        .catch((err: unknown) => err);
      expect(error).toMatchObject({ retryable: true });
      expect((error as Error).message).toBe('timeout');
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  const secrets = (token: string): SecretReader & { reads: string[] } => {
    const reads: string[] = [];
    return {
      reads,
      read: (namespace, name, key) => {
        reads.push(`${namespace}/${name}#${key}`);
        return Promise.resolve(token);
      },
    };
  };

  it('posts the JSON payload with the bearer token read from the Secret', async () => {
    receiver = await startReceiver();
    const reader = secrets('s3cret\n');
    const notifier = new WebhookNotifier({
      url: `${receiver.url}/usage`,
      token: { secrets: reader, ref: { namespace: 'shop', name: 'hook', key: 'token' } },
    });
    await notifier.send(fired, signal);
    expect(reader.reads).toEqual(['shop/hook#token']);
    const [req] = receiver.requests;
    expect(req?.path).toBe('/usage');
    expect(req?.headers.authorization).toBe('Bearer s3cret');
    expect(req?.body).toEqual({
      version: 'v1',
      alert: { namespace: 'shop', name: 'web-hot' },
      policy: 'shop/web',
      transition: 'fired',
      severity: 'critical',
      target: { namespace: 'shop', pod: 'web-7d9f', container: 'app' },
      metric: 'cpu',
      unit: 'millicores',
      value: 910,
      threshold: 800,
      valueText: '910m',
      thresholdText: '800m',
      startsAt: '2026-11-21T10:00:00Z',
      message: fired.message,
    });
  });

  it('sends no Authorization header without a token', async () => {
    receiver = await startReceiver();
    await new WebhookNotifier({ url: receiver.url }).send(resolved, signal);
    expect(receiver.requests[0]?.headers.authorization).toBeUndefined();
    expect(receiver.requests[0]?.body).toMatchObject({
      transition: 'resolved',
      endsAt: '2026-11-21T10:00:30Z',
    });
  });

  it('says the same whatever is wrong with the token Secret, and sends nothing', async () => {
    receiver = await startReceiver();
    const notifier = new WebhookNotifier({
      url: receiver.url,
      token: {
        secrets: { read: () => Promise.reject(new Error('secrets "hook" not found')) },
        ref: { namespace: 'shop', name: 'hook', key: 'token' },
      },
    });
    await expect(notifier.send(fired, signal)).rejects.toThrow(
      'spec.notify.webhook.secretRef: key "token" of Secret "hook" cannot be used: the Secret must exist in this namespace, have that key, and carry the label usage.kubeusage.dev/notification-secret=true',
    );
    expect(receiver.requests).toEqual([]);
  });
});

describe('EventsNotifier', () => {
  it('records a Warning when firing and a Normal event when resolved, on the ResourceAlert', async () => {
    const recorded: string[] = [];
    const ref: EventObjectRef = {
      apiVersion: 'usage.kubeusage.dev/v1alpha1',
      kind: 'ResourceAlert',
      namespace: 'shop',
      name: 'web-hot',
      uid: 'u1',
    };
    const notifier = new EventsNotifier(
      {
        record: (on, type, reason, message) => {
          recorded.push(`${on.name} ${type} ${reason}: ${message}`);
        },
      },
      ref,
    );
    await notifier.send(fired);
    await notifier.send(resolved);
    expect(recorded).toEqual([
      `web-hot Warning AlertFiring: ${fired.message}`,
      `web-hot Normal AlertResolved: ${resolved.message}`,
    ]);
  });
});
