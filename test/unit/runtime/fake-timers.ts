import type { TimerHandle, Timers } from '../../../operator/runtime/clock.js';

/** Lets every promise chain that is ready run to completion (fakes answer without I/O). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A manual clock with timers. `advance` moves time forward, firing due timers in order and
 * letting the promise chains they start finish before the next timer fires.
 */
export class FakeTimers implements Timers {
  private nowMs: number;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; callback: () => void }>();

  constructor(startMs = Date.UTC(2026, 10, 21, 10, 0, 0)) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.pending.set(id, { at: this.nowMs + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle as number);
  }

  /** Timers not yet fired. */
  get pendingCount(): number {
    return this.pending.size;
  }

  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    for (;;) {
      await settle();
      const next = this.nextDue(target);
      if (!next) break;
      this.pending.delete(next.id);
      this.nowMs = next.at;
      next.callback();
    }
    this.nowMs = target;
    await settle();
  }

  /** Advances to the next pending timer (firing it and any due with it); returns the time moved, or undefined if none is pending. */
  async advanceToNext(): Promise<number | undefined> {
    await settle();
    const next = this.nextDue(Infinity);
    if (!next) return undefined;
    const delta = next.at - this.nowMs;
    await this.advance(delta);
    return delta;
  }

  /** Advances in steps until `condition` holds; returns the time it took, or throws after `limitMs`. */
  async advanceUntil(condition: () => boolean, limitMs: number, stepMs = 10): Promise<number> {
    const start = this.nowMs;
    await settle();
    while (!condition()) {
      if (this.nowMs - start >= limitMs)
        throw new Error(`condition not met within ${limitMs} ms of fake time`);
      await this.advance(stepMs);
    }
    return this.nowMs - start;
  }

  private nextDue(limit: number): { id: number; at: number; callback: () => void } | undefined {
    let next: { id: number; at: number; callback: () => void } | undefined;
    for (const [id, timer] of this.pending) {
      if (timer.at <= limit && (!next || timer.at < next.at)) next = { id, ...timer };
    }
    return next;
  }
}
