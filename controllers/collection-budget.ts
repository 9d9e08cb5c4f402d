/**
 * The admin's cluster-wide collection budget: at most so many containers collected by all
 * UsagePolicies together (--max-collected-containers). Which policies collect is decided
 * deterministically from the objects alone: oldest first (creation time, then namespace/name);
 * a policy whose containers do not fit in what is left is refused, and a newer, smaller one may
 * still fit. A refused policy gets Ready=False with a reason naming the budget; nothing is
 * silently dropped.
 */
import { Reason } from '../api/v1alpha1/conditions.js';
import type { ObjectKey } from '../operator/model.js';

/** A policy that would collect if the budget allowed: its key, creation time and container count. */
export interface BudgetCandidate {
  key: ObjectKey;
  creationTimestamp?: string | Date;
  containers: number;
}

export interface BudgetDecision {
  admitted: boolean;
  /** Containers of the policies admitted before this one (in admission order). */
  usedBefore: number;
  containers: number;
}

/** Every candidate's decision, in admission order (oldest first). */
export function decideBudget(
  candidates: readonly BudgetCandidate[],
  budget: number,
): Map<ObjectKey, BudgetDecision> {
  const ordered = candidates
    .map((candidate) => ({ candidate, time: new Date(candidate.creationTimestamp ?? 0).getTime() || 0 }))
    .sort(
      (a, b) =>
        a.time - b.time ||
        (a.candidate.key < b.candidate.key ? -1 : a.candidate.key > b.candidate.key ? 1 : 0),
    );
  const decisions = new Map<ObjectKey, BudgetDecision>();
  let used = 0;
  for (const { candidate } of ordered) {
    const admitted = used + candidate.containers <= budget;
    decisions.set(candidate.key, { admitted, usedBefore: used, containers: candidate.containers });
    if (admitted) used += candidate.containers;
  }
  return decisions;
}

/** The condition of a refused policy: the budget, what it would add, and what to do. */
export function budgetProblem(
  decision: BudgetDecision,
  budget: number,
): { reason: string; message: string } | undefined {
  if (decision.admitted) return undefined;
  return {
    reason: Reason.CollectionBudgetExceeded,
    message:
      `collecting this policy's ${decision.containers} containers would exceed the cluster's collection budget: ` +
      `${decision.usedBefore} of ${budget} containers (--max-collected-containers) are collected by policies created earlier; ` +
      `narrow spec.selector, or ask the operator's admin to raise the budget; nothing is collected meanwhile`,
  };
}

/**
 * Remembers which policies the last decision admitted, so a reconcile that changes the picture
 * (a policy grew, shrank, came or went) can requeue the others whose admission changed.
 */
export class BudgetTracker {
  private admitted = new Map<ObjectKey, boolean>();

  /** Records the decisions and returns the keys, other than `self`, whose admission changed. */
  update(decisions: ReadonlyMap<ObjectKey, BudgetDecision>, self: ObjectKey): ObjectKey[] {
    const changed = new Set<ObjectKey>();
    for (const [key, decision] of decisions) {
      const before = this.admitted.get(key);
      if (key !== self && before !== undefined && before !== decision.admitted) changed.add(key);
    }
    // A policy that left the candidates (deleted, invalid) frees its share: requeue the refused.
    const left = [...this.admitted.keys()].some((key) => key !== self && !decisions.has(key));
    if (left)
      for (const [other, decision] of decisions) if (!decision.admitted && other !== self) changed.add(other);
    this.admitted = new Map([...decisions].map(([key, d]) => [key, d.admitted]));
    return [...changed].sort();
  }

  clear(): void {
    this.admitted.clear();
  }
}
