import { describe, expect, it } from '@jest/globals';
import { BudgetTracker, budgetProblem, decideBudget } from '../../../controllers/collection-budget.js';

const candidate = (key: string, day: string, containers: number) => ({
  key,
  creationTimestamp: `2026-11-${day}T00:00:00Z`,
  containers,
});

describe('the cluster-wide collection budget', () => {
  it('admits policies oldest first; one that does not fit is refused and a newer, smaller one may fit', () => {
    const decisions = decideBudget(
      [candidate('c/late', '04', 1), candidate('a/first', '01', 6), candidate('b/big', '02', 5)],
      8,
    );
    expect(Object.fromEntries(decisions)).toEqual({
      'a/first': { admitted: true, usedBefore: 0, containers: 6 },
      'b/big': { admitted: false, usedBefore: 6, containers: 5 },
      'c/late': { admitted: true, usedBefore: 6, containers: 1 },
    });
  });

  it('orders policies created in the same second by namespace/name, whatever order they come in', () => {
    const a = candidate('ns/a', '01', 2);
    const b = candidate('ns/b', '01', 2);
    for (const order of [
      [a, b],
      [b, a],
    ])
      expect(decideBudget(order, 3).get('ns/a')?.admitted).toBe(true);
    expect(decideBudget([b, a], 3).get('ns/b')?.admitted).toBe(false);
  });

  it('counts a budget that is met exactly as fitting', () => {
    expect(decideBudget([candidate('ns/a', '01', 4)], 4).get('ns/a')?.admitted).toBe(true);
  });

  it('names the budget and the flag in the message of a refused policy', () => {
    const problem = budgetProblem({ admitted: false, usedBefore: 6, containers: 5 }, 8);
    expect(problem?.reason).toBe('CollectionBudgetExceeded');
    expect(problem?.message).toContain('6 of 8 containers (--max-collected-containers)');
    expect(budgetProblem({ admitted: true, usedBefore: 0, containers: 5 }, 8)).toBeUndefined();
  });

  it('reports the other policies whose admission changed, and the refused ones when a policy leaves', () => {
    const tracker = new BudgetTracker();
    expect(
      tracker.update(decideBudget([candidate('ns/a', '01', 2), candidate('ns/b', '02', 2)], 3), 'ns/a'),
    ).toEqual([]);
    // ns/a grew: ns/b stays refused, nothing to requeue.
    expect(
      tracker.update(decideBudget([candidate('ns/a', '01', 3), candidate('ns/b', '02', 2)], 3), 'ns/a'),
    ).toEqual([]);
    // ns/a shrank: ns/b now fits and is requeued.
    expect(
      tracker.update(decideBudget([candidate('ns/a', '01', 1), candidate('ns/b', '02', 2)], 3), 'ns/a'),
    ).toEqual(['ns/b']);
    // ns/c (refused) and ns/a leaves: the refused one is requeued.
    tracker.update(decideBudget([candidate('ns/a', '01', 3), candidate('ns/c', '03', 2)], 3), 'ns/c');
    expect(tracker.update(decideBudget([candidate('ns/c', '03', 2)], 3), 'ns/a')).toEqual(['ns/c']);
  });
});
