import { describe, expect, it } from '@jest/globals';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { waitFor } from '../../harness/wait.js';
import type { ContainerSample } from '../../../operator/model.js';
import { OutageBuffer } from '../../../operator/store/outage-buffer.js';
import type { SampleWriter, WriteOutcome } from '../../../operator/store/types.js';
import { captureLogger } from '../../harness/capture-logger.js';
import { sample, T0 } from './fixtures.js';

/** A store that is up or down at the test's command and records what it stored, in order. */
class FakeStore implements SampleWriter {
  up = true;
  readonly stored: ContainerSample[] = [];
  attempts = 0;

  async write(samples: ContainerSample[]): Promise<WriteOutcome> {
    this.attempts += 1;
    if (!this.up) throw new Error('connection refused');
    this.stored.push(...samples);
    return { written: samples.length, buffered: 0, dropped: 0 };
  }
}

function cycle(n: number, size = 2, policy = 'shop/web'): ContainerSample[] {
  return Array.from({ length: size }, (_, i) => sample({ time: T0 + n * 30_000, pod: `web-${i}`, policy }));
}

/** Samples that cannot be merged: a new pod each cycle (more series than the capacity). */
function newPods(n: number, size = 2, policy = 'shop/web'): ContainerSample[] {
  return Array.from({ length: size }, (_, i) =>
    sample({ time: T0 + n * 30_000, pod: `web-${n}-${i}`, podUid: `u-${n}-${i}`, policy }),
  );
}

function setup(options: { capacity?: number; flushBatchSize?: number } = {}) {
  const store = new FakeStore();
  const { logger, lines } = captureLogger();
  const metrics = new OperatorMetrics();
  let now = T0;
  const clock = { now: () => now };
  const buffer = new OutageBuffer(
    store,
    { logger, metrics, clock },
    { retryIntervalMs: 3_600_000, ...options },
  );
  return { store, buffer, lines, metrics, advance: (ms: number) => (now += ms) };
}

async function metricValue(metrics: OperatorMetrics, name: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values[0]?.value ?? 0;
}

describe('OutageBuffer', () => {
  it('passes writes through while the store is up', async () => {
    const { store, buffer } = setup();
    expect(await buffer.write(cycle(1))).toEqual({ written: 2, buffered: 0, dropped: 0 });
    expect(store.stored).toHaveLength(2);
    expect(buffer.status()).toEqual({ storeAvailable: true, buffered: 0, droppedTotal: 0, mergedTotal: 0 });
  });

  it('buffers while the store is down and writes everything in order once it is back', async () => {
    const { store, buffer, lines, advance } = setup();
    store.up = false;
    expect(await buffer.write(cycle(1))).toEqual({ written: 0, buffered: 2, dropped: 0 });
    expect(await buffer.write(cycle(2))).toEqual({ written: 0, buffered: 2, dropped: 0 });
    expect(buffer.status()).toEqual({
      storeAvailable: false,
      buffered: 4,
      droppedTotal: 0,
      mergedTotal: 0,
      outageSince: T0,
      lastError: 'connection refused',
    });
    expect(await buffer.flush()).toBe(false);
    store.up = true;
    advance(90_000);
    expect(await buffer.flush()).toBe(true);
    expect(store.stored.map((s) => s.time)).toEqual([1, 1, 2, 2].map((n) => T0 + n * 30_000));
    expect(buffer.status().storeAvailable).toBe(true);
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['warn', 'store unavailable; buffering samples in memory'],
      ['info', 'store available again; buffered samples written'],
    ]);
    expect(lines[1]).toMatchObject({ outageSeconds: 90, dropped: 0 });
  });

  it('keeps order: new samples wait behind buffered ones even when the store is back', async () => {
    const { store, buffer } = setup();
    store.up = false;
    await buffer.write(cycle(1));
    store.up = true;
    expect(await buffer.write(cycle(2))).toEqual({ written: 0, buffered: 2, dropped: 0 });
    await buffer.flush();
    expect(store.stored.map((s) => s.time)).toEqual([1, 1, 2, 2].map((n) => T0 + n * 30_000));
  });

  it('drops the oldest samples beyond capacity that cannot be merged and counts them in the metric, the log and per policy', async () => {
    const { store, buffer, lines, metrics } = setup({ capacity: 5 });
    store.up = false;
    await buffer.write(newPods(1, 2, 'shop/old'));
    await buffer.write(newPods(2, 2, 'shop/web'));
    expect(await buffer.write(newPods(3, 2, 'shop/web'))).toEqual({ written: 0, buffered: 2, dropped: 1 });
    expect(await buffer.write(newPods(4, 2, 'shop/web'))).toEqual({ written: 0, buffered: 2, dropped: 2 });
    expect(buffer.mergedTotal).toBe(0);
    expect(buffer.droppedTotal).toBe(3);
    expect(buffer.droppedFor('shop/old')).toBe(2);
    expect(buffer.droppedFor('shop/web')).toBe(1);
    expect(await metricValue(metrics, 'kube_usage_samples_dropped_total')).toBe(3);
    expect(await metricValue(metrics, 'kube_usage_samples_buffered')).toBe(5);
    expect(lines.filter((l) => l.message === 'outage buffer full; dropping the oldest samples')).toHaveLength(
      1,
    );
    store.up = true;
    await buffer.flush();
    expect(store.stored.map((s) => `${s.time - T0}/${s.pod}`)).toEqual([
      '60000/web-2-1',
      '90000/web-3-0',
      '90000/web-3-1',
      '120000/web-4-0',
      '120000/web-4-1',
    ]);
    expect(lines.at(-1)).toMatchObject({
      message: 'store available again; buffered samples written',
      dropped: 3,
    });
  });

  it('writes a long backlog in batches, and resumes where it failed', async () => {
    const { store, buffer } = setup({ flushBatchSize: 3 });
    store.up = false;
    for (let n = 1; n <= 4; n++) await buffer.write(cycle(n));
    store.up = true;
    const write = store.write.bind(store);
    let calls = 0;
    store.write = async (samples) => {
      calls += 1;
      if (calls === 2) throw new Error('timeout');
      return write(samples);
    };
    expect(await buffer.flush()).toBe(false);
    // The oldest sample alone first (the outage's probe), then a batch of 3 that fails.
    expect(buffer.status().buffered).toBe(7);
    expect(await buffer.flush()).toBe(true);
    expect(store.stored.map((s) => s.time - T0)).toEqual(
      [30, 30, 60, 60, 90, 90, 120, 120].map((s) => s * 1000),
    );
  });

  it('retries on its own after the retry interval', async () => {
    const store = new FakeStore();
    const { logger } = captureLogger();
    const buffer = new OutageBuffer(
      store,
      { logger, metrics: new OperatorMetrics(), clock: { now: () => T0 } },
      { retryIntervalMs: 10 },
    );
    store.up = false;
    await buffer.write(cycle(1));
    store.up = true;
    await waitFor('both cycles stored', () => store.stored.length >= 2, { timeoutMs: 5_000, intervalMs: 5 });
    expect(store.stored).toHaveLength(2);
    await buffer.close();
  });

  it('logs what is lost when it is closed during an outage', async () => {
    const { store, buffer, lines } = setup();
    store.up = false;
    await buffer.write(cycle(1));
    await buffer.close();
    expect(lines.at(-1)).toMatchObject({
      message: 'store unavailable at shutdown; buffered samples are lost',
      samples: 2,
    });
  });

  it('refuses a capacity that is not a positive integer, naming the option', () => {
    expect(() => setup({ capacity: 0 })).toThrow('capacity must be a positive integer, got 0');
  });
});
