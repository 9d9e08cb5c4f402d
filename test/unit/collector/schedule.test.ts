import { beforeEach, describe, expect, it } from '@jest/globals';
import { CollectionScheduler } from '../../../operator/collector/schedule.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { FakeTimers } from '../runtime/fake-timers.js';
import { captureLogger, type LogLine } from '../../harness/capture-logger.js';

/** A run that records when it started and finishes only when told to. */
class ControlledRuns {
  readonly starts: number[] = [];
  readonly signals: AbortSignal[] = [];
  private finishers: (() => void)[] = [];
  constructor(private readonly timers: FakeTimers) {}

  readonly run = (signal: AbortSignal): Promise<void> => {
    this.starts.push(this.timers.now());
    this.signals.push(signal);
    return new Promise((resolve) => this.finishers.push(resolve));
  };

  finishAll(): void {
    for (const finish of this.finishers.splice(0)) finish();
  }
}

/** A run that finishes at once. */
function instantRuns(timers: FakeTimers): { starts: number[]; run: () => Promise<void> } {
  const starts: number[] = [];
  return { starts, run: async () => void starts.push(timers.now()) };
}

async function skippedTotal(metrics: OperatorMetrics, policy: string): Promise<number> {
  const { values } = await metrics.collectionsSkipped.get();
  return values.find((v) => v.labels.policy === policy)?.value ?? 0;
}

describe('CollectionScheduler', () => {
  let timers: FakeTimers;
  let metrics: OperatorMetrics;
  let lines: LogLine[];
  let scheduler: CollectionScheduler;
  let t0: number;

  beforeEach(() => {
    timers = new FakeTimers();
    t0 = timers.now();
    metrics = new OperatorMetrics();
    const captured = captureLogger();
    lines = captured.lines;
    scheduler = new CollectionScheduler({
      timers,
      metrics,
      logger: captured.logger,
      random: () => 0.5,
      firstRunMaxDelayMs: 4_000,
    });
  });

  it('runs a new policy soon (jittered, bounded), then every interval', async () => {
    const runs = instantRuns(timers);
    scheduler.upsert('shop/web', { intervalMs: 30_000, suspended: false }, runs.run);
    await timers.advance(100_000);
    expect(runs.starts.map((t) => t - t0)).toEqual([2_000, 32_000, 62_000, 92_000]);
  });

  it('never overlaps a slow run: the ticks meanwhile are skipped and counted', async () => {
    const runs = new ControlledRuns(timers);
    scheduler.upsert('shop/web', { intervalMs: 10_000, suspended: false }, runs.run);
    await timers.advance(2_000);
    expect(runs.starts).toHaveLength(1);

    await timers.advance(35_000); // ticks at 12s, 22s, 32s find the first run still going
    expect(runs.starts).toHaveLength(1);
    expect(scheduler.skippedCycles('shop/web')).toBe(3);
    expect(await skippedTotal(metrics, 'shop/web')).toBe(3);

    runs.finishAll();
    await timers.advance(5_000); // tick at 42s
    expect(runs.starts.map((t) => t - t0)).toEqual([2_000, 42_000]);
  });

  it('takes a changed interval from the last tick, and keeps the timer when only the run changes', async () => {
    const first = instantRuns(timers);
    scheduler.upsert('shop/web', { intervalMs: 60_000, suspended: false }, first.run);
    await timers.advance(10_000); // ran at 2s
    const second = instantRuns(timers);
    scheduler.upsert('shop/web', { intervalMs: 60_000, suspended: false }, second.run);
    await timers.advance(55_000); // the 62s tick uses the new run
    expect(first.starts.map((t) => t - t0)).toEqual([2_000]);
    expect(second.starts.map((t) => t - t0)).toEqual([62_000]);

    scheduler.upsert('shop/web', { intervalMs: 15_000, suspended: false }, second.run);
    await timers.advance(30_000); // now 95s: ticks at 77s and 92s
    expect(second.starts.map((t) => t - t0)).toEqual([62_000, 77_000, 92_000]);
  });

  it('stops while suspended, aborting the run in flight, and resumes', async () => {
    const runs = new ControlledRuns(timers);
    scheduler.upsert('shop/web', { intervalMs: 10_000, suspended: false }, runs.run);
    await timers.advance(3_000);
    scheduler.upsert('shop/web', { intervalMs: 10_000, suspended: true }, runs.run);
    expect(runs.signals[0]?.aborted).toBe(true);
    runs.finishAll();
    await timers.advance(60_000);
    expect(runs.starts).toHaveLength(1);
    expect(timers.pendingCount).toBe(0);

    scheduler.upsert('shop/web', { intervalMs: 10_000, suspended: false }, runs.run);
    await timers.advance(1);
    expect(runs.starts).toHaveLength(2);
  });

  it('does not start a removed policy again before its aborted run has ended', async () => {
    const runs = new ControlledRuns(timers);
    scheduler.upsert('shop/web', { intervalMs: 10_000, suspended: false }, runs.run);
    await timers.advance(3_000);
    scheduler.remove('shop/web');
    expect(runs.signals[0]?.aborted).toBe(true);
    expect(scheduler.skippedCycles('shop/web')).toBe(0);

    scheduler.upsert('shop/web', { intervalMs: 10_000, suspended: false }, runs.run);
    await timers.advance(3_000);
    expect(runs.starts).toHaveLength(1);
    runs.finishAll();
    await timers.advance(10_000);
    expect(runs.starts).toHaveLength(2);
  });

  it('stop aborts every run, leaves no timer behind and resolves only once the runs have returned', async () => {
    const runs = new ControlledRuns(timers);
    scheduler.upsert('shop/web', { intervalMs: 10_000, suspended: false }, runs.run);
    scheduler.upsert('shop/db', { intervalMs: 20_000, suspended: false }, runs.run);
    await timers.advance(5_000);
    let stopped = false;
    const stopping = scheduler.stop().then(() => (stopped = true));
    await timers.advance(0);
    expect(runs.signals.map((s) => s.aborted)).toEqual([true, true]);
    expect(timers.pendingCount).toBe(0);
    expect(stopped).toBe(false); // the runs ignore their signal and are still going
    expect(scheduler.running).toBe(2);
    runs.finishAll();
    await stopping;
    expect(scheduler.running).toBe(0);
  });

  it('logs a failing run and keeps the schedule', async () => {
    const starts: number[] = [];
    scheduler.upsert('shop/web', { intervalMs: 10_000, suspended: false }, async () => {
      starts.push(timers.now());
      throw new Error('boom');
    });
    await timers.advance(15_000);
    expect(starts).toHaveLength(2);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'error', namespace: 'shop', name: 'web', error: 'boom' }),
    );
  });

  it('rejects an interval that is not positive', () => {
    expect(() => scheduler.upsert('shop/web', { intervalMs: 0, suspended: false }, async () => {})).toThrow(
      'schedule of shop/web: intervalMs must be > 0, got 0',
    );
  });
});
