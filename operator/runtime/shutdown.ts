import { errorMessage, type Logger } from '../logging.js';
import { systemTimers, type Timers } from './clock.js';

export type ShutdownSignal = 'SIGTERM' | 'SIGINT';

/** The part of `process` the handler uses, injectable for tests. */
export interface ProcessLike {
  on(signal: ShutdownSignal, listener: () => void): unknown;
  off(signal: ShutdownSignal, listener: () => void): unknown;
  exit(code: number): void;
}

export interface ShutdownOptions {
  /** Stops the operator: intake first, then drain, then release the lease. */
  shutdown: (signal: ShutdownSignal) => Promise<void>;
  logger: Logger;
  /** Exit with 1 if shutting down takes longer. Default 25 s (the pod's default grace is 30 s). */
  timeoutMs?: number;
  process?: ProcessLike;
  timers?: Timers;
}

const SIGNALS: ShutdownSignal[] = ['SIGTERM', 'SIGINT'];

/**
 * On the first SIGTERM or SIGINT, runs `shutdown` and exits with 0 (1 if it failed or timed
 * out). A second signal exits at once with 1. Returns a function that removes the handlers.
 */
export function exitOnShutdownSignal(options: ShutdownOptions): () => void {
  const proc: ProcessLike = options.process ?? process;
  const timers = options.timers ?? systemTimers;
  const { logger } = options;
  let shuttingDown = false;
  let exited = false;

  const exit = (code: number): void => {
    if (exited) return;
    exited = true;
    remove();
    proc.exit(code);
  };

  const listeners = SIGNALS.map((signal) => {
    const listener = (): void => {
      if (shuttingDown) {
        logger.warn('second signal; exiting at once', { signal });
        return exit(1);
      }
      shuttingDown = true;
      const timeoutMs = options.timeoutMs ?? 25_000;
      logger.info('shutting down', { signal, timeoutMs });
      const timeout = timers.setTimeout(() => {
        logger.error('shutdown timed out; exiting', { timeoutMs });
        exit(1);
      }, timeoutMs);
      options.shutdown(signal).then(
        () => {
          timers.clearTimeout(timeout);
          logger.info('shut down cleanly');
          exit(0);
        },
        (err: unknown) => {
          timers.clearTimeout(timeout);
          logger.error('shutdown failed', { error: errorMessage(err) });
          exit(1);
        },
      );
    };
    proc.on(signal, listener);
    return [signal, listener] as const;
  });

  function remove(): void {
    for (const [signal, listener] of listeners) proc.off(signal, listener);
  }
  return remove;
}
