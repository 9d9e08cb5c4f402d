import { describe, expect, it } from '@jest/globals';
import { silentLogger, type Logger } from '../../../operator/logging.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { Controller, type Reconciler } from '../../../operator/runtime/controller.js';
import { captureLogger } from '../../harness/capture-logger.js';
import { FakeTimers, settle } from './fake-timers.js';

function setup(reconcile: Reconciler, options: { workers?: number; logger?: Logger } = {}) {
  const timers = new FakeTimers();
  const metrics = new OperatorMetrics();
  const controller = new Controller({
    name: 'usagepolicy',
    reconcile,
    logger: options.logger ?? silentLogger(),
    workers: options.workers ?? 2,
    timers,
    backoff: { baseMs: 100, maxMs: 10_000 },
    metrics,
  });
  return { timers, controller, metrics };
}

/** A reconcile that waits until the test releases it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('Controller', () => {
  it('reconciles keys on up to N workers at once', async () => {
    const g = gate();
    let running = 0;
    let most = 0;
    const done: string[] = [];
    const { controller } = setup(
      async (key) => {
        most = Math.max(most, ++running);
        await g.opened;
        running--;
        done.push(key);
      },
      { workers: 2 },
    );
    controller.start({ term: undefined });
    for (const key of ['shop/a', 'shop/b', 'shop/c']) controller.enqueue(key);
    await settle();
    expect(running).toBe(2);
    g.open();
    await settle();
    expect(done.sort()).toEqual(['shop/a', 'shop/b', 'shop/c']);
    expect(most).toBe(2);
    await controller.stop();
  });

  it('retries a failing key with growing backoff, and starts over after a success', async () => {
    const attempts: number[] = [];
    let failuresLeft = 3;
    const { controller, timers, metrics } = setup(async () => {
      attempts.push(timers.now());
      if (failuresLeft-- > 0) throw new Error('store unavailable');
    });
    const t0 = timers.now();
    controller.start({ term: undefined });
    controller.enqueue('shop/a');
    await timers.advance(1_000);
    expect(attempts.map((t) => t - t0)).toEqual([0, 100, 300, 700]);
    expect((await metrics.reconcileErrors.get()).values[0]?.value).toBe(3);

    failuresLeft = 1;
    controller.enqueue('shop/a');
    await timers.advance(1_000);
    expect(attempts.slice(4).map((t) => t - t0)).toEqual([1_000, 1_100]); // back to the base delay
    await controller.stop();
  });

  it('runs a key again after the delay the reconcile asks for', async () => {
    const runs: number[] = [];
    const { controller, timers } = setup(async () => {
      runs.push(timers.now());
      return { requeueAfterMs: 30_000 };
    });
    const t0 = timers.now();
    controller.start({ term: undefined });
    controller.enqueue('shop/a');
    await timers.advance(65_000);
    expect(runs.map((t) => t - t0)).toEqual([0, 30_000, 60_000]);
    await controller.stop();
  });

  it('on stop, aborts the signal, waits for running reconciles and drops queued keys', async () => {
    const g = gate();
    const started: string[] = [];
    let signal: AbortSignal | undefined;
    const { controller } = setup(
      async (key, s) => {
        started.push(key);
        signal = s;
        await g.opened;
      },
      { workers: 1 },
    );
    controller.start({ term: undefined });
    controller.enqueue('shop/a');
    controller.enqueue('shop/b');
    await settle();

    let stopped = false;
    const stopping = controller.stop().then(() => (stopped = true));
    await settle();
    expect(signal?.aborted).toBe(true);
    expect(stopped).toBe(false);
    g.open();
    await stopping;
    expect(started).toEqual(['shop/a']);
  });

  it('logs a key failing the same way once, and its recovery once', async () => {
    const { logger, lines } = captureLogger();
    let failuresLeft = 4;
    const { controller, timers } = setup(
      async () => {
        if (failuresLeft-- > 0) throw new Error('policy store unavailable');
      },
      { logger },
    );
    controller.start({ term: undefined });
    controller.enqueue('shop/a');
    await timers.advance(5_000);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toEqual([
      expect.objectContaining({
        message: 'reconcile failed; retrying',
        controller: 'usagepolicy',
        namespace: 'shop',
        name: 'a',
      }),
    ]);
    expect(lines.filter((l) => l.message === 'reconcile succeeded after failures')).toHaveLength(1);
    await controller.stop();
  });

  it('retries a conflict without a warning', async () => {
    const { logger, lines } = captureLogger();
    let conflicts = 1;
    const runs: string[] = [];
    const { controller, timers } = setup(
      async (key) => {
        runs.push(key);
        if (conflicts-- > 0) throw Object.assign(new Error('the object has been modified'), { code: 409 });
      },
      { logger },
    );
    controller.start({ term: undefined });
    controller.enqueue('shop/a');
    await timers.advance(1_000);
    expect(runs).toEqual(['shop/a', 'shop/a']);
    expect(
      lines.filter((l) => l.level === 'warn' || (l.level === 'info' && l.message.includes('after failures'))),
    ).toEqual([]);
    await controller.stop();
  });
});
