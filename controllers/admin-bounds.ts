/**
 * The bounds the operator's admin sets on what tenants may ask of the shared operator: the
 * longest retention per level, the number of UsagePolicies and of ResourceAlerts per namespace.
 * An object over a bound gets Ready=False with a reason and does nothing (collects, evaluates,
 * notifies); nothing is silently dropped. The cluster-wide collection budget is in
 * collection-budget.ts.
 */
import { Reason } from '../api/v1alpha1/conditions.js';
import type { UsagePolicyConfig } from '../api/v1alpha1/normalize.js';
import type { Retention } from '../operator/model.js';

export interface AdminBounds {
  maxRetention: Retention;
  maxPoliciesPerNamespace: number;
  /** ResourceAlerts evaluated per namespace; absent: unbounded. */
  maxAlertsPerNamespace?: number;
  /** Containers collected cluster-wide by all policies (collection-budget.ts); absent or 0: no budget. */
  maxCollectedContainers?: number;
}

const LEVELS = [
  ['raw', 'rawMs'],
  ['hourly', 'hourlyMs'],
  ['daily', 'dailyMs'],
] as const;

/** The first retention level above the admin's maximum, as a condition; undefined when within. */
export function retentionProblem(
  config: UsagePolicyConfig,
  bounds: AdminBounds,
): { reason: string; message: string } | undefined {
  const over = LEVELS.filter(([, ms]) => config.retention[ms] > bounds.maxRetention[ms]);
  if (over.length === 0) return undefined;
  const parts = over.map(
    ([level, ms]) =>
      `spec.retention.${level} (${formatDuration(config.retention[ms])}) is above the maximum of ${formatDuration(bounds.maxRetention[ms])} (--max-retention-${level})`,
  );
  return {
    reason: Reason.RetentionAboveLimit,
    message: `${parts.join('; ')}: shorten it, or ask the operator's admin to raise the bound; nothing is collected meanwhile`,
  };
}

/** An object as the quotas see it: its name and when it was created. */
export interface Countable {
  metadata: { name: string; creationTimestamp?: string | Date };
}

/**
 * The objects in the order a quota admits them: oldest first, then by name (objects created
 * in the same second), so the newest are refused and the earlier ones keep working.
 */
export function admissionOrder<T extends Countable>(objects: readonly T[]): T[] {
  return objects
    .map((object) => ({ object, time: new Date(object.metadata.creationTimestamp ?? 0).getTime() || 0 }))
    .sort((a, b) => a.time - b.time || a.object.metadata.name.localeCompare(b.object.metadata.name))
    .map(({ object }) => object);
}

/** Whether `object` is among the first `limit` of `inNamespace` in admission order. */
function withinQuota(object: Countable, inNamespace: readonly Countable[], limit: number): boolean {
  return admissionOrder(inNamespace).findIndex((p) => p.metadata.name === object.metadata.name) < limit;
}

/**
 * Whether the policy is beyond the namespace's quota: policies count in the order they were
 * created (then by name), so the newest ones are refused and earlier ones keep collecting.
 */
export function quotaProblem(
  policy: Countable,
  inNamespace: readonly Countable[],
  bounds: AdminBounds,
): { reason: string; message: string } | undefined {
  if (withinQuota(policy, inNamespace, bounds.maxPoliciesPerNamespace)) return undefined;
  return {
    reason: Reason.QuotaExceeded,
    message:
      `this namespace has ${inNamespace.length} UsagePolicies and the operator's admin allows ${bounds.maxPoliciesPerNamespace} ` +
      `(--max-policies-per-namespace); delete one, or merge selectors into one policy; nothing is collected meanwhile`,
  };
}

/**
 * Whether the alert is beyond the namespace's quota of ResourceAlerts (same order as policies:
 * the newest are refused). A refused alert is not evaluated and sends nothing.
 */
export function alertQuotaProblem(
  alert: Countable,
  inNamespace: readonly Countable[],
  bounds: Pick<AdminBounds, 'maxAlertsPerNamespace'>,
): { reason: string; message: string } | undefined {
  const limit = bounds.maxAlertsPerNamespace;
  if (limit === undefined || withinQuota(alert, inNamespace, limit)) return undefined;
  return {
    reason: Reason.QuotaExceeded,
    message:
      `this namespace has ${inNamespace.length} ResourceAlerts and the operator's admin allows ${limit} ` +
      `(--max-alerts-per-namespace); delete one, or put several thresholds on one policy's alert; ` +
      `this one is not evaluated and sends no notification meanwhile`,
  };
}

/** The alerts of a namespace that the quota admits (the ones to evaluate). */
export function alertsWithinQuota<T extends Countable>(
  inNamespace: readonly T[],
  bounds: Pick<AdminBounds, 'maxAlertsPerNamespace'> | undefined,
): T[] {
  const limit = bounds?.maxAlertsPerNamespace;
  if (limit === undefined || inNamespace.length <= limit) return [...inNamespace];
  const admitted = new Set(admissionOrder(inNamespace).slice(0, limit));
  return inNamespace.filter((a) => admitted.has(a));
}

function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms / 1000}s`;
}
