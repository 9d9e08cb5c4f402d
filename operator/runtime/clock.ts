import type { Clock } from '../model.js';

/** An opaque handle returned by {@link Timers.setTimeout}. */
export type TimerHandle = unknown;

/**
 * Time and timers, injected so that everything time-driven (the work queue's delays, the
 * informer's backoff and resync, leader election) runs on a fake clock in tests.
 */
export interface Timers extends Clock {
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Resolves after `delayMs`, or as soon as `signal` aborts (it never rejects). */
export function sleep(timers: Timers, delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      timers.clearTimeout(handle);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const handle = timers.setTimeout(done, delayMs);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Per-attempt delays that double from `baseMs` up to `maxMs`. */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** The delay before retry number `failures` (0 for the first retry): base * 2^failures, capped. */
export function backoffDelay(failures: number, policy: BackoffPolicy): number {
  return Math.min(policy.baseMs * 2 ** Math.min(failures, 52), policy.maxMs);
}

/** Spreads `delayMs` over [delayMs, delayMs * (1 + factor)) so that replicas do not retry in step. */
export function jittered(delayMs: number, factor: number, random: () => number = Math.random): number {
  return delayMs * (1 + factor * random());
}
