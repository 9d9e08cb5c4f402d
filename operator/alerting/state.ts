/**
 * The evaluator's memory: per target and metric, the current state and the consecutive
 * breach / healthy counters. The full set lives in memory; status carries the part needed
 * to resume (see status.ts).
 */
import type { Metric } from './rule.js';

/**
 * - `Normal`: within the threshold.
 * - `Pending`: breaching, fewer than `for` consecutive samples so far.
 * - `Firing`: `for` or more consecutive breaches; stays until `recoverAfter` healthy samples.
 * - `NoBasis`: a percent threshold, and the target has no limit (or request) to take it of.
 */
export type TargetState = 'Normal' | 'Pending' | 'Firing' | 'NoBasis';

/** A container (`container` set) or a whole pod. */
export interface TargetRef {
  namespace: string;
  pod: string;
  container?: string;
}

/** `ns/pod/container` for a container, `ns/pod` for a pod. */
export function targetKey(ref: TargetRef): string {
  return targetKeyOf(ref.namespace, ref.pod, ref.container);
}

/**
 * targetKey from the names. Joined rather than built with a template literal: V8 builds a
 * template literal as a rope, and a Map compares rope keys several times slower than flat
 * ones; evaluation looks every target of every alert up by its key.
 */
export function targetKeyOf(namespace: string, pod: string, container?: string): string {
  return (container === undefined ? [namespace, pod] : [namespace, pod, container]).join('/');
}

/** What a percent threshold was taken of, for messages: "80% of limit 1". */
export interface ThresholdBasis {
  percent: number;
  of: 'limit' | 'request';
  /** The limit or request itself, millicores or bytes. */
  amount: number;
}

export interface MetricState {
  state: TargetState;
  /** Consecutive breaching samples, 0 after a healthy one. */
  breaches: number;
  /** Consecutive healthy samples, 0 after a breaching one. */
  healthy: number;
  /** When the current state was entered, ms since epoch. For `Firing`, when it fired. */
  since: number;
  /** Last value (millicores or bytes); null when the last sample had none, or after a resume. */
  value: number | null;
  /** Last effective threshold in the metric's unit; null when unknown. */
  threshold: number | null;
  basis?: ThresholdBasis;
  /** The firing has been handed to the notifiers (so it is not announced again). */
  firingNotified: boolean;
  /**
   * Resumed from a status that shows the firing as not notified: if the last evaluation before
   * the resume was not muted, the firing was announced, and the process that wrote the status
   * may have delivered it before it stopped; so its resolution is announced (unless muted).
   * Only the first evaluation after the resume reads it.
   */
  maybeNotified?: boolean;
}

export interface TargetEntry {
  ref: TargetRef;
  metrics: Partial<Record<Metric, MetricState>>;
  /** Consecutive cycles in which the target had no sample at all (pod gone or unselected). */
  absentCycles: number;
}

export interface AlertState {
  /** Keyed by targetKey(ref). Never mutated: evaluate returns a new state. */
  targets: ReadonlyMap<string, TargetEntry>;
  lastEvaluationTime?: number;
  /** Last time a firing was announced. */
  lastAlertedAt?: number;
}

export function emptyAlertState(): AlertState {
  return { targets: new Map() };
}
