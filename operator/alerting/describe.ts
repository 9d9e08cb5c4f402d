/** Sentences a person can act on, for conditions, Events and notifications. */
import { formatQuantity, formatTime } from './format.js';
import type { AlertRule, Metric } from './rule.js';
import type { MetricState, TargetRef, ThresholdBasis } from './state.js';
import type { Transition } from './evaluator.js';

/** "web-7d9f/app"; the namespace is named when it is not the alert's own. */
export function describeTarget(ref: TargetRef, alertKey: string): string {
  const alertNamespace = alertKey.slice(0, alertKey.indexOf('/'));
  const name = ref.container === undefined ? ref.pod : `${ref.pod}/${ref.container}`;
  return ref.namespace === alertNamespace ? name : `${ref.namespace}/${name}`;
}

/** "800m (80% of limit 1)" or "1Gi". */
export function describeThreshold(metric: Metric, threshold: number, basis?: ThresholdBasis): string {
  const text = formatQuantity(metric, threshold);
  return basis ? `${text} (${basis.percent}% of ${basis.of} ${formatQuantity(metric, basis.amount)})` : text;
}

/** One target's metric as status shows it, e.g. "web-7d9f/app cpu 910m > 800m (80% of limit 1) for 5 consecutive samples". */
export function describeMetricState(rule: AlertRule, ref: TargetRef, metric: Metric, s: MetricState): string {
  const who = `${describeTarget(ref, rule.key)} ${metric}`;
  if (s.state === 'NoBasis') return `${who}: no ${basisOf(rule, metric)} to take the percent threshold of`;
  const reading = describeReading(metric, s.value, s.threshold, s.basis);
  switch (s.state) {
    case 'Firing':
      return s.healthy > 0
        ? `${who} ${reading}, still firing: ${s.healthy} of ${rule.recoverAfter} healthy samples to resolve`
        : `${who} ${reading} for ${s.breaches} consecutive samples`;
    case 'Pending':
      return `${who} ${reading} for ${s.breaches} of ${rule.for} samples`;
    case 'Normal':
      return `${who} ${reading}`;
  }
}

/** The message of a fired or resolved notification. */
export function describeTransition(rule: AlertRule, t: Transition): string {
  const who = `${describeTarget(t.ref, rule.key)} ${t.metric}`;
  const reading = describeReading(t.metric, t.value, t.threshold, t.basis);
  if (t.kind === 'fired') {
    const since = t.delayed
      ? `, firing since ${formatTime(t.firingSince)} (announced late, after a mute or a restart)`
      : '';
    return `${who} ${reading} for ${t.breaches} consecutive samples${since}`;
  }
  const since = `firing since ${formatTime(t.firingSince)}`;
  switch (t.cause) {
    case 'targetGone':
      return `${who} resolved (${since}): no sample for several cycles, the pod is gone or no longer selected`;
    case 'noBasis':
      return `${who} resolved (${since}): no ${basisOf(rule, t.metric)} to take the percent threshold of`;
    case 'thresholdRemoved':
      return `${who} resolved (${since}): the alert no longer has a ${t.metric} threshold`;
    default:
      return `${who} resolved after ${rule.recoverAfter} healthy samples, ${reading} (${since})`;
  }
}

function describeReading(
  metric: Metric,
  value: number | null,
  threshold: number | null,
  basis?: ThresholdBasis,
) {
  const limit = threshold === null ? 'its threshold' : describeThreshold(metric, threshold, basis);
  if (value === null) return `has no data (threshold ${limit})`;
  const comparison = threshold !== null && value > threshold ? '>' : '<=';
  return `${formatQuantity(metric, value)} ${comparison} ${limit}`;
}

function basisOf(rule: AlertRule, metric: Metric): string {
  const threshold = rule[metric];
  return `${metric} ${threshold?.kind === 'percent' ? threshold.of : 'limit'}`;
}
