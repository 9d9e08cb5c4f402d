/**
 * The retry schedule of a failed delivery: exponential backoff from `initialBackoffMs`,
 * doubling per attempt up to `maxBackoffMs`, each delay spread by +/- `jitter` so that
 * receivers failing together are not retried together; at most `maxAttempts` attempts, the
 * first included. A re-send of firing alerts is attempted once (the next re-send retries it).
 */
export interface RetrySchedule {
  /** Attempts per notification, the first included. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Spread of each backoff delay: 0.2 = +/-20%. */
  jitter: number;
}

/** Attempts left after `attempts` were made: none for a re-send. */
export function attemptsLeft(schedule: RetrySchedule, attempts: number, resend: boolean): number {
  return resend ? 0 : schedule.maxAttempts - attempts;
}

/** The wait before the next attempt, after `attempts` attempts; `random` is uniform in [0, 1). */
export function backoffDelayMs(schedule: RetrySchedule, attempts: number, random: () => number): number {
  const { initialBackoffMs, maxBackoffMs, jitter } = schedule;
  const base = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempts - 1));
  return base * (1 - jitter + 2 * jitter * random());
}
