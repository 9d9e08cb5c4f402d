/** postJson against real receivers on 127.0.0.1: a capped read of the answer, no redirects, classes of error. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { DestinationPolicy } from '../../../operator/alerting/notifiers/destination-policy.js';
import { MAX_RESPONSE_BYTES, postJson } from '../../../operator/alerting/notifiers/http.js';
import {
  startHugeBodyReceiver,
  startRedirectingReceiver,
  startSilentReceiver,
  type HostileReceiver,
} from '../../harness/hostile-receivers.js';
import { waitFor } from '../../harness/wait.js';
import { FakeTimers } from '../runtime/fake-timers.js';
import { startReceiver } from './receiver.js';

const MB = 1024 * 1024;
const signal = new AbortController().signal;
const receivers: HostileReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});
async function keep(r: Promise<HostileReceiver>): Promise<HostileReceiver> {
  const receiver = await r;
  receivers.push(receiver);
  return receiver;
}

describe('postJson', () => {
  it('reads a few KiB of a 300 MB error body, closes the connection, and reports only the status', async () => {
    const huge = await keep(startHugeBodyReceiver(300 * MB, 500));
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    const error = await postJson(huge.url, { a: 1 }, { signal, timeoutMs: 30_000 }).catch(
      (err: unknown) => err,
    );
    const growth = process.memoryUsage().rss - rssBefore;
    process.stdout.write(
      `[http-post] 300 MB body: RSS growth ${(growth / MB).toFixed(1)} MB, heap growth ` +
        `${((process.memoryUsage().heapUsed - heapBefore) / MB).toFixed(1)} MB, ` +
        `${(huge.bytesWritten[0]! / MB).toFixed(2)} MB written by the receiver\n`,
    );
    expect(error).toMatchObject({ message: 'HTTP 500', failureClass: 'HTTP 500', retryable: true });
    // What the receiver managed to write once the client had closed the connection.
    await waitFor('the receiver to see the connection closed', () => huge.closedResponses === 1, {
      timeoutMs: 10_000,
      intervalMs: 5,
    });
    expect(huge.bytesWritten[0]).toBeLessThan(32 * MB);
    expect(MAX_RESPONSE_BYTES).toBeLessThanOrEqual(64 * 1024);
  });

  it('does not follow a redirect', async () => {
    const target = await startReceiver();
    try {
      const redirect = await keep(startRedirectingReceiver(`${target.url}/stolen`, 307));
      const error = await postJson(redirect.url, {}, { signal, timeoutMs: 5_000 }).catch(
        (err: unknown) => err,
      );
      expect(error).toMatchObject({ message: 'HTTP 307 (redirects are not followed)', retryable: false });
      expect(target.requests).toEqual([]);
    } finally {
      await target.close();
    }
  });

  it('reports a receiver that never answers as a timeout', async () => {
    const silent = await keep(startSilentReceiver());
    const timers = new FakeTimers();
    let settled: unknown = 'pending';
    const posting = postJson(silent.url, {}, { signal, timeoutMs: 30_000, timers }).then(
      () => (settled = 'delivered'),
      (err: unknown) => (settled = err),
    );
    await waitFor('the connection', () => silent.requests === 1, { timeoutMs: 10_000, intervalMs: 5 });
    await timers.advance(29_999);
    expect(settled).toBe('pending');
    await timers.advance(1);
    await posting;
    expect(settled).toMatchObject({ message: 'timeout', failureClass: 'timeout', retryable: true });
    expect(timers.pendingCount).toBe(0);
  });

  it('refuses a forbidden destination before connecting, not retryable', async () => {
    const target = await startReceiver();
    try {
      const error = await postJson(
        target.url,
        {},
        { signal, timeoutMs: 5_000, policy: new DestinationPolicy() },
      ).catch((err: unknown) => err);
      expect(error).toMatchObject({
        message: 'destination forbidden (loopback)',
        failureClass: 'destination forbidden',
        addressClass: 'loopback',
        retryable: false,
      });
      expect(target.requests).toEqual([]);
      // An exact host name on the admin's allow-list is delivered to.
      const byName = await postJson(
        target.url.replace('127.0.0.1', 'localhost'),
        {},
        {
          signal,
          timeoutMs: 5_000,
          policy: new DestinationPolicy({ allow: ['localhost'] }),
        },
      ).catch((err: unknown) => err);
      expect(byName).toBeUndefined(); // an allowed host name: delivered
      expect(target.requests).toHaveLength(1);
    } finally {
      await target.close();
    }
  });
});
