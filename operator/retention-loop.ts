/**
 * Applies every active policy's retention periodically (leader only), in the store's bounded
 * batches. Failures are logged once per change of state, not per run. A leader-only runnable:
 * stop() waits for a pass in progress.
 */
import { errorMessage, type Logger } from './logging.js';
import type { ActivePolicies } from './policies/active-policies.js';
import type { Timers } from './runtime/clock.js';
import { PeriodicPass } from './runtime/periodic.js';
import type { RetentionRunner } from './store/types.js';

export interface RetentionLoopDeps {
  runner: RetentionRunner;
  /** The active policies, read at each run. */
  policies: ActivePolicies;
  timers: Timers;
  logger: Logger;
  /** Between runs; default 10 min. The first run is after `firstRunMs` (default 1 min). */
  intervalMs?: number;
  firstRunMs?: number;
}

export class RetentionLoop {
  readonly name = 'retention';
  readonly needsLeadership = true;
  private failing = false;

  private readonly periodic: PeriodicPass;

  constructor(private readonly deps: RetentionLoopDeps) {
    this.periodic = new PeriodicPass(
      deps.timers,
      () => this.runOnce(),
      deps.firstRunMs ?? 60_000,
      deps.intervalMs ?? 600_000,
    );
  }

  start(): void {
    this.periodic.start();
  }

  /** No more runs; resolves once a run in progress has finished. */
  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** One pass over every active policy; resolves when done. */
  async runOnce(): Promise<number> {
    let deleted = 0;
    const errors: string[] = [];
    for (const [policy, config] of this.deps.policies) {
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
}
