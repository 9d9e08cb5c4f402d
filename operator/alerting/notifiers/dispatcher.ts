/**
 * Delivers notifications in the background so that evaluation never waits for a receiver.
 * This module composes the parts and owns the streams; each part has one job:
 *
 * - Each (alert, notifier) pair is a stream delivered in order, one at a time: a `resolved`
 *   never overtakes its `fired`, and a slow receiver holds back only its own stream.
 * - A failed delivery is retried on the schedule of retry.ts (by default 5 attempts over about
 *   a minute), unless the receiver's answer says a retry cannot succeed. Every failed attempt
 *   counts in notificationFailures{notifier}; a notification given up (or dropped because
 *   `maxPending` are waiting) marks the notifier as failing for that alert
 *   (delivery-failures.ts: failures()), until a later delivery through it succeeds.
 * - Firing alerts are re-sent every `resendIntervalMs` to repeating notifiers (Alertmanager;
 *   resend.ts).
 * - close() stops accepting work, retries what waits at once, and gives up at its deadline.
 *
 * Tenants share the dispatcher fairly:
 * - Ready streams wait in their lane (lanes.ts), one queue per namespace, served round-robin;
 *   a namespace has at most `concurrencyPerNamespace` HTTP deliveries in flight and
 *   `maxPendingPerNamespace` waiting (beyond that its new notifications are dropped and shown
 *   on its alerts), so a tenant whose receiver never answers holds a bounded share and the
 *   others' notifications go on.
 * - Each receiver has a circuit breaker (circuit-breaker.ts): after `breakerThreshold`
 *   consecutive failures, deliveries to it fail at once (no connection) for a cool-down that
 *   doubles while it keeps failing; after the cool-down one delivery tries it again.
 * - Kubernetes Events (the `local` lane) have their own workers and never wait behind HTTP
 *   deliveries.
 */
import { errorMessage, type Logger } from '../../logging.js';
import type { OperatorMetrics } from '../../metrics.js';
import { objectRef, type ObjectKey } from '../../model.js';
import { sleep, systemTimers, type TimerHandle, type Timers } from '../../runtime/clock.js';
import { CircuitBreakers, CircuitOpenError } from './circuit-breaker.js';
import { DeliveryFailures, type NotifierFailure } from './delivery-failures.js';
import { Lane, type LaneName } from './lanes.js';
import {
  DEFAULT_RESEND_INTERVAL_MS,
  DeliveryError,
  isRepeating,
  type Notification,
  type Notifier,
  type RepeatingNotifier,
} from './notification.js';
import { FiringResends } from './resend.js';
import { attemptsLeft, backoffDelayMs, type RetrySchedule } from './retry.js';

export type { NotifierFailure };

export interface DispatcherOptions extends RetrySchedule {
  /** Notifications waiting (not counting those being sent) before new ones are dropped. */
  maxPending: number;
  /** HTTP deliveries in flight at once, over all streams. */
  concurrency: number;
  resendIntervalMs: number;
  /** Notifications of one namespace waiting before its new ones are dropped. */
  maxPendingPerNamespace: number;
  /** HTTP deliveries of one namespace in flight at once. */
  concurrencyPerNamespace: number;
  /** Event (local) deliveries in flight at once. */
  localConcurrency: number;
  /** Consecutive failures of a receiver that open its circuit. */
  breakerThreshold: number;
  /** First cool-down of an open circuit; doubles while the receiver keeps failing, up to breakerMaxCooldownMs. */
  breakerCooldownMs: number;
  breakerMaxCooldownMs: number;
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  maxAttempts: 5,
  initialBackoffMs: 4_000,
  maxBackoffMs: 30_000,
  jitter: 0.2,
  maxPending: 1_000,
  concurrency: 8,
  resendIntervalMs: DEFAULT_RESEND_INTERVAL_MS,
  maxPendingPerNamespace: 200,
  concurrencyPerNamespace: 2,
  localConcurrency: 4,
  breakerThreshold: 5,
  breakerCooldownMs: 30_000,
  breakerMaxCooldownMs: 300_000,
};

export interface DispatcherDeps {
  metrics: Pick<OperatorMetrics, 'notificationsSent' | 'notificationFailures'>;
  logger: Logger;
  /** Time and timers (backoff, re-sends, the close deadline, circuit cool-downs); the system's by default. */
  timers?: Timers;
  /** Uniform in [0, 1), for jitter. */
  random?: () => number;
  /** Called when failures(alert) changes, so that the controller can update the alert's condition. */
  onFailureChange?: (alert: ObjectKey) => void;
}

interface Job {
  notifier: Notifier;
  /** A transition, or a re-send of all firing alerts (a single attempt: the next re-send retries). */
  work: { notification: Notification } | { resend: readonly Notification[] };
  attempts: number;
  /** Counts this job done for its notification (see enqueue's `onSettled`). */
  settled?: () => void;
}

interface Stream {
  key: string;
  alert: ObjectKey;
  namespace: string;
  lane: LaneName;
  notifier: string;
  jobs: Job[];
  status: 'idle' | 'queued' | 'running' | 'backoff';
  timer?: TimerHandle;
}

export class NotificationDispatcher {
  private readonly options: DispatcherOptions;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly notifiers = new Map<ObjectKey, readonly Notifier[]>();
  private readonly resends: FiringResends;
  private readonly failureState: DeliveryFailures;
  private readonly breakers: CircuitBreakers;
  private readonly streams = new Map<string, Stream>();
  private readonly lanes: Record<LaneName, Lane<Stream>>;
  private readonly waitingByNamespace = new Map<string, number>();
  private readonly abort = new AbortController();
  private readonly idleWaiters: (() => void)[] = [];
  private waiting = 0;
  private inFlight = 0;
  private closed = false;

  constructor(
    private readonly deps: DispatcherDeps,
    options: Partial<DispatcherOptions> = {},
  ) {
    this.options = { ...DEFAULT_DISPATCHER_OPTIONS, ...options };
    for (const [name, value] of Object.entries(this.options)) {
      if (!(Number.isFinite(value) && value >= 0))
        throw new RangeError(`dispatcher option ${name} must be >= 0, got ${value}`);
    }
    const { maxAttempts, concurrency, resendIntervalMs, jitter, concurrencyPerNamespace, localConcurrency } =
      this.options;
    if (
      maxAttempts < 1 ||
      concurrency < 1 ||
      resendIntervalMs < 1 ||
      jitter > 1 ||
      concurrencyPerNamespace < 1 ||
      localConcurrency < 1
    ) {
      throw new RangeError(
        'dispatcher options: maxAttempts, concurrency, concurrencyPerNamespace, localConcurrency and resendIntervalMs must be >= 1, jitter <= 1',
      );
    }
    this.timers = deps.timers ?? systemTimers;
    this.random = deps.random ?? Math.random;
    this.lanes = {
      local: new Lane('local', { concurrency: localConcurrency }),
      http: new Lane('http', { concurrency, concurrencyPerNamespace }),
    };
    this.breakers = new CircuitBreakers(
      {
        threshold: this.options.breakerThreshold,
        cooldownMs: this.options.breakerCooldownMs,
        maxCooldownMs: this.options.breakerMaxCooldownMs,
      },
      { timers: this.timers, logger: deps.logger },
    );
    this.failureState = new DeliveryFailures({
      timers: this.timers,
      logger: deps.logger,
      ...(deps.onFailureChange && { onChange: deps.onFailureChange }),
    });
    this.resends = new FiringResends(this.timers, resendIntervalMs, (alert, firing) =>
      this.resendFiring(alert, firing),
    );
  }

  /** Sets the notifiers of an alert (from its spec); later notifications go to these. */
  configure(alert: ObjectKey, notifiers: readonly Notifier[]): void {
    this.notifiers.set(alert, notifiers);
  }

  /** Forgets an alert (deleted). Deliveries already queued still happen. */
  remove(alert: ObjectKey): void {
    this.notifiers.delete(alert);
    this.resends.remove(alert);
    this.failureState.remove(alert);
  }

  /**
   * Queues a notification for every notifier of its alert; returns at once. `onSettled` is
   * called once every notifier is done with it: delivered, or given up (attempts spent, refused,
   * dropped over a quota). It is not called for what close() leaves undelivered, so that the
   * caller can keep such a notification owed to the next term or process.
   */
  enqueue(notification: Notification, onSettled?: () => void): void {
    const alert = notification.alert;
    const notifiers = this.notifiers.get(alert);
    if (!notifiers) {
      this.deps.logger.warn('notification for an alert that is not configured, not sent', {
        alert,
        transition: notification.transition,
      });
      onSettled?.();
      return;
    }
    this.resends.record(notification);
    let left = notifiers.length;
    const settled =
      onSettled &&
      ((): void => {
        left -= 1;
        if (left === 0) onSettled();
      });
    if (left === 0) onSettled?.();
    for (const notifier of notifiers) this.push(alert, notifier, { notification }, settled);
  }

  /**
   * The alert's announced firings, re-sent periodically to repeating notifiers. Call it after
   * each evaluation (and after resuming from status) with firingNotifications(rule, state).
   */
  setFiring(alert: ObjectKey, firing: readonly Notification[]): void {
    this.resends.set(alert, firing);
  }

  /** Notifiers of the alert that have failed since the operator started (failing or recovered). */
  failures(alert: ObjectKey): NotifierFailure[] {
    return this.failureState.of(alert);
  }

  /** Notifications waiting or being sent. */
  pending(): number {
    return this.waiting + this.inFlight;
  }

  /** Deliveries being sent now (the rest of pending() waits for a worker or a retry). */
  sending(): number {
    return this.inFlight;
  }

  /**
   * Stops accepting notifications and re-sends, retries waiting deliveries at once, and waits
   * until all are done or `deadlineMs` has passed; then aborts what is left, which counts as
   * failed. Returns how many deliveries were not made.
   */
  async close(deadlineMs = 10_000): Promise<{ undelivered: number }> {
    this.closed = true;
    this.resends.stop();
    for (const stream of this.streams.values()) {
      if (stream.status !== 'backoff') continue;
      this.timers.clearTimeout(stream.timer);
      this.makeRunnable(stream);
    }
    this.pump();
    const idle = new AbortController();
    await Promise.race([
      this.whenIdle().then(() => idle.abort()),
      sleep(this.timers, deadlineMs, idle.signal),
    ]);
    const reason = 'the operator stopped before it could be delivered';
    let undelivered = 0;
    for (const stream of this.streams.values()) {
      const running = stream.status === 'running';
      const dropped = stream.jobs.splice(running ? 1 : 0);
      this.addWaiting(stream.namespace, -dropped.length);
      for (const job of dropped) this.giveUp(stream, job, reason, true);
      undelivered += dropped.length + (running ? 1 : 0);
      if (!running) this.streams.delete(stream.key);
    }
    this.lanes.local.clear();
    this.lanes.http.clear();
    this.abort.abort(new Error(reason));
    await this.whenIdle();
    return { undelivered };
  }

  private push(alert: ObjectKey, notifier: Notifier, work: Job['work'], settled?: () => void): void {
    const namespace = objectRef(alert).namespace;
    const nsWaiting = this.waitingByNamespace.get(namespace) ?? 0;
    if (
      this.closed ||
      this.waiting >= this.options.maxPending ||
      nsWaiting >= this.options.maxPendingPerNamespace
    ) {
      const reason = this.closed
        ? 'dropped: the dispatcher is closed'
        : this.waiting >= this.options.maxPending
          ? `dropped: ${this.waiting} notifications already waiting (maxPending)`
          : `dropped: ${nsWaiting} notifications of namespace ${namespace} already waiting (the per-namespace quota)`;
      this.recordFailure(alert, notifier.name, reason, true, 'dropped');
      if (!this.closed) settled?.();
      return;
    }
    const key = streamKey(alert, notifier);
    let stream = this.streams.get(key);
    if (!stream) {
      stream = {
        key,
        alert,
        namespace,
        lane: notifier.lane ?? 'http',
        notifier: notifier.name,
        jobs: [],
        status: 'idle',
      };
      this.streams.set(key, stream);
    }
    stream.jobs.push({ notifier, work, attempts: 0, ...(settled && { settled }) });
    this.addWaiting(namespace, 1);
    if (stream.status === 'idle') this.makeRunnable(stream);
    this.pump();
  }

  private addWaiting(namespace: string, delta: number): void {
    this.waiting += delta;
    const n = (this.waitingByNamespace.get(namespace) ?? 0) + delta;
    if (n <= 0) this.waitingByNamespace.delete(namespace);
    else this.waitingByNamespace.set(namespace, n);
  }

  /** A re-send of the alert's firings to each repeating notifier that has none waiting. */
  private resendFiring(alert: ObjectKey, resend: readonly Notification[]): void {
    for (const notifier of this.notifiers.get(alert) ?? []) {
      if (!isRepeating(notifier)) continue;
      const stream = this.streams.get(streamKey(alert, notifier));
      const waiting = stream?.jobs.filter((job, i) => i > 0 || stream.status !== 'running');
      if (!waiting?.some((job) => 'resend' in job.work)) this.push(alert, notifier, { resend });
    }
  }

  private makeRunnable(stream: Stream): void {
    stream.status = 'queued';
    this.lanes[stream.lane].push(stream);
  }

  private pump(): void {
    const start = (stream: Stream): void => void this.run(stream);
    this.lanes.local.startReady(start);
    this.lanes.http.startReady(start);
    if (this.inFlight === 0 && this.waiting === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  private async run(stream: Stream): Promise<void> {
    const job = stream.jobs[0];
    if (!job) return;
    stream.status = 'running';
    this.addWaiting(stream.namespace, -1);
    this.startFlight(stream, 1);
    job.attempts += 1;
    const receiver = job.notifier.receiver ?? job.notifier.name;
    const breaker = { namespace: stream.namespace, receiver };
    try {
      await this.deliver(job, breaker);
      this.deps.metrics.notificationsSent.inc({ notifier: job.notifier.name });
      this.breakers.succeeded(breaker);
      this.failureState.succeeded(stream.alert, job.notifier.name);
      stream.jobs.shift();
      job.settled?.();
    } catch (err) {
      this.deps.metrics.notificationFailures.inc({ notifier: job.notifier.name });
      if (!(err instanceof CircuitOpenError)) this.breakers.failed(breaker);
      const retryable = !(err instanceof DeliveryError && !err.retryable) && !this.abort.signal.aborted;
      if (retryable && attemptsLeft(this.options, job.attempts, 'resend' in job.work) > 0) {
        this.deps.logger.debug('notification attempt failed, retrying', {
          alert: stream.alert,
          notifier: job.notifier.name,
          receiver,
          attempt: job.attempts,
          error: errorMessage(err),
        });
        this.startFlight(stream, -1);
        this.addWaiting(stream.namespace, 1);
        this.backoff(stream, job.attempts);
        this.pump();
        return;
      }
      stream.jobs.shift();
      this.giveUp(stream, job, err, false);
      // Given up at close (aborted): owed to the next term, not settled.
      if (!this.abort.signal.aborted) job.settled?.();
    }
    this.startFlight(stream, -1);
    if (stream.jobs.length > 0) this.makeRunnable(stream);
    else {
      stream.status = 'idle';
      this.streams.delete(stream.key);
    }
    this.pump();
  }

  private startFlight(stream: Stream, delta: number): void {
    this.inFlight += delta;
    this.lanes[stream.lane].flight(stream.namespace, delta);
  }

  private deliver(job: Job, breaker: { namespace: string; receiver: string }): Promise<void> {
    const signal = this.abort.signal;
    const { notifier, work } = job;
    // A notifier that throws synchronously still becomes a failed delivery.
    return Promise.resolve().then(() => {
      this.breakers.check(breaker);
      return 'resend' in work
        ? (notifier as RepeatingNotifier).resend(work.resend, signal)
        : notifier.send(work.notification, signal);
    });
  }

  private backoff(stream: Stream, attempts: number): void {
    const delay = backoffDelayMs(this.options, attempts, this.random);
    if (this.closed) {
      this.makeRunnable(stream);
      return;
    }
    stream.status = 'backoff';
    stream.timer = this.timers.setTimeout(() => {
      stream.timer = undefined;
      this.makeRunnable(stream);
      this.pump();
    }, delay);
  }

  private giveUp(stream: Stream, job: Job, err: unknown, neverAttempted: boolean): void {
    const what =
      'resend' in job.work ? 're-send of firing alerts' : `${job.work.notification.transition} notification`;
    const error = typeof err === 'string' ? err : errorMessage(err);
    this.deps.logger.warn('notification not delivered', {
      alert: stream.alert,
      notifier: stream.notifier,
      receiver: job.notifier.receiver ?? job.notifier.name,
      attempts: job.attempts,
      error,
      what,
    });
    const delivery = err instanceof DeliveryError ? err : undefined;
    this.recordFailure(
      stream.alert,
      stream.notifier,
      `${what} not delivered after ${job.attempts} attempt(s): ${error}`,
      neverAttempted,
      delivery?.failureClass ?? (typeof err === 'string' ? 'dropped' : 'delivery failed'),
      delivery?.addressClass,
    );
  }

  /** `uncounted`: no failed attempt has been counted for it yet (dropped, or never attempted). */
  private recordFailure(
    alert: ObjectKey,
    notifier: string,
    error: string,
    uncounted: boolean,
    errorClass: string,
    addressClass?: string,
  ): void {
    if (uncounted) this.deps.metrics.notificationFailures.inc({ notifier });
    if (!this.notifiers.has(alert)) return; // removed meanwhile: no condition to show it on
    this.failureState.failed(alert, notifier, error, errorClass, addressClass);
  }

  private whenIdle(): Promise<void> {
    if (this.inFlight === 0 && this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

function streamKey(alert: ObjectKey, notifier: Notifier): string {
  return `${alert}\u0000${notifier.name}`;
}
