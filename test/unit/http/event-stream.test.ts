import { afterEach, describe, expect, it } from '@jest/globals';
import type { AlertEvent, SnapshotEvent } from '../../../operator/http/event-bus.js';
import type { HttpServerDeps } from '../../../operator/http/server.js';
import { eventually, getJson, SseReader, startTestServer, T0, TOKENS, type TestServer } from './fixtures.js';

const servers: TestServer[] = [];
async function start(overrides: Partial<HttpServerDeps> = {}): Promise<TestServer> {
  const t = await startTestServer(overrides);
  servers.push(t);
  return t;
}
afterEach(async () => {
  for (const t of servers.splice(0)) await t.server.close();
});

function snapshot(namespace: string, pod = 'web-1'): SnapshotEvent {
  return {
    type: 'snapshot',
    namespace,
    pod,
    container: 'app',
    time: T0,
    cpuMillicores: 250,
    memoryBytes: 1024,
  };
}

function alert(namespace: string, transition: AlertEvent['transition'] = 'fired'): AlertEvent {
  return {
    type: 'alert',
    namespace,
    name: 'web-hot',
    transition,
    target: 'web-1/app',
    metric: 'cpu',
    value: 910,
    threshold: 800,
    time: T0,
  };
}

describe('GET /api/v1/events', () => {
  it('delivers snapshots and alert transitions in order, with RFC 3339 times', async () => {
    const t = await start();
    const stream = await SseReader.open(`${t.url}/api/v1/events`, TOKENS.admin);
    expect(stream.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    t.events.publish(snapshot('team-a'));
    t.events.publish(alert('team-b'));
    t.events.publish(alert('team-b', 'resolved'));
    const frames = await stream.waitFor('three events', (f) => f.length === 3);
    expect(frames).toEqual([
      { event: 'snapshot', data: { ...snapshot('team-a'), time: new Date(T0).toISOString() } },
      { event: 'alert', data: { ...alert('team-b'), time: new Date(T0).toISOString() } },
      { event: 'alert', data: expect.objectContaining({ transition: 'resolved' }) },
    ]);
    stream.close();
  });

  it('never shows a tenant an event from a namespace it cannot see', async () => {
    const t = await start();
    const stream = await SseReader.open(`${t.url}/api/v1/events`, TOKENS.tenantA);
    t.events.publish(alert('team-b'));
    t.events.publish(snapshot('team-b'));
    t.events.publish(alert('team-a'));
    t.events.publish(snapshot('kube-system'));
    t.events.publish(snapshot('team-a'));
    // Events are written in order, so once the last one is in, the hidden ones were skipped.
    const frames = await stream.waitFor('the last team-a event', (f) =>
      f.some((e) => e.event === 'snapshot'),
    );
    expect(frames.map((f) => [f.event, (f.data as { namespace: string }).namespace])).toEqual([
      ['alert', 'team-a'],
      ['snapshot', 'team-a'],
    ]);
    stream.close();
  });

  it('limits the stream to one namespace on request, and refuses one the caller cannot see', async () => {
    const t = await start();
    const stream = await SseReader.open(`${t.url}/api/v1/events?namespace=team-a`, TOKENS.admin);
    t.events.publish(snapshot('team-b'));
    t.events.publish(snapshot('team-a'));
    const frames = await stream.waitFor('one event', (f) => f.length === 1);
    expect(frames[0]!.data).toMatchObject({ namespace: 'team-a' });
    stream.close();

    expect((await getJson(`${t.url}/api/v1/events?namespace=team-b`, TOKENS.tenantA)).status).toBe(403);
    expect((await getJson(`${t.url}/api/v1/events`)).status).toBe(401);
    expect((await getJson(`${t.url}/api/v1/events?namespace=Team-A`, TOKENS.admin)).status).toBe(400);
  });

  it('reviews access once per namespace while the decision is cached', async () => {
    const t = await start();
    const stream = await SseReader.open(`${t.url}/api/v1/events`, TOKENS.tenantA);
    for (let i = 0; i < 20; i++) t.events.publish(snapshot('team-a', `web-${i}`));
    await stream.waitFor('20 events', (f) => f.length === 20);
    expect(t.access.calls).toEqual([{ verb: 'get', resource: 'pods', namespace: 'team-a' }]);
    stream.close();
  });

  it('sends a keep-alive comment every keepAliveMs (fake clock)', async () => {
    const t = await start({ eventStream: { keepAliveMs: 15_000 } });
    const stream = await SseReader.open(`${t.url}/api/v1/events`, TOKENS.admin);
    await eventually('the connected comment', () => (stream.comments === 1 ? true : undefined));
    await t.timers.advance(14_999);
    t.events.publish(snapshot('team-a')); // a frame after anything sent so far
    await stream.waitFor('the event', (f) => f.length === 1);
    expect(stream.comments).toBe(1);
    for (const n of [2, 3, 4]) {
      await t.timers.advance(n === 2 ? 1 : 15_000);
      await eventually(`keep-alive ${n - 1}`, () => (stream.comments === n ? true : undefined));
    }
    stream.close();
  });

  it('unsubscribes a client that disconnects', async () => {
    const t = await start();
    const streams = await Promise.all(
      [1, 2].map(() => SseReader.open(`${t.url}/api/v1/events`, TOKENS.admin)),
    );
    expect(t.events.subscribers).toBe(2);
    streams[0]!.close();
    await eventually('one subscriber left', () => (t.events.subscribers === 1 ? true : undefined));
    streams[1]!.close();
    await eventually('no subscriber left', () => (t.events.subscribers === 0 ? true : undefined));
  });

  it('drops a client that falls too far behind, telling it so', async () => {
    const t = await start({ eventStream: { maxQueuedEvents: 5 } });
    const stream = await SseReader.open(`${t.url}/api/v1/events`, TOKENS.tenantA);
    t.access.hold.add('team-a'); // the first review hangs, so events pile up behind it
    for (let i = 0; i < 10; i++) t.events.publish(snapshot('team-a'));
    const frames = await stream.waitFor('the dropped event', (f) => f.some((e) => e.event === 'dropped'));
    expect(frames).toEqual([{ event: 'dropped', data: { message: expect.stringContaining('reconnect') } }]);
    await eventually('the stream to end', () => (stream.ended ? true : undefined));
    expect(t.events.subscribers).toBe(0);
    t.access.release();
  });

  it('ends the stream with an error event when access cannot be reviewed', async () => {
    const t = await start();
    const stream = await SseReader.open(`${t.url}/api/v1/events`, TOKENS.tenantA);
    t.access.failure = new Error('apiserver unreachable');
    t.events.publish(snapshot('team-a'));
    const frames = await stream.waitFor('the error event', (f) => f.length === 1);
    expect(frames[0]).toEqual({
      event: 'error',
      data: {
        error: 'ServiceUnavailable',
        message: 'the event stream stopped: authorization is unavailable at the moment; retry later',
      },
    });
    await eventually('the stream to end', () => (stream.ended ? true : undefined));
    expect(t.events.subscribers).toBe(0);
  });

  it('refuses streams over the per-user and the total cap with 429', async () => {
    const t = await start({ eventStream: { maxStreamsPerUser: 2, maxStreams: 3 } });
    const open = [
      await SseReader.open(`${t.url}/api/v1/events`, TOKENS.tenantA),
      await SseReader.open(`${t.url}/api/v1/events`, TOKENS.tenantA),
    ];
    try {
      const third = await getJson(`${t.url}/api/v1/events`, TOKENS.tenantA);
      expect(third.status).toBe(429);
      expect(third.body).toMatchObject({
        error: 'TooManyRequests',
        message: expect.stringContaining('at most 2 per user'),
      });
      open.push(await SseReader.open(`${t.url}/api/v1/events`, TOKENS.admin));
      const overall = await getJson(`${t.url}/api/v1/events`, TOKENS.admin);
      expect(overall.status).toBe(429);
      expect(t.metrics.eventStreams.get).toBeDefined();
      expect((await t.metrics.eventStreams.get()).values[0]?.value).toBe(3);
      // A closed stream frees its place.
      open.shift()?.close();
      await eventually('the closed stream to be gone', async () =>
        (await t.metrics.eventStreams.get()).values[0]?.value === 2 ? true : undefined,
      );
      open.push(await SseReader.open(`${t.url}/api/v1/events`, TOKENS.tenantA));
    } finally {
      for (const s of open) s.close();
    }
  });

  it('ends a stream at its maximum lifetime, and when its token is no longer valid', async () => {
    const t = await start({ eventStream: { maxLifetimeMs: 3_600_000, recheckMs: 600_000 } });
    const expiring = await SseReader.open(`${t.url}/api/v1/events`, TOKENS.tenantA);
    await t.timers.advance(3_600_000);
    const frames = await expiring.waitFor('the expired event', (f) => f.length === 1);
    expect(frames[0]).toEqual({ event: 'expired', data: { message: expect.stringContaining('reconnect') } });
    await eventually('the stream to end', () => (expiring.ended ? true : undefined));

    const u = await start({ eventStream: { recheckMs: 60_000 } });
    const revoked = await SseReader.open(`${u.url}/api/v1/events`, TOKENS.tenantA);
    // The token stops being valid (revoked, expired): the next review refuses it.
    u.clock.time += 60_000;
    u.tokens.refuse.add(TOKENS.tenantA);
    await u.timers.advance(60_000);
    const ended = await revoked.waitFor('the error event', (f) => f.length === 1);
    expect(ended[0]).toEqual({
      event: 'error',
      data: { error: 'Unauthorized', message: expect.stringContaining('no longer valid') },
    });
    await eventually('the stream to end', () => (revoked.ended ? true : undefined));
  });

  it('ends open streams when the server closes', async () => {
    const t = await start();
    const stream = await SseReader.open(`${t.url}/api/v1/events`, TOKENS.admin);
    await t.server.close();
    servers.splice(servers.indexOf(t), 1);
    expect(t.events.subscribers).toBe(0);
    const frames = await stream.waitFor('the shutdown event', (f) => f.length > 0);
    expect(frames).toEqual([{ event: 'shutdown', data: { message: expect.any(String) } }]);
    await eventually('the stream to end', () => (stream.ended ? true : undefined));
  });
});
