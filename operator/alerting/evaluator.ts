/**
 * The alert state machine, pure: previous state + the samples of one collection cycle ->
 * next state + transitions. Per target and metric:
 *
 *   Normal --breach--> Pending (breaches < for) --breach--> Firing (breaches >= for)
 *   Pending --healthy--> Normal
 *   Firing --healthy x recoverAfter (consecutive)--> Normal (resolved)
 *   any --percent threshold without limit/request--> NoBasis (a Firing target resolves)
 *
 * No data: a target that is known (has state) and whose sample has no value (pod matched,
 * no metrics) follows `noData`: keep = counters unchanged, resolve = a healthy sample,
 * alert = a breaching sample. A target never seen with a value is not created by a sample
 * without one.
 *
 * Gone targets: a target with no sample at all (pod deleted, or no longer selected) keeps
 * its counters for GONE_AFTER_CYCLES - 1 cycles, then is dropped; if it was firing and
 * announced, a `resolved` transition (cause `targetGone`) closes it at the receivers.
 *
 * Muting (now < muteUntil): everything is evaluated, but a new firing is not announced
 * (`notify: false`); if it is still firing when the mute ends, it is announced then
 * (`delayed: true`), as Alertmanager does when a silence expires. A resolution is announced
 * exactly when its firing was (or may have been), even during a mute: it closes an incident
 * the receivers know.
 *
 * Suspended: nothing is evaluated, the state is returned as it was.
 *
 * Once per transition: a firing is announced once; `firingNotified` records it in the state.
 * The controller stores it in status as not notified until the firing has been delivered, so
 * that a state resumed after a crash between the status write and the delivery has
 * `firingNotified: false`, and the next evaluation announces the firing (`delayed`) once. Such
 * a resumed firing is `maybeNotified` (the crash may have come after the delivery, before the
 * write that records it): if it resolves first, the resolution is announced all the same.
 */
import type { CollectionCycle } from '../model.js';
import { checkRule, type AlertRule, type Metric } from './rule.js';
import type { AlertState, MetricState, TargetEntry, TargetRef, ThresholdBasis } from './state.js';
import { observeTargets, targetRef, type ObservedTarget } from './targets.js';

/** Cycles without any sample after which a target is forgotten. */
export const GONE_AFTER_CYCLES = 3;

export type TransitionCause =
  /** fired: the value breached the threshold `for` times in a row. */
  | 'threshold'
  /** fired with noData=alert, or resolved with noData=resolve: samples without a value. */
  | 'noData'
  /** resolved: `recoverAfter` healthy samples in a row. */
  | 'recovered'
  /** resolved: the target has had no sample for GONE_AFTER_CYCLES cycles. */
  | 'targetGone'
  /** resolved: the limit or request a percent threshold is taken of has been removed. */
  | 'noBasis'
  /** resolved: the rule no longer has a threshold for the metric. */
  | 'thresholdRemoved';

export interface Transition {
  kind: 'fired' | 'resolved';
  ref: TargetRef;
  metric: Metric;
  cause: TransitionCause;
  /** The value at the transition (null: no data); millicores or bytes. */
  value: number | null;
  threshold: number | null;
  basis?: ThresholdBasis;
  /** Consecutive breaches when it fired (or at the last breach before resolving). */
  breaches: number;
  /** When the target started firing (Alertmanager startsAt). */
  firingSince: number;
  /** When the transition was evaluated. */
  at: number;
  /** Hand it to the notifiers. False for a firing while muted, and for a resolution of a firing never announced. */
  notify: boolean;
  /** Announces a firing that started while the alert was muted (or before a restart) and is still going on. */
  delayed: boolean;
}

export interface Evaluation {
  state: AlertState;
  transitions: Transition[];
}

/**
 * Evaluates `rule` over one collection cycle of its policy. `previous` is not modified.
 * Throws when the cycle belongs to another policy or the rule is invalid (programming errors).
 */
export function evaluate(
  rule: AlertRule,
  previous: AlertState,
  cycle: CollectionCycle,
  now: number,
): Evaluation {
  if (rule.suspend) return { state: previous, transitions: [] };
  if (cycle.policy !== rule.policy) {
    throw new Error(`alert ${rule.key} evaluates policy ${rule.policy}, not a cycle of ${cycle.policy}`);
  }
  checkRule(rule);
  // A resumed firing that is not notified was announced (and perhaps delivered) if the last
  // evaluation before the resume was not muted: unmuted evaluations announce every firing.
  const lastUnmuted =
    rule.muteUntil === undefined ||
    (previous.lastEvaluationTime !== undefined && previous.lastEvaluationTime >= rule.muteUntil);
  const run = new Run(rule, now, previous.lastAlertedAt, lastUnmuted);
  const observed = observeTargets(rule, cycle);
  const targets = new Map<string, TargetEntry>();

  let seenBefore = 0;
  for (const [key, target] of observed) {
    const before = previous.targets.get(key);
    if (before) seenBefore += 1;
    const ref = before?.ref ?? targetRef(rule.scope, target.sample);
    const cpu = run.settle(
      ref,
      'cpu',
      before?.metrics.cpu,
      step(before?.metrics.cpu, target, 'cpu', rule, now),
    );
    const memory = run.settle(
      ref,
      'memory',
      before?.metrics.memory,
      step(before?.metrics.memory, target, 'memory', rule, now),
    );
    if (cpu || memory) targets.set(key, { ref, metrics: { cpu, memory }, absentCycles: 0 });
  }

  if (seenBefore < previous.targets.size) {
    for (const [key, entry] of previous.targets) {
      if (observed.has(key)) continue;
      const gone = entry.absentCycles + 1 >= GONE_AFTER_CYCLES;
      const { cpu: lastCpu, memory: lastMemory } = entry.metrics;
      const cause: TransitionCause = gone ? 'targetGone' : 'thresholdRemoved';
      const cpu = run.settle(entry.ref, 'cpu', lastCpu, gone || !rule.cpu ? undefined : lastCpu, cause);
      const memory = run.settle(
        entry.ref,
        'memory',
        lastMemory,
        gone || !rule.memory ? undefined : lastMemory,
        cause,
      );
      if (!cpu && !memory) continue;
      targets.set(key, { ref: entry.ref, metrics: { cpu, memory }, absentCycles: entry.absentCycles + 1 });
    }
  }

  const state: AlertState = { targets, lastEvaluationTime: now };
  if (run.lastAlertedAt !== undefined) state.lastAlertedAt = run.lastAlertedAt;
  return { state, transitions: run.transitions };
}

/** Collects the transitions of one evaluation. */
class Run {
  readonly transitions: Transition[] = [];
  private readonly muted: boolean;

  constructor(
    private readonly rule: AlertRule,
    private readonly now: number,
    public lastAlertedAt: number | undefined,
    private readonly lastUnmuted: boolean,
  ) {
    this.muted = rule.muteUntil !== undefined && now < rule.muteUntil;
  }

  /**
   * Emits the transition between `last` and `next` (undefined = forgotten; `dropCause` says
   * why) and returns `next`, marked as announced when it is announced now.
   */
  settle(
    ref: TargetRef,
    metric: Metric,
    last: MetricState | undefined,
    next: MetricState | undefined,
    dropCause: TransitionCause = 'thresholdRemoved',
  ): MetricState | undefined {
    const wasFiring = last?.state === 'Firing';
    if (wasFiring && next?.state !== 'Firing') {
      const cause: TransitionCause =
        next === undefined
          ? dropCause
          : next.state === 'NoBasis'
            ? 'noBasis'
            : next.value === null
              ? 'noData'
              : 'recovered';
      const announced =
        last.firingNotified || (last.maybeNotified === true && this.lastUnmuted && !this.muted);
      this.emit('resolved', ref, metric, cause, next ?? last, last, announced, false);
      return next;
    }
    if (next?.state !== 'Firing' || next.firingNotified) return next;
    const cause: TransitionCause = next.value === null ? 'noData' : 'threshold';
    if (this.muted) {
      if (!wasFiring) this.emit('fired', ref, metric, cause, next, next, false, false);
      return next;
    }
    this.emit('fired', ref, metric, cause, next, next, true, wasFiring);
    this.lastAlertedAt = this.now;
    return { ...next, firingNotified: true };
  }

  private emit(
    kind: Transition['kind'],
    ref: TargetRef,
    metric: Metric,
    cause: TransitionCause,
    current: MetricState,
    firing: MetricState,
    notify: boolean,
    delayed: boolean,
  ): void {
    const transition: Transition = {
      kind,
      ref,
      metric,
      cause,
      value: current.value,
      threshold: current.threshold ?? firing.threshold,
      breaches: firing.breaches,
      firingSince: firing.since,
      at: this.now,
      notify,
      delayed,
    };
    const basis = current.basis ?? firing.basis;
    if (basis) transition.basis = basis;
    this.transitions.push(transition);
  }
}

/**
 * One step of the state machine for one metric of an observed target; undefined when the
 * rule has no threshold for the metric, or when a target never seen with a value has none.
 */
function step(
  last: MetricState | undefined,
  target: ObservedTarget,
  metric: Metric,
  rule: AlertRule,
  now: number,
): MetricState | undefined {
  const threshold = rule[metric];
  if (!threshold) return undefined;
  const value = metric === 'cpu' ? target.cpuMillicores : target.memoryBytes;
  let limit: number;
  let basis: ThresholdBasis | undefined;
  if (threshold.kind === 'absolute') {
    limit = threshold.value;
  } else {
    const amount = target.resources[basisField(metric, threshold.of)];
    if (amount === undefined || amount <= 0) return noBasis(last, value, now);
    const same =
      last?.basis?.amount === amount &&
      last.basis.percent === threshold.percent &&
      last.basis.of === threshold.of;
    basis = same ? last.basis : { percent: threshold.percent, of: threshold.of, amount };
    limit = (amount * threshold.percent) / 100;
  }
  if (value !== null) return count(last, value > limit, value, limit, basis, rule, now);
  if (last === undefined) return undefined;
  if (rule.noData === 'keep') return { ...last, value: null, threshold: limit, basis };
  return count(last, rule.noData === 'alert', null, limit, basis, rule, now);
}

function basisField(metric: Metric, of: 'limit' | 'request') {
  if (metric === 'cpu') return of === 'limit' ? 'cpuLimitMillicores' : 'cpuRequestMillicores';
  return of === 'limit' ? 'memoryLimitBytes' : 'memoryRequestBytes';
}

function noBasis(last: MetricState | undefined, value: number | null, now: number): MetricState {
  return {
    state: 'NoBasis',
    breaches: 0,
    healthy: 0,
    since: last?.state === 'NoBasis' ? last.since : now,
    value,
    threshold: null,
    basis: undefined,
    firingNotified: false,
  };
}

function count(
  last: MetricState | undefined,
  breach: boolean,
  value: number | null,
  threshold: number,
  basis: ThresholdBasis | undefined,
  rule: AlertRule,
  now: number,
): MetricState {
  const breaches = breach ? (last?.breaches ?? 0) + 1 : 0;
  const healthy = breach ? 0 : (last?.healthy ?? 0) + 1;
  const lastState = last?.state ?? 'Normal';
  const state =
    lastState === 'Firing'
      ? breach || healthy < rule.recoverAfter
        ? 'Firing'
        : 'Normal'
      : !breach
        ? 'Normal'
        : breaches >= rule.for
          ? 'Firing'
          : 'Pending';
  return {
    state,
    breaches,
    healthy,
    since: state === lastState && last ? last.since : now,
    value,
    threshold,
    basis,
    firingNotified: state === 'Firing' && last?.firingNotified === true,
  };
}
