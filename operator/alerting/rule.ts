/**
 * The evaluator's input: one ResourceAlert, normalized. Plain data with exact units
 * (millicores, bytes, milliseconds); ruleOf maps the API's ResourceAlertConfig onto it.
 */
import { labelSelectorMatches } from '../../api/v1alpha1/labels.js';
import type { ResourceAlertConfig, Threshold } from '../../api/v1alpha1/normalize.js';
import { objectKey, type LabelPair, type ObjectKey } from '../model.js';

export const METRICS = ['cpu', 'memory'] as const;
/** `cpu` values are millicores, `memory` values are bytes. */
export type Metric = (typeof METRICS)[number];

/** A fixed quantity, or a percentage of the target's limit or request (as the spec normalizes it). */
export type { Threshold };

/** What a target that is known but has no value in this cycle does to its counters. */
export type NoDataPolicy = 'keep' | 'resolve' | 'alert';

/** `pod` evaluates the sum of the pod's containers; `container` evaluates each container. */
export type AlertScope = 'container' | 'pod';

/** Decides from a pod's labels whether it is one of the alert's targets. */
export type LabelMatcher = (labels: readonly LabelPair[]) => boolean;

export interface AlertRule {
  /** The ResourceAlert, `namespace/name`. */
  key: ObjectKey;
  /** The UsagePolicy whose collection cycles are evaluated, `namespace/name`. */
  policy: ObjectKey;
  scope: AlertScope;
  /** Narrows the policy's pods; every pod of the policy when absent. */
  selector?: LabelMatcher;
  cpu?: Threshold;
  memory?: Threshold;
  /** Consecutive breaching samples before a target fires (>= 1). */
  for: number;
  /** Consecutive healthy samples before a firing target resolves (>= 1). */
  recoverAfter: number;
  noData: NoDataPolicy;
  /** Until this time (ms since epoch) new firings are not notified. */
  muteUntil?: number;
  /** Suspended: no evaluation; the state is kept as it is. */
  suspend: boolean;
  /** Passed to notifications (Alertmanager label `severity`). */
  severity: string;
}

/**
 * Throws a RangeError naming the field when a rule cannot be evaluated. The API validates
 * user input; this guards the evaluator against a rule built wrongly in code.
 */
export function checkRule(rule: AlertRule): void {
  for (const field of ['for', 'recoverAfter'] as const) {
    if (!Number.isInteger(rule[field]) || rule[field] < 1) {
      throw new RangeError(`alert ${rule.key}: ${field} must be an integer >= 1, got ${rule[field]}`);
    }
  }
  if (!rule.cpu && !rule.memory)
    throw new RangeError(`alert ${rule.key}: cpu or memory threshold is required`);
  for (const metric of METRICS) {
    const threshold = rule[metric];
    const amount = threshold?.kind === 'absolute' ? threshold.value : threshold?.percent;
    if (threshold && !(Number.isFinite(amount) && (amount as number) >= 0)) {
      throw new RangeError(
        `alert ${rule.key}: ${metric} threshold must be a finite number >= 0, got ${amount}`,
      );
    }
  }
}

/** The rule of the alert `key` in `namespace`, from its normalized spec. */
export function ruleOf(key: ObjectKey, namespace: string, config: ResourceAlertConfig): AlertRule {
  const selector = config.selector;
  return {
    key,
    policy: objectKey(namespace, config.policyRef.name),
    scope: config.scope,
    ...(selector && {
      selector: (labels) => labelSelectorMatches(selector, Object.fromEntries(labels.map((l) => [l.k, l.v]))),
    }),
    ...(config.cpu && { cpu: config.cpu }),
    ...(config.memory && { memory: config.memory }),
    for: config.for,
    recoverAfter: config.recoverAfter,
    noData: config.noData,
    ...(config.muteUntil !== undefined && { muteUntil: config.muteUntil }),
    suspend: config.suspend,
    severity: config.severity,
  };
}
