/**
 * Circuit breakers on their own, on a fake clock: when a circuit opens, how long it stays
 * open, the single trial after the cool-down, and which deliveries share a breaker (its key
 * function).
 */
import { describe, expect, it } from '@jest/globals';
import {
  CircuitBreakers,
  CircuitOpenError,
  type BreakerSubject,
} from '../../../operator/alerting/notifiers/circuit-breaker.js';
import { silentLogger } from '../../../operator/logging.js';
import { FakeTimers } from '../runtime/fake-timers.js';

const options = { threshold: 3, cooldownMs: 10_000, maxCooldownMs: 25_000 };
const hook = (namespace: string): BreakerSubject => ({
  namespace,
  receiver: 'webhook https://hooks.example',
});

/** Whether a delivery to the subject would be attempted now. */
const attempted = (breakers: CircuitBreakers, subject: BreakerSubject): boolean => {
  try {
    breakers.check(subject);
    return true;
  } catch (err) {
    expect(err).toBeInstanceOf(CircuitOpenError);
    return false;
  }
};

describe('circuit breakers', () => {
  it('open after `threshold` consecutive failures, let one trial through after the cool-down, which doubles while failing', async () => {
    const timers = new FakeTimers();
    const breakers = new CircuitBreakers(options, { timers, logger: silentLogger() });
    const a = hook('team-a');
    for (let i = 0; i < options.threshold - 1; i++) breakers.failed(a);
    expect(attempted(breakers, a)).toBe(true);
    breakers.failed(a);
    expect(attempted(breakers, a)).toBe(false);

    // After the cool-down: one trial, the others still refused while it is in flight.
    await timers.advance(options.cooldownMs);
    expect(attempted(breakers, a)).toBe(true);
    expect(attempted(breakers, a)).toBe(false);
    // The trial fails: open for twice the cool-down, then at most maxCooldownMs.
    breakers.failed(a);
    await timers.advance(2 * options.cooldownMs - 1);
    expect(attempted(breakers, a)).toBe(false);
    await timers.advance(1);
    expect(attempted(breakers, a)).toBe(true);
    breakers.failed(a);
    await timers.advance(options.maxCooldownMs - 1);
    expect(attempted(breakers, a)).toBe(false);
    await timers.advance(1);
    expect(attempted(breakers, a)).toBe(true);

    // A success closes it: the count starts again.
    breakers.succeeded(a);
    for (let i = 0; i < options.threshold - 1; i++) breakers.failed(a);
    expect(attempted(breakers, a)).toBe(true);
  });

  it('are shared by every namespace sending to a receiver by default', () => {
    const breakers = new CircuitBreakers(options, { timers: new FakeTimers(), logger: silentLogger() });
    for (let i = 0; i < options.threshold; i++) breakers.failed(hook('team-a'));
    expect(attempted(breakers, hook('team-b'))).toBe(false);
  });

  it('are separate per key when the key function names the namespace', () => {
    const breakers = new CircuitBreakers(options, {
      timers: new FakeTimers(),
      logger: silentLogger(),
      keyOf: (s) => `${s.namespace}|${s.receiver}`,
    });
    for (let i = 0; i < options.threshold; i++) breakers.failed(hook('team-a'));
    expect(attempted(breakers, hook('team-a'))).toBe(false);
    expect(attempted(breakers, hook('team-b'))).toBe(true);
  });
});
