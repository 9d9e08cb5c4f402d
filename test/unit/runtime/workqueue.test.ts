import { describe, expect, it } from '@jest/globals';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { WorkQueue } from '../../../operator/runtime/workqueue.js';
import { FakeTimers, settle } from './fake-timers.js';

function queue(timers = new FakeTimers(), backoff = { baseMs: 10, maxMs: 1000 }) {
  return { timers, queue: new WorkQueue<string>({ name: 'test', timers, backoff }) };
}

/** Takes every key that is ready now, without waiting. */
async function drainReady(q: WorkQueue<string>): Promise<string[]> {
  const keys: string[] = [];
  while (q.length > 0) keys.push((await q.get())!);
  return keys;
}

describe('WorkQueue', () => {
  it('holds a key once however often it is added while waiting', async () => {
    const { queue: q } = queue();
    q.add('shop/web');
    q.add('shop/api');
    q.add('shop/web');
    expect(q.length).toBe(2);
    expect(await drainReady(q)).toEqual(['shop/web', 'shop/api']);
  });

  it('never hands out a key that is being processed; a re-add runs once after done', async () => {
    const { queue: q } = queue();
    q.add('shop/web');
    const first = await q.get();
    q.add('shop/web');
    q.add('shop/web');
    expect(q.length).toBe(0);

    let second: string | undefined;
    void q.get().then((key) => (second = key));
    await settle();
    expect(second).toBeUndefined();

    q.done(first!);
    await settle();
    expect(second).toBe('shop/web');
    expect(q.length).toBe(0);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const { queue: q } = queue();
    const next = q.get();
    q.add('shop/web');
    expect(await next).toBe('shop/web');
  });

  it('with many workers, processes each key by one worker at a time', async () => {
    const { queue: q } = queue();
    const running = new Set<string>();
    let overlaps = 0;
    let processed = 0;
    const worker = async (): Promise<void> => {
      for (let key = await q.get(); key !== undefined; key = await q.get()) {
        if (running.has(key)) overlaps++;
        running.add(key);
        await settle();
        if (processed++ < 40) q.add(key); // re-added while it is being processed
        running.delete(key);
        q.done(key);
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    for (const key of ['a', 'b', 'a', 'c', 'a', 'b']) q.add(key);
    while (processed < 40) await settle();
    await q.shutDown();
    await Promise.all(workers);
    expect(overlaps).toBe(0);
  });

  it('backs off a failing key exponentially up to the cap, and forget resets it', () => {
    const { queue: q } = queue(new FakeTimers(), { baseMs: 10, maxMs: 200 });
    const delays = Array.from({ length: 7 }, () => q.addRateLimited('shop/web'));
    expect(delays).toEqual([10, 20, 40, 80, 160, 200, 200]);
    expect(q.numRequeues('shop/web')).toBe(7);
    expect(q.addRateLimited('shop/api')).toBe(10);

    q.forget('shop/web');
    expect(q.numRequeues('shop/web')).toBe(0);
    expect(q.addRateLimited('shop/web')).toBe(10);
  });

  it('requeues a rate-limited key only after its delay', async () => {
    const { queue: q, timers } = queue();
    q.addRateLimited('shop/web');
    q.addRateLimited('shop/web'); // second failure: 20 ms, but the 10 ms one is earlier
    await timers.advance(9);
    expect(q.length).toBe(0);
    await timers.advance(1);
    expect(await drainReady(q)).toEqual(['shop/web']);
  });

  it('addAfter queues the key at the earliest requested time, once', async () => {
    const { queue: q, timers } = queue();
    q.addAfter('shop/web', 1000);
    q.addAfter('shop/web', 300);
    q.addAfter('shop/web', 600);
    await timers.advance(299);
    expect(q.length).toBe(0);
    await timers.advance(1);
    expect(await drainReady(q)).toEqual(['shop/web']);
    await timers.advance(1000);
    expect(q.length).toBe(0);
  });

  it('addAfter with no delay adds at once', () => {
    const { queue: q } = queue();
    q.addAfter('shop/web', 0);
    expect(q.length).toBe(1);
  });

  it('on shutdown releases waiting workers, ignores adds and resolves when in-flight keys are done', async () => {
    const { queue: q, timers } = queue();
    q.add('a');
    q.add('b');
    q.addAfter('c', 100);
    const inFlight = (await q.get())!;
    const idleWorker = q.get();
    expect(await idleWorker).toBe('b');
    const waiting = q.get();

    let stopped = false;
    const shutdown = q.shutDown().then(() => (stopped = true));
    expect(await waiting).toBeUndefined();
    q.add('d');
    await timers.advance(200);
    expect(q.length).toBe(0);
    expect(await q.get()).toBeUndefined();

    q.done(inFlight);
    await settle();
    expect(stopped).toBe(false);
    q.done('b');
    await shutdown;
    expect(stopped).toBe(true);
    expect(timers.pendingCount).toBe(0);
  });

  it("reports depth, adds and retries under client-go's workqueue_* names", async () => {
    const metrics = new OperatorMetrics();
    const q = new WorkQueue<string>({ name: 'policies', timers: new FakeTimers(), metrics });
    q.add('a');
    q.add('b');
    q.add('b');
    q.addRateLimited('c');
    const text = await metrics.registry.metrics();
    expect(text).toContain('workqueue_depth{name="policies"} 2');
    expect(text).toContain('workqueue_adds_total{name="policies"} 2');
    expect(text).toContain('workqueue_retries_total{name="policies"} 1');
  });

  it('bounds retries of all keys together at 10 per second after a burst of 100', async () => {
    const timers = new FakeTimers();
    const q = new WorkQueue<string>({ name: 'policies', timers, backoff: { baseMs: 1, maxMs: 1 } });
    const delays = Array.from({ length: 120 }, (_, i) => q.addRateLimited(`key-${i}`));
    // The first 100 keys retry after their own backoff; then one every 100 ms.
    expect(delays.slice(0, 100).every((d) => d === 1)).toBe(true);
    expect(delays.slice(100, 103)).toEqual([100, 200, 300]);
    expect(delays[119]).toBe(2_000);
    // Tokens come back with time: a second later there are 10 again (minus the 20 owed).
    await timers.advance(10_000);
    expect(q.addRateLimited('late')).toBe(1);
  });
});
