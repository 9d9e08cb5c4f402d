/**
 * Circuit breakers, one per key: after `threshold` consecutive failed deliveries that share a
 * key, the next ones fail at once (no connection) for a cool-down that doubles while they
 * keep failing, up to `maxCooldownMs`. After the cool-down one delivery (the trial) tries
 * again: its success closes the circuit, its failure opens it for the next cool-down; other
 * deliveries fail at once while the trial is in flight.
 *
 * What shares a breaker is the key function's choice: the dispatcher keys by receiver
 * ({@link receiverKey}), so every alert sending to one receiver trips and waits together.
 * A delivery failed by an open circuit ({@link CircuitOpenError}) is not counted as a failure
 * of the receiver.
 */
import type { Logger } from '../../logging.js';
import type { Timers } from '../../runtime/clock.js';
import { DeliveryError } from './notification.js';

/** What a delivery tells the breakers about itself. */
export interface BreakerSubject {
  /** The namespace of the alert the delivery belongs to. */
  namespace: string;
  /** The receiver it connects to (a notifier's `receiver`, or its name). */
  receiver: string;
}

/** One breaker per receiver, shared by every namespace. */
export const receiverKey = (subject: BreakerSubject): string => subject.receiver;

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  threshold: number;
  /** First cool-down of an open circuit. */
  cooldownMs: number;
  maxCooldownMs: number;
}

/** A delivery not attempted because its circuit is open. */
export class CircuitOpenError extends DeliveryError {
  constructor(failures: number) {
    super(
      `circuit open: the receiver failed ${failures} times in a row; retrying it later`,
      true,
      'circuit open',
    );
  }
}

interface Breaker {
  consecutiveFailures: number;
  /** While now < openUntil, deliveries fail at once. */
  openUntil: number;
  cooldownMs: number;
  /** A trial delivery is in flight after the cool-down (half-open). */
  trial: boolean;
}

export class CircuitBreakers {
  private readonly breakers = new Map<string, Breaker>();

  constructor(
    private readonly options: BreakerOptions,
    private readonly deps: { timers: Timers; logger: Logger; keyOf?: (subject: BreakerSubject) => string },
  ) {}

  /** Throws a CircuitOpenError while the subject's circuit is open (or its trial is in flight). */
  check(subject: BreakerSubject): void {
    const breaker = this.breakers.get(this.keyOf(subject));
    if (!breaker || breaker.consecutiveFailures < this.options.threshold) return;
    const now = this.deps.timers.now();
    if (now < breaker.openUntil || breaker.trial) throw new CircuitOpenError(breaker.consecutiveFailures);
    breaker.trial = true;
  }

  /** A delivery succeeded: the circuit closes and its count starts again. */
  succeeded(subject: BreakerSubject): void {
    this.breakers.delete(this.keyOf(subject));
  }

  /** A delivery failed (not one refused by the open circuit itself). */
  failed(subject: BreakerSubject): void {
    const { threshold, cooldownMs, maxCooldownMs } = this.options;
    const key = this.keyOf(subject);
    const breaker = this.breakers.get(key) ?? {
      consecutiveFailures: 0,
      openUntil: 0,
      cooldownMs: 0,
      trial: false,
    };
    breaker.consecutiveFailures += 1;
    if (breaker.consecutiveFailures >= threshold) {
      breaker.cooldownMs =
        breaker.cooldownMs === 0 ? cooldownMs : Math.min(maxCooldownMs, breaker.cooldownMs * 2);
      breaker.openUntil = this.deps.timers.now() + breaker.cooldownMs;
      if (!breaker.trial)
        this.deps.logger.warn('receiver failing, circuit opened', {
          receiver: key,
          consecutiveFailures: breaker.consecutiveFailures,
          cooldownMs: breaker.cooldownMs,
        });
      breaker.trial = false;
    }
    this.breakers.set(key, breaker);
  }

  private keyOf(subject: BreakerSubject): string {
    return (this.deps.keyOf ?? receiverKey)(subject);
  }
}
