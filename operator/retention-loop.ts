/**
 * Applies every active policy's retention periodically (leader only), in the store's bounded
 * batches. Failures are logged once per change of state, not per run.
 */
import type { UsagePolicyConfig } from '../api/v1alpha1/normalize.js';
import { errorMessage, type Logger } from './logging.js';
import type { Clock, ObjectKey } from './model.js';
import type { RetentionRunner } from './store/types.js';

export interface RetentionLoopDeps {
  runner: RetentionRunner;
  policies: () => ReadonlyMap<ObjectKey, UsagePolicyConfig>;
  clock: Clock;
  logger: Logger;
  /** Between runs; default 10 min. The first run is after `firstRunMs` (default 1 min). */
  intervalMs?: number;
  firstRunMs?: number;
}

export class RetentionLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private failing = false;

  constructor(private readonly deps: RetentionLoopDeps) {}

  start(): void {
    this.schedule(this.deps.firstRunMs ?? 60_000);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One pass over every active policy; resolves when done. */
  async runOnce(): Promise<number> {
    let deleted = 0;
    const errors: string[] = [];
    for (const [policy, config] of this.deps.policies()) {
      try {
        deleted += (await this.deps.runner.applyRetention(policy, config.retention, this.deps.clock.now()))
          .deleted;
      } catch (err) {
        errors.push(`${policy}: ${errorMessage(err)}`);
      }
    }
    if (errors.length > 0 && !this.failing) this.deps.logger.warn('retention failed', { errors });
    if (errors.length === 0 && this.failing) this.deps.logger.info('retention works again');
    this.failing = errors.length > 0;
    if (deleted > 0) this.deps.logger.info('retention deleted expired usage data', { deleted });
    return deleted;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then(() => undefined)
        .finally(() => {
          if (this.timer) this.schedule(this.deps.intervalMs ?? 600_000);
        });
    }, delayMs);
    this.timer.unref();
  }
}
