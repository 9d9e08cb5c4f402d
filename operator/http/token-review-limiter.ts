import type { Clock } from '../model.js';

/**
 * The bound on TokenReviews of tokens the API has not seen: a token bucket, `ratePerSecond`
 * sustained, up to `burst` at once. A review over the bound is refused, not delayed.
 */
export class TokenReviewLimiter {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.updatedAt = clock.now();
  }

  /** Takes one token; false when none is left. */
  take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.ratePerSecond);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
