/**
 * Applies every active policy's retention periodically (leader only), in the store's bounded
 * batches. Failures are logged once per change of state, not per run. A leader-only runnable:
 * stop() waits for a pass in progress.
 */
import type { UsagePolicyConfig } from '../api/v1alpha1/normalize.js';
import { errorMessage, type Logger } from './logging.js';
import type { ObjectKey } from './model.js';
import type { TimerHandle, Timers } from './runtime/clock.js';
import type { RetentionRunner } from './store/types.js';

export interface RetentionLoopDeps {
  runner: RetentionRunner;
  policies: () => ReadonlyMap<ObjectKey, UsagePolicyConfig>;
  timers: Timers;
  logger: Logger;
  /** Between runs; default 10 min. The first run is after `firstRunMs` (default 1 min). */
  intervalMs?: number;
  firstRunMs?: number;
}

export class RetentionLoop {
  readonly name = 'retention';
  readonly needsLeadership = true;
  private timer?: TimerHandle;
  private running?: Promise<void>;
  private active = false;
  private failing = false;

  constructor(private readonly deps: RetentionLoopDeps) {}

  start(): void {
    this.active = true;
    this.schedule(this.deps.firstRunMs ?? 60_000);
  }

  /** No more runs; resolves once a run in progress has finished. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer !== undefined) this.deps.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass over every active policy; resolves when done. */
  async runOnce(): Promise<number> {
    let deleted = 0;
    const errors: string[] = [];
    for (const [policy, config] of this.deps.policies()) {
      try {
        deleted += (await this.deps.runner.applyRetention(policy, config.retention, this.deps.timers.now()))
          .deleted;
      } catch (err) {
        errors.push(`${policy}: ${errorMessage(err)}`);
      }
    }
    try {
      // Readings and buckets expire by their series' own retention, also when no policy is left.
      deleted += (await this.deps.runner.applyExpiry?.(this.deps.timers.now()))?.deleted ?? 0;
    } catch (err) {
      errors.push(`expiry: ${errorMessage(err)}`);
    }
    if (errors.length > 0 && !this.failing) this.deps.logger.warn('retention failed', { errors });
    if (errors.length === 0 && this.failing) this.deps.logger.info('retention works again');
    this.failing = errors.length > 0;
    if (deleted > 0) this.deps.logger.info('retention deleted expired usage data', { deleted });
    return deleted;
  }

  private schedule(delayMs: number): void {
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = undefined;
      this.running = this.runOnce()
        .then(() => undefined)
        .finally(() => {
          this.running = undefined;
          if (this.active) this.schedule(this.deps.intervalMs ?? 600_000);
        });
    }, delayMs);
  }
}
