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

/** The error a {@link withTimeout} call rejects with when its time is up. */
export class TimeoutError extends Error {
  constructor(what: string, timeoutMs: number) {
    super(`${what} did not finish within ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * Runs `action` with a signal that aborts after `timeoutMs` (or when `signal` aborts) and
 * settles by then at the latest, even if `action` ignores its signal: the call is bounded.
 */
export function withTimeout<T>(
  timers: Timers,
  timeoutMs: number,
  what: string,
  action: (signal: AbortSignal) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => finish(() => reject(signal?.reason ?? new Error(`${what} aborted`)));
    const handle = timers.setTimeout(
      () => finish(() => reject(new TimeoutError(what, timeoutMs))),
      timeoutMs,
    );
    let done = false;
    function finish(settle: () => void): void {
      if (done) return;
      done = true;
      timers.clearTimeout(handle);
      signal?.removeEventListener('abort', onAbort);
      controller.abort();
      settle();
    }
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    action(controller.signal).then(
      (value) => finish(() => resolve(value)),
      (err: unknown) => finish(() => reject(err)),
    );
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
