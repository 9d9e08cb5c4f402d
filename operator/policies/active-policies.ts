/**
 * The policies that collect now (valid, within the admin's bounds, not suspended) with their
 * normalized specs. It has one writer, the UsagePolicy reconciler, which sets or removes a
 * policy at each of its reconciles; the parts that act on every active policy (retention,
 * right-sizing) read it through {@link ActivePolicies}. A leadership term begins with none:
 * the term's reconciles (every policy is queued) fill it in.
 */
import type { UsagePolicyConfig } from '../../api/v1alpha1/normalize.js';
import type { ObjectKey } from '../model.js';

/** Read access to the active policies: their keys, and each one's config. */
export interface ActivePolicies extends Iterable<readonly [ObjectKey, UsagePolicyConfig]> {
  get(policy: ObjectKey): UsagePolicyConfig | undefined;
  keys(): Iterable<ObjectKey>;
}

/** The active policies, written by the UsagePolicy reconciler only. */
export class ActivePolicyRegistry implements ActivePolicies {
  private readonly active = new Map<ObjectKey, UsagePolicyConfig>();

  get(policy: ObjectKey): UsagePolicyConfig | undefined {
    return this.active.get(policy);
  }

  keys(): Iterable<ObjectKey> {
    return this.active.keys();
  }

  [Symbol.iterator](): Iterator<readonly [ObjectKey, UsagePolicyConfig]> {
    return this.active.entries();
  }

  set(policy: ObjectKey, config: UsagePolicyConfig): void {
    this.active.set(policy, config);
  }

  delete(policy: ObjectKey): void {
    this.active.delete(policy);
  }

  clear(): void {
    this.active.clear();
  }
}
