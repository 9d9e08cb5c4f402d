/** Small builders for alerting tests. */
import { MAX_STATUS_TARGETS } from '../../../api/v1alpha1/resourcealert.js';
import type { CollectionCycle, ContainerSample } from '../../../operator/model.js';
import { evaluate, type Evaluation, type Transition } from '../../../operator/alerting/evaluator.js';
import type { AlertRule } from '../../../operator/alerting/rule.js';
import { emptyAlertState, type AlertState } from '../../../operator/alerting/state.js';

export const POLICY = 'shop/web';
export const T0 = Date.parse('2026-11-21T10:00:00Z');
export const INTERVAL = 30_000;
/** The CRD's bound on status.targets. */
export const LIMITS = { maxTargets: MAX_STATUS_TARGETS };

export function rule(overrides: Partial<AlertRule> = {}): AlertRule {
  return {
    key: 'shop/web-hot',
    policy: POLICY,
    scope: 'container',
    cpu: { kind: 'absolute', value: 800 },
    for: 3,
    recoverAfter: 2,
    noData: 'keep',
    suspend: false,
    severity: 'warning',
    ...overrides,
  };
}

export function sample(overrides: Partial<ContainerSample> = {}): ContainerSample {
  return {
    time: T0,
    policy: POLICY,
    namespace: 'shop',
    pod: 'web-7d9f',
    container: 'app',
    node: 'node-1',
    labels: [{ k: 'app', v: 'web' }],
    cpuMillicores: 100,
    memoryBytes: 100 * 2 ** 20,
    uptimeSeconds: 60,
    intervalSeconds: 30,
    ...overrides,
  };
}

export function cycle(samples: ContainerSample[], time = T0): CollectionCycle {
  return { policy: POLICY, time, metricsSource: 'metrics.k8s.io', samples, podsWithoutMetrics: 0 };
}

/** Evaluates one cycle per element of `cycles`, INTERVAL apart, and returns every step. */
export function runCycles(
  r: AlertRule,
  cycles: ContainerSample[][],
  start: AlertState = emptyAlertState(),
  startTime = T0,
): Evaluation[] {
  const steps: Evaluation[] = [];
  let state = start;
  cycles.forEach((samples, i) => {
    const now = startTime + i * INTERVAL;
    const step = evaluate(r, state, cycle(samples, now), now);
    steps.push(step);
    state = step.state;
  });
  return steps;
}

/** The cpu value of one container per cycle (null: a sample without metrics; undefined: no sample). */
export function cpuSeries(
  values: (number | null | undefined)[],
  base: Partial<ContainerSample> = {},
): ContainerSample[][] {
  return values.map((v) => (v === undefined ? [] : [sample({ ...base, cpuMillicores: v })]));
}

/** "fired@3" style summary of the transitions of each step. */
export function transitionsAt(steps: Evaluation[]): string[] {
  return steps.flatMap((step, i) => step.transitions.map((t: Transition) => `${t.kind}@${i}`));
}

export function lastState(steps: Evaluation[]): AlertState {
  const last = steps.at(-1);
  if (!last) throw new Error('no steps');
  return last.state;
}

export function metricState(state: AlertState, key = 'shop/web-7d9f/app', metric: 'cpu' | 'memory' = 'cpu') {
  return state.targets.get(key)?.metrics[metric];
}
