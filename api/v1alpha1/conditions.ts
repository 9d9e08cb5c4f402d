/**
 * Status conditions as in the Kubernetes API conventions (metav1.Condition), stored as a list-map
 * keyed by `type`, and the one way to change them: setCondition.
 */
import { counterSchema, timestampSchema, type FromSchema, type StructuralSchema } from './schema-helpers.js';

export const conditionSchema = {
  type: 'object',
  required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
  properties: {
    type: {
      type: 'string',
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: {
      type: 'string',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    },
    message: { type: 'string', maxLength: 32768 },
    lastTransitionTime: timestampSchema,
    observedGeneration: counterSchema,
  },
} as const satisfies StructuralSchema;

export const conditionsSchema = {
  type: 'array',
  maxItems: 16,
  items: conditionSchema,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
} as const satisfies StructuralSchema;

export type Condition = FromSchema<typeof conditionSchema>;
export type ConditionStatus = Condition['status'];

/** Condition types the operator sets. */
export const ConditionType = {
  /** The spec is valid and the operator is doing its job for it. Never False just because an alert fires. */
  Ready: 'Ready',
  /** The operator works with less than it should (e.g. no metrics API: uptime only). */
  Degraded: 'Degraded',
  /** The alert fires (ResourceAlert only); `kubectl wait --for=condition=Firing` waits on it. */
  Firing: 'Firing',
} as const;

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

/**
 * Returns the conditions with `next` set, like apimachinery's meta.SetStatusCondition:
 * `lastTransitionTime` moves to `now` only when the status changes, so an unchanged condition
 * yields an equal list and the caller can skip the status write. Order is kept.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): Condition[] {
  const current = findCondition(conditions, next.type);
  const lastTransitionTime =
    current && current.status === next.status
      ? current.lastTransitionTime
      : now.toISOString().replace(/\.\d+Z$/, 'Z');
  const updated: Condition = { ...next, lastTransitionTime };
  if (!current) return [...(conditions ?? []), updated];
  return (conditions ?? []).map((condition) => (condition === current ? updated : condition));
}
