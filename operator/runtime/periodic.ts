/**
 * Runs a pass after a first delay and then every interval, one pass at a time (the next is
 * scheduled when the previous has ended). stop() cancels the next pass and waits for one in
 * progress. The timing of the leader-only loops (retention, right-sizing).
 */
import type { TimerHandle, Timers } from './clock.js';

export class PeriodicPass {
  private timer?: TimerHandle;
  private running?: Promise<void>;
  private active = false;

  constructor(
    private readonly timers: Timers,
    private readonly pass: () => Promise<unknown>,
    private readonly firstRunMs: number,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.active = true;
    this.schedule(this.firstRunMs);
  }

  /** No more passes; resolves once a pass in progress has finished. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.running = this.pass()
        .then(() => undefined)
        .finally(() => {
          this.running = undefined;
          if (this.active) this.schedule(this.intervalMs);
        });
    }, delayMs);
  }
}
