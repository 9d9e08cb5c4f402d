/**
 * The alert's state as it appears on the ResourceAlert (`status`), and back: the controller
 * writes toStatus(...) and, after a restart or a failover, resumes with fromStatus(status).
 *
 * Status is bounded, so it lists the targets that are not Normal only (Normal targets have no
 * streak worth keeping), worst first, at most `maxTargets`. A target beyond the bound is not
 * resumed after a restart: it starts counting again, and if it was firing it fires (and is
 * announced) again. With the CRD's bound of 50, up to 50 firing or pending targets resume exactly.
 */
import { ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { describeMetricState } from './describe.js';
import { formatQuantity, formatTime } from './format.js';
import { METRICS, type AlertRule, type Metric } from './rule.js';
import {
  targetKey,
  type AlertState,
  type MetricState,
  type TargetEntry,
  type TargetRef,
  type TargetState,
} from './state.js';
import type { NotifierFailure } from './notifiers/dispatcher.js';

export interface StatusLimits {
  /** Most entries in `status.targets` (the CRD's maxItems, MAX_STATUS_TARGETS in api/v1alpha1). */
  maxTargets: number;
}

/** One target and metric in `status.targets`. */
export interface AlertStatusTarget {
  namespace: string;
  pod: string;
  /** Absent for the pod scope. */
  container?: string;
  metric: Metric;
  /** Last value as a quantity ("910m", "1.5Gi"); absent when there was none. */
  value?: string;
  /** Effective threshold as a quantity; absent when there is no basis. */
  threshold?: string;
  breaches: number;
  healthy: number;
  state: TargetState;
  /** When the target entered its state (RFC 3339). */
  since: string;
  /** A firing that has been delivered (the controller writes false until then); it is not announced again after a restart. */
  firingNotified?: boolean;
  /**
   * Set by the controller on a Normal entry it lists while the target's resolution is not yet
   * delivered (RFC 3339); such an entry is not evaluator state (fromStatus skips it).
   */
  resolvedAt?: string;
}

/** A condition without the times and generation, which the controller sets when it merges. */
export interface AlertCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export type AlertSummaryState = 'Normal' | 'Pending' | 'Firing';
export type AlertStateName = 'normal' | 'cpu_alert' | 'mem_alert' | 'both_alert';

export interface AlertStatus {
  /** Worst over targets. */
  state: AlertSummaryState;
  alertState: AlertStateName;
  /** Largest current streak of consecutive breaches over targets. */
  cpuConsecutiveBreaches: number;
  memConsecutiveBreaches: number;
  /** Targets with a firing metric; pending ones have a pending metric and none firing. */
  firingTargets: number;
  pendingTargets: number;
  noBasisTargets: number;
  lastEvaluationTime?: string;
  lastAlertedAt?: string;
  targets: AlertStatusTarget[];
  /** The `Firing` condition. */
  conditions: AlertCondition[];
}

interface Row {
  ref: TargetRef;
  metric: Metric;
  s: MetricState;
}

const RANK: Record<TargetState, number> = { Firing: 0, Pending: 1, NoBasis: 2, Normal: 3 };

export function toStatus(state: AlertState, rule: AlertRule, now: number, limits: StatusLimits): AlertStatus {
  // The worst rows in order: the listed targets, and at least the worst for the condition.
  const worst = new WorstRows(Math.max(limits.maxTargets, 1));
  let worstNoBasis: Row | undefined;
  const counts: Record<TargetState, number> = { Firing: 0, Pending: 0, NoBasis: 0, Normal: 0 };
  const firingMetrics = new Set<Metric>();
  const streak: Record<Metric, number> = { cpu: 0, memory: 0 };
  for (const entry of state.targets.values()) {
    let targetState: TargetState = 'Normal';
    for (const metric of METRICS) {
      const s = entry.metrics[metric];
      if (!s) continue;
      streak[metric] = Math.max(streak[metric], s.breaches);
      if (s.state === 'Firing') firingMetrics.add(metric);
      if (s.state === 'Normal') continue;
      const row = { ref: entry.ref, metric, s };
      worst.offer(row);
      if (s.state === 'NoBasis' && (!worstNoBasis || compareRows(row, worstNoBasis) < 0)) worstNoBasis = row;
      if (RANK[s.state] < RANK[targetState]) targetState = s.state;
    }
    // A target counts once, under its worst metric; Normal targets are not counted.
    if (targetState !== 'Normal') counts[targetState] += 1;
  }

  const format = new StatusFormatter();
  const status: AlertStatus = {
    state: counts.Firing > 0 ? 'Firing' : counts.Pending > 0 ? 'Pending' : 'Normal',
    alertState: alertStateName(firingMetrics),
    cpuConsecutiveBreaches: streak.cpu,
    memConsecutiveBreaches: streak.memory,
    firingTargets: counts.Firing,
    pendingTargets: counts.Pending,
    noBasisTargets: counts.NoBasis,
    targets: worst.rows.slice(0, limits.maxTargets).map((row) => format.target(row)),
    conditions: [firingCondition(state, rule, worst.rows[0], worstNoBasis, firingMetrics, counts, now)],
  };
  if (state.lastEvaluationTime !== undefined)
    status.lastEvaluationTime = formatTime(state.lastEvaluationTime);
  if (state.lastAlertedAt !== undefined) status.lastAlertedAt = formatTime(state.lastAlertedAt);
  return status;
}

/**
 * The first `limit` rows in status order (as a stable sort by compareRows would list them),
 * kept while the rows are offered, without sorting all of them: an alert may have thousands
 * of targets that are not Normal, and status lists a few.
 */
class WorstRows {
  readonly rows: Row[] = [];

  constructor(private readonly limit: number) {}

  offer(row: Row): void {
    const last = this.rows.at(-1);
    if (this.rows.length === this.limit && last && compareRows(row, last) >= 0) return;
    // After the rows that rank the same: offered earlier, listed earlier, as in a stable sort.
    let low = 0;
    let high = this.rows.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareRows(row, this.rows[middle]!) < 0) high = middle;
      else low = middle + 1;
    }
    this.rows.splice(low, 0, row);
    if (this.rows.length > this.limit) this.rows.pop();
  }
}

/**
 * Formats the targets of one status. Targets share times (they change state on the same
 * cycles) and often thresholds, and formatting a time or a quantity costs far more than a
 * lookup, so each distinct time and quantity is formatted once per status.
 */
class StatusFormatter {
  private readonly times = new Map<number, string>();
  private readonly quantities: Record<Metric, Map<number, string>> = { cpu: new Map(), memory: new Map() };

  target({ ref, metric, s }: Row): AlertStatusTarget {
    const target: AlertStatusTarget = {
      namespace: ref.namespace,
      pod: ref.pod,
      metric,
      breaches: s.breaches,
      healthy: s.healthy,
      state: s.state,
      since: this.time(s.since),
    };
    if (ref.container !== undefined) target.container = ref.container;
    if (s.value !== null) target.value = this.quantity(metric, s.value);
    if (s.threshold !== null) target.threshold = this.quantity(metric, s.threshold);
    if (s.state === 'Firing') target.firingNotified = s.firingNotified;
    return target;
  }

  private time(ms: number): string {
    return cached(this.times, ms, formatTime);
  }

  private quantity(metric: Metric, value: number): string {
    return cached(this.quantities[metric], value, (v) => formatQuantity(metric, v));
  }
}

function cached(cache: Map<number, string>, key: number, format: (key: number) => string): string {
  let text = cache.get(key);
  if (text === undefined) {
    text = format(key);
    cache.set(key, text);
  }
  return text;
}

/** What fromStatus reads: the status as the API server returns it (fields checked, not trusted). */
export interface ResumableStatus {
  targets?: readonly {
    namespace?: string;
    pod: string;
    container?: string;
    metric: string;
    breaches: number;
    healthy: number;
    state: string;
    since?: string;
    firingNotified?: boolean;
    resolvedAt?: string;
  }[];
  lastEvaluationTime?: string;
  lastAlertedAt?: string;
}

/**
 * The state to resume from after a restart: the listed targets with their counters and
 * states (values are unknown until the next sample). Throws naming the field when an
 * entry cannot be read; the controller then starts from an empty state and says so.
 */
export function fromStatus(status: ResumableStatus): AlertState {
  const targets = new Map<string, TargetEntry>();
  (status.targets ?? []).forEach((t, i) => {
    if (t.resolvedAt !== undefined) return; // a resolution owed to the receivers, not state
    const field = `status.targets[${i}]`;
    const metric = METRICS.find((m) => m === t.metric);
    if (!metric) throw new Error(`${field}.metric: unknown metric ${JSON.stringify(t.metric)}`);
    const state = (Object.keys(RANK) as TargetState[]).find((s) => s === t.state);
    if (!state) throw new Error(`${field}.state: cannot resume from state ${JSON.stringify(t.state)}`);
    for (const counter of ['breaches', 'healthy'] as const) {
      if (!Number.isInteger(t[counter]) || t[counter] < 0) {
        throw new Error(`${field}.${counter}: not a count: ${JSON.stringify(t[counter])}`);
      }
    }
    if (t.namespace === undefined) throw new Error(`${field}.namespace: required`);
    if (t.since === undefined) throw new Error(`${field}.since: required`);
    const ref: TargetRef = { namespace: t.namespace, pod: t.pod };
    if (t.container !== undefined) ref.container = t.container;
    const key = targetKey(ref);
    const entry = targets.get(key) ?? { ref, metrics: {}, absentCycles: 0 };
    entry.metrics[metric] = {
      state,
      breaches: t.breaches,
      healthy: t.healthy,
      since: parseTime(t.since, `${field}.since`),
      value: null,
      threshold: null,
      firingNotified: state === 'Firing' && t.firingNotified === true,
      ...(state === 'Firing' && t.firingNotified !== true && { maybeNotified: true }),
    };
    targets.set(key, entry);
  });
  const state: AlertState = { targets };
  if (status.lastEvaluationTime !== undefined) {
    state.lastEvaluationTime = parseTime(status.lastEvaluationTime, 'status.lastEvaluationTime');
  }
  if (status.lastAlertedAt !== undefined) {
    state.lastAlertedAt = parseTime(status.lastAlertedAt, 'status.lastAlertedAt');
  }
  return state;
}

/** The `NotificationsFailing` condition from the dispatcher's failures for one alert. */
export function notificationsCondition(failures: readonly NotifierFailure[]): AlertCondition {
  const failing = failures.filter((f) => f.failing);
  if (failing.length === 0) {
    return {
      type: ConditionType.NotificationsFailing,
      status: 'False',
      reason: Reason.Delivered,
      message: 'notifications are being delivered',
    };
  }
  return {
    type: ConditionType.NotificationsFailing,
    status: 'True',
    reason: Reason.DeliveryFailed,
    message: failing
      .map(
        (f) =>
          `${f.notifier}: ${f.failedNotifications} notification(s) not delivered, last at ${formatTime(f.lastFailureTime)}: ${f.lastError}`,
      )
      .join('; '),
  };
}

function compareRows(a: Row, b: Row): number {
  return RANK[a.s.state] - RANK[b.s.state] || b.s.breaches - a.s.breaches || ratio(b.s) - ratio(a.s);
}

function ratio(s: MetricState): number {
  return s.value === null || s.threshold === null || s.threshold <= 0 ? -1 : s.value / s.threshold;
}

function alertStateName(firing: ReadonlySet<Metric>): AlertStateName {
  if (firing.has('cpu')) return firing.has('memory') ? 'both_alert' : 'cpu_alert';
  return firing.has('memory') ? 'mem_alert' : 'normal';
}

function firingCondition(
  state: AlertState,
  rule: AlertRule,
  worst: Row | undefined,
  noBasis: Row | undefined,
  firingMetrics: ReadonlySet<Metric>,
  counts: Record<TargetState, number>,
  now: number,
): AlertCondition {
  const type = ConditionType.Firing;
  if (state.lastEvaluationTime === undefined) {
    return {
      type,
      status: 'Unknown',
      reason: Reason.AwaitingSamples,
      message: `waiting for the first collection cycle of UsagePolicy ${rule.policy}`,
    };
  }
  const describe = (row: Row) => describeMetricState(rule, row.ref, row.metric, row.s);
  const noBasisNote = noBasis
    ? `; ${counts.NoBasis} target(s) cannot be evaluated, e.g. ${describe(noBasis)}`
    : '';
  if (counts.Firing === 0 || worst === undefined) {
    const pending =
      counts.Pending > 0 && worst ? `; ${counts.Pending} pending, worst: ${describe(worst)}` : '';
    return {
      type,
      status: 'False',
      reason: Reason.NoTargetsFiring,
      message: `no target is firing (${state.targets.size} evaluated)${pending}${noBasisNote}`,
    };
  }
  const reason = firingMetrics.has('cpu')
    ? firingMetrics.has('memory')
      ? Reason.BothThresholdsExceeded
      : Reason.CPUThresholdExceeded
    : Reason.MemoryThresholdExceeded;
  const more = counts.Firing > 1 ? `; ${counts.Firing} targets firing in all` : '';
  const muted =
    rule.muteUntil !== undefined && now < rule.muteUntil
      ? `; notifications muted until ${formatTime(rule.muteUntil)}`
      : '';
  return { type, status: 'True', reason, message: `${describe(worst)}${more}${noBasisNote}${muted}` };
}

function parseTime(text: string, field: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Error(`${field}: not an RFC 3339 time: ${JSON.stringify(text)}`);
  return ms;
}
