/**
 * The bounds the operator's admin sets on what tenants may ask of the shared store: the
 * longest retention per level and the number of UsagePolicies per namespace. An object over a
 * bound gets Ready=False with a reason and collects nothing; nothing is silently dropped.
 */
import type { UsagePolicyConfig } from '../api/v1alpha1/normalize.js';
import type { Retention } from '../operator/model.js';

export interface AdminBounds {
  maxRetention: Retention;
  maxPoliciesPerNamespace: number;
}

export const BOUND_REASONS = {
  retentionAboveLimit: 'RetentionAboveLimit',
  quotaExceeded: 'QuotaExceeded',
} as const;

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
    reason: BOUND_REASONS.retentionAboveLimit,
    message: `${parts.join('; ')}: shorten it, or ask the operator's admin to raise the bound; nothing is collected meanwhile`,
  };
}

/**
 * Whether the policy is beyond the namespace's quota: policies count in the order they were
 * created (then by name), so the newest ones are refused and earlier ones keep collecting.
 */
export function quotaProblem(
  policy: { metadata: { name: string; creationTimestamp?: string | Date } },
  inNamespace: readonly { metadata: { name: string; creationTimestamp?: string | Date } }[],
  bounds: AdminBounds,
): { reason: string; message: string } | undefined {
  const time = (p: { metadata: { creationTimestamp?: string | Date } }) =>
    new Date(p.metadata.creationTimestamp ?? 0).getTime() || 0;
  const ordered = [...inNamespace].sort(
    (a, b) => time(a) - time(b) || a.metadata.name.localeCompare(b.metadata.name),
  );
  const index = ordered.findIndex((p) => p.metadata.name === policy.metadata.name);
  if (index < bounds.maxPoliciesPerNamespace) return undefined;
  return {
    reason: BOUND_REASONS.quotaExceeded,
    message:
      `this namespace has ${ordered.length} UsagePolicies and the operator's admin allows ${bounds.maxPoliciesPerNamespace} ` +
      `(--max-policies-per-namespace); delete one, or merge selectors into one policy; nothing is collected meanwhile`,
  };
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
