/** Properties of the state machine over generated sample sequences. */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Evaluation } from '../../../operator/alerting/evaluator.js';
import type { NoDataPolicy } from '../../../operator/alerting/rule.js';
import { fromStatus, toStatus } from '../../../operator/alerting/status.js';
import { INTERVAL, LIMITS, T0, cpuSeries, lastState, rule, runCycles, sample } from './fixtures.js';

/** B: breaching sample, H: healthy sample, N: a sample without a value. */
type Obs = 'B' | 'H' | 'N';
const VALUE: Record<Obs, number | null> = { B: 900, H: 500, N: null };

const params = fc.record({
  for: fc.integer({ min: 1, max: 5 }),
  recoverAfter: fc.integer({ min: 1, max: 5 }),
  noData: fc.constantFrom<NoDataPolicy>('keep', 'resolve', 'alert'),
  observations: fc.array(fc.constantFrom<Obs>('B', 'H', 'N'), { maxLength: 60 }),
});

/** What the counters see: no data counts as breach (alert) or healthy (resolve), or not at all (keep). */
function counted(obs: Obs, noData: NoDataPolicy): 'B' | 'H' | null {
  if (obs !== 'N') return obs;
  return noData === 'alert' ? 'B' : noData === 'resolve' ? 'H' : null;
}

describe('evaluate: properties', () => {
  it('fires only after `for` consecutive breaches and resolves only after `recoverAfter` consecutive healthy samples', () => {
    fc.assert(
      fc.property(params, (p) => {
        const r = rule({ for: p.for, recoverAfter: p.recoverAfter, noData: p.noData });
        const steps = runCycles(r, cpuSeries(p.observations.map((o) => VALUE[o])));
        const history: ('B' | 'H')[] = [];
        let firing = false;
        steps.forEach((step, i) => {
          const seen = counted(p.observations[i]!, p.noData);
          if (seen) history.push(seen);
          const state = step.state.targets.get('shop/web-7d9f/app')?.metrics.cpu?.state;
          for (const t of step.transitions) {
            if (t.kind === 'fired') {
              expect(firing).toBe(false);
              expect(seen).toBe('B');
              expect(history.slice(-p.for)).toEqual(Array(p.for).fill('B'));
              firing = true;
            } else {
              expect(firing).toBe(true);
              expect(seen).toBe('H');
              expect(history.slice(-p.recoverAfter)).toEqual(Array(p.recoverAfter).fill('H'));
              firing = false;
            }
          }
          expect(state === 'Firing').toBe(firing);
          if (state === 'Pending') expect(history.at(-1)).toBe('B');
        });
      }),
      { numRuns: 500 },
    );
  });

  it('never fires on strictly alternating usage when for >= 2', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 10 }),
        fc.integer({ min: 0, max: 80 }),
        fc.boolean(),
        (f, length, startHigh) => {
          const values = Array.from({ length }, (_, i) => ((i % 2 === 0) === startHigh ? 900 : 500));
          const steps = runCycles(rule({ for: f }), cpuSeries(values));
          expect(steps.flatMap((s) => s.transitions)).toEqual([]);
        },
      ),
    );
  });

  it('gives the same transitions when the operator restarts from status at any point (noData keep or resolve)', () => {
    const pods = ['a', 'b', 'c'];
    const resumeParams = fc.record({
      for: fc.integer({ min: 1, max: 4 }),
      recoverAfter: fc.integer({ min: 1, max: 4 }),
      noData: fc.constantFrom<NoDataPolicy>('keep', 'resolve'),
      muted: fc.nat({ max: 20 }),
      cycles: fc.array(
        fc.array(fc.constantFrom<Obs>('B', 'H', 'N'), { minLength: pods.length, maxLength: pods.length }),
        {
          minLength: 1,
          maxLength: 40,
        },
      ),
      cut: fc.nat(),
    });
    fc.assert(
      fc.property(resumeParams, (p) => {
        const r = rule({
          for: p.for,
          recoverAfter: p.recoverAfter,
          noData: p.noData,
          muteUntil: T0 + p.muted * INTERVAL,
        });
        const samples = p.cycles.map((row) =>
          row.map((o, i) => sample({ pod: pods[i], cpuMillicores: VALUE[o] })),
        );
        const cut = p.cut % (samples.length + 1);
        const straight = runCycles(r, samples);
        const before = runCycles(r, samples.slice(0, cut));
        const resumed =
          before.length > 0 ? fromStatus(toStatus(lastState(before), r, T0, LIMITS)) : undefined;
        const after = runCycles(r, samples.slice(cut), resumed, T0 + cut * INTERVAL);
        expect(summary([...before, ...after])).toEqual(summary(straight));
      }),
      { numRuns: 300 },
    );
  });
});

function summary(steps: Evaluation[]): string[] {
  return steps.flatMap((step, i) =>
    step.transitions.map((t) => `${i}:${t.ref.pod}:${t.kind}:${t.notify}:${t.delayed}:${t.firingSince}`),
  );
}
