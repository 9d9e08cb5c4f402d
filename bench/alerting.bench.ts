/**
 * The alert evaluator: 1,000 ResourceAlerts over 10,000 containers per collection cycle.
 * Target: under 100 ms for the whole cycle of evaluations.
 *
 * - fleet: 100 policies x 100 containers (50 pods x 2), 10 alerts per policy (container and
 *   pod scope, absolute and percent thresholds), i.e. 1,000 alerts and 100,000 target
 *   evaluations per cycle; usage moves so that targets go Pending, Firing and back.
 * - dense: one policy of 10,000 containers with every alert over all of it (10,000 target
 *   evaluations per alert); the cost per alert, and what 1,000 such alerts would cost.
 */
import { performance } from 'node:perf_hooks';
import { evaluate } from '../operator/alerting/evaluator.js';
import type { AlertRule } from '../operator/alerting/rule.js';
import { emptyAlertState, type AlertState } from '../operator/alerting/state.js';
import { toStatus } from '../operator/alerting/status.js';
import { MAX_STATUS_TARGETS } from '../api/v1alpha1/resourcealert.js';
import type { CollectionCycle, ContainerSample } from '../operator/model.js';

const START = Date.UTC(2026, 10, 21, 10, 0, 0);
const INTERVAL = 30_000;
const ROUNDS = 20;
const VARIANTS = 7;
const LIMITS = { maxTargets: MAX_STATUS_TARGETS };

function cycleOf(policy: string, pods: number, variant: number): CollectionCycle {
  const samples: ContainerSample[] = [];
  for (let p = 0; p < pods; p++) {
    for (let c = 0; c < 2; c++) {
      // A deterministic wave: some containers breach for a few cycles in a row, others alternate.
      const hot = (p * 7 + c * 3 + variant) % 5 < 2 || (p % 3 === 0 && variant % 2 === 0);
      samples.push({
        time: START + variant * INTERVAL,
        policy,
        namespace: policy.split('/')[0]!,
        pod: `web-${p}`,
        container: `c${c}`,
        node: `node-${p % 20}`,
        labels: [
          { k: 'app', v: 'web' },
          { k: 'tier', v: p % 2 === 0 ? 'frontend' : 'backend' },
        ],
        cpuMillicores: hot ? 900 + p : 300 + c,
        memoryBytes: (hot ? 900 : 200) * 2 ** 20,
        cpuRequestMillicores: 250,
        cpuLimitMillicores: c === 1 && p % 10 === 0 ? undefined : 1000,
        memoryRequestBytes: 256 * 2 ** 20,
        memoryLimitBytes: 1024 * 2 ** 20,
        uptimeSeconds: 3600,
        intervalSeconds: 30,
      });
    }
  }
  return {
    policy,
    time: START + variant * INTERVAL,
    metricsSource: 'metrics.k8s.io',
    samples,
    podsWithoutMetrics: 0,
  };
}

function rulesFor(policy: string, count: number): AlertRule[] {
  const frontend = (labels: readonly { k: string; v: string }[]) =>
    labels.some((l) => l.k === 'tier' && l.v === 'frontend');
  const shapes: Partial<AlertRule>[] = [
    { scope: 'container', cpu: { kind: 'absolute', value: 800 } },
    { scope: 'container', cpu: { kind: 'percent', percent: 80, of: 'limit' } },
    { scope: 'container', memory: { kind: 'percent', percent: 300, of: 'request' } },
    { scope: 'pod', cpu: { kind: 'absolute', value: 1500 }, memory: { kind: 'absolute', value: 2 ** 30 } },
    { scope: 'container', cpu: { kind: 'absolute', value: 800 }, selector: frontend },
  ];
  return Array.from({ length: count }, (_, i) => ({
    key: `${policy.split('/')[0]}/alert-${i}`,
    policy,
    scope: 'container',
    for: 3,
    recoverAfter: 2,
    noData: 'keep',
    suspend: false,
    severity: 'warning',
    ...shapes[i % shapes.length],
  }));
}

/**
 * The cycle of a round, as a new object: the collector produces a new cycle every time, and
 * the evaluator keeps per-cycle work (shared by the alerts of a policy) only as long as the
 * cycle object lives, so reusing the object across rounds would not measure that work.
 */
function freshCycle(variants: readonly CollectionCycle[], round: number): CollectionCycle {
  const c = variants[round % VARIANTS]!;
  return { ...c, samples: [...c.samples] };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Median wall and CPU time of `once` over ROUNDS rounds after a warm-up. */
function measure(once: (round: number) => void): { wall: number; cpu: number } {
  for (let i = 0; i < VARIANTS; i++) once(i);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const startCpu = process.cpuUsage();
    const start = performance.now();
    once(VARIANTS + i);
    wall.push(performance.now() - start);
    const used = process.cpuUsage(startCpu);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

function print(label: string, { wall, cpu }: { wall: number; cpu: number }, note = ''): void {
  console.log(
    `${label.padEnd(52)} wall ${wall.toFixed(1).padStart(7)} ms   cpu ${cpu.toFixed(1).padStart(7)} ms${note}`,
  );
}

function fleet(): void {
  const policies = Array.from({ length: 100 }, (_, i) => `team-${i}/web`);
  const cycles = policies.map((policy) => Array.from({ length: VARIANTS }, (_, v) => cycleOf(policy, 50, v)));
  const rules = policies.map((policy) => rulesFor(policy, 10));
  const states = rules.map((list) => list.map((): AlertState => emptyAlertState()));
  let transitions = 0;
  const cycleOfRound = (round: number) => {
    const now = START + round * INTERVAL;
    policies.forEach((_, p) => {
      const c = freshCycle(cycles[p]!, round);
      rules[p]!.forEach((rule, a) => {
        const result = evaluate(rule, states[p]![a]!, c, now);
        states[p]![a] = result.state;
        transitions += result.transitions.length;
      });
    });
  };
  print('fleet: evaluate 1,000 alerts (100,000 target-evals)', measure(cycleOfRound), '   target < 100 ms');
  const firing = states
    .flat()
    .reduce((n, s) => n + toStatus(s, rules[0]![0]!, START, LIMITS).firingTargets, 0);
  print(
    'fleet: toStatus of 1,000 alerts',
    measure((round) =>
      states.forEach((list, p) => list.forEach((s, a) => toStatus(s, rules[p]![a]!, START + round, LIMITS))),
    ),
    `   (${firing} firing targets, ${transitions} transitions so far)`,
  );
}

function dense(): void {
  const policy = 'big/web';
  const cycles = Array.from({ length: VARIANTS }, (_, v) => cycleOf(policy, 5_000, v));
  const rules = rulesFor(policy, 10);
  const states = rules.map((): AlertState => emptyAlertState());
  const result = measure((round) => {
    const c = freshCycle(cycles, round);
    rules.forEach((rule, a) => {
      states[a] = evaluate(rule, states[a]!, c, START + round * INTERVAL).state;
    });
  });
  const perAlert = { wall: result.wall / rules.length, cpu: result.cpu / rules.length };
  print('dense: one alert over 10,000 containers', perAlert);
  print('dense: 1,000 such alerts (extrapolated)', { wall: perAlert.wall * 1000, cpu: perAlert.cpu * 1000 });
}

export async function run(): Promise<void> {
  console.log(`alert evaluator (median of ${ROUNDS} cycles after ${VARIANTS} warm-up cycles)`);
  fleet();
  dense();
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
