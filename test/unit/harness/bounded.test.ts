import { describe, expect, it } from '@jest/globals';
import { forEachBounded } from '../../harness/bounded.js';

/** A task per item that waits until released, recording how many run at once. */
function gate() {
  let running = 0;
  let peak = 0;
  const waiting: (() => void)[] = [];
  const task = async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((resolve) => waiting.push(resolve));
    running--;
  };
  return { task, peak: () => peak, release: () => waiting.splice(0).forEach((r) => r()), waiting };
}

describe('forEachBounded', () => {
  it('runs every item once, never more than `limit` at a time', async () => {
    const g = gate();
    const seen: number[] = [];
    const done = forEachBounded([0, 1, 2, 3, 4, 5, 6], 3, async (item) => {
      seen.push(item);
      await g.task();
    });
    while (seen.length < 7) {
      await new Promise((r) => setImmediate(r));
      expect(g.waiting.length).toBeLessThanOrEqual(3);
      g.release();
    }
    g.release();
    await done;
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(g.peak()).toBe(3);
  });

  it('rejects with the first failure and starts no new item after it', async () => {
    const started: number[] = [];
    await expect(
      forEachBounded([0, 1, 2, 3, 4], 1, async (item) => {
        started.push(item);
        if (item === 1) throw new Error('boom 1');
      }),
    ).rejects.toThrow('boom 1');
    expect(started).toEqual([0, 1]);
  });

  it('does nothing for no items', async () => {
    let calls = 0;
    await forEachBounded([], 4, async () => {
      calls++;
    });
    expect(calls).toBe(0);
  });
});
