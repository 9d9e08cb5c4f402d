/** The retention loop on a fake clock: when it runs, what it passes the store, how it stops and logs. */
import { describe, expect, it } from '@jest/globals';
import type { Retention, UsagePolicyConfig } from '../../api/v1alpha1/normalize.js';
import type { ObjectKey } from '../../operator/model.js';
import { RetentionLoop } from '../../operator/retention-loop.js';
import type { RetentionRunner } from '../../operator/store/types.js';
import { captureLogger } from '../harness/capture-logger.js';
import { FakeTimers, settle } from './runtime/fake-timers.js';

const retention: Retention = { rawMs: 3_600_000, hourlyMs: 86_400_000, dailyMs: 30 * 86_400_000 };
const policy = (raw = retention.rawMs): UsagePolicyConfig => ({
  selector: { matchLabels: { app: 'web' } },
  namespaceSelector: undefined,
  intervalMs: 30_000,
  retention: { ...retention, rawMs: raw },
  suspend: false,
});

interface Call {
  policy: ObjectKey;
  retention: Retention;
  now: number;
}

/** A store whose applyRetention is recorded and answers as `answer` says (or waits until released). */
class RecordingRunner implements RetentionRunner {
  readonly calls: Call[] = [];
  answer: (policy: ObjectKey) => Promise<{ deleted: number }> = () => Promise.resolve({ deleted: 0 });
  applyRetention(policy: ObjectKey, retention: Retention, now: number): Promise<{ deleted: number }> {
    this.calls.push({ policy, retention, now });
    return this.answer(policy);
  }
}

function setup(policies: Map<ObjectKey, UsagePolicyConfig>) {
  const timers = new FakeTimers();
  const runner = new RecordingRunner();
  const { logger, lines } = captureLogger();
  const loop = new RetentionLoop({
    runner,
    policies,
    timers,
    logger,
    firstRunMs: 60_000,
    intervalMs: 600_000,
  });
  return { timers, runner, loop, lines, start: timers.now() };
}

describe('RetentionLoop', () => {
  it('runs first after firstRunMs, then every intervalMs, over every active policy at the clock’s time', async () => {
    const policies = new Map([
      ['shop/web', policy()],
      ['shop/db', policy(7_200_000)],
    ]);
    const { timers, runner, loop, start } = setup(policies);
    loop.start();
    await timers.advance(59_999);
    expect(runner.calls).toEqual([]);
    await timers.advance(1);
    expect(runner.calls).toEqual([
      { policy: 'shop/web', retention, now: start + 60_000 },
      { policy: 'shop/db', retention: { ...retention, rawMs: 7_200_000 }, now: start + 60_000 },
    ]);
    // The policies are read at each run: one deleted meanwhile is no longer cleaned.
    policies.delete('shop/db');
    await timers.advance(599_999);
    expect(runner.calls).toHaveLength(2);
    await timers.advance(1);
    expect(runner.calls.slice(2)).toEqual([{ policy: 'shop/web', retention, now: start + 660_000 }]);
    await timers.advance(600_000);
    expect(runner.calls.map((c) => c.now - start)).toEqual([60_000, 60_000, 660_000, 1_260_000]);
    await loop.stop();
    expect(timers.pendingCount).toBe(0);
  });

  it('schedules the next run only after a slow pass has finished (never two at once)', async () => {
    const { timers, runner, loop, start } = setup(new Map([['shop/web', policy()]]));
    let release: () => void = () => {};
    runner.answer = () => new Promise((resolve) => (release = () => resolve({ deleted: 0 })));
    loop.start();
    await timers.advance(60_000);
    expect(runner.calls).toHaveLength(1);
    // The pass takes 15 min of (fake) time; no other starts meanwhile.
    await timers.advance(900_000);
    expect(runner.calls).toHaveLength(1);
    expect(timers.pendingCount).toBe(0);
    runner.answer = () => Promise.resolve({ deleted: 0 });
    release();
    await settle();
    await timers.advance(600_000);
    expect(runner.calls.map((c) => c.now - start)).toEqual([60_000, 1_560_000]);
    await loop.stop();
  });

  it('stop() waits for the pass in progress and nothing runs after it', async () => {
    const { timers, runner, loop } = setup(new Map([['shop/web', policy()]]));
    let release: () => void = () => {};
    runner.answer = () => new Promise((resolve) => (release = () => resolve({ deleted: 3 })));
    loop.start();
    await timers.advance(60_000);
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(timers.pendingCount).toBe(0);
    await timers.advance(3_600_000);
    expect(runner.calls).toHaveLength(1);
  });

  it('logs a failure once while it lasts, then once that it works again, and what it deleted', async () => {
    const { timers, runner, loop, lines } = setup(
      new Map([
        ['shop/web', policy()],
        ['shop/db', policy()],
      ]),
    );
    runner.answer = (p) =>
      p === 'shop/db' ? Promise.reject(new Error('connection refused')) : Promise.resolve({ deleted: 0 });
    loop.start();
    await timers.advance(60_000 + 3 * 600_000); // 4 failing runs
    expect(runner.calls).toHaveLength(8);
    const logged = () => lines.map((l) => [l.level, l.message]);
    expect(logged()).toEqual([['warn', 'retention failed']]);
    expect(lines[0]).toMatchObject({ errors: ['shop/db: connection refused'] });

    runner.answer = (p) => Promise.resolve({ deleted: p === 'shop/web' ? 5 : 2 });
    await timers.advance(600_000);
    runner.answer = () => Promise.resolve({ deleted: 0 });
    await timers.advance(600_000);
    expect(logged()).toEqual([
      ['warn', 'retention failed'],
      ['info', 'retention works again'],
      ['info', 'retention deleted expired usage data'],
    ]);
    expect(lines[2]).toMatchObject({ deleted: 7 });
    await loop.stop();
  });

  it('runOnce returns how many documents the pass deleted', async () => {
    const { runner, loop } = setup(
      new Map([
        ['shop/web', policy()],
        ['shop/db', policy()],
      ]),
    );
    runner.answer = (p) => Promise.resolve({ deleted: p === 'shop/web' ? 10 : 4 });
    expect(await loop.runOnce()).toBe(14);
  });
});
