/**
 * Status conditions as in the Kubernetes API conventions (metav1.Condition), stored as a list-map
 * keyed by `type`, and the one way to change them: setCondition.
 */
import { formatTimestamp } from '../timestamp.js';
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
  /** Notifications of the alert cannot be delivered (ResourceAlert only). */
  NotificationsFailing: 'NotificationsFailing',
} as const;
export type ConditionTypeName = (typeof ConditionType)[keyof typeof ConditionType];

/** One reason: the condition status it comes with and when the operator sets it. */
export interface ReasonEntry {
  status: ConditionStatus;
  when: string;
}

/**
 * The one catalogue of condition types and reasons, per kind. The CRDs' field descriptions
 * are generated from it, and every reason has a unit test that shows when it is set.
 */
export const CONDITIONS = {
  UsagePolicy: {
    Ready: {
      Collecting: { status: 'True', when: 'the policy is valid and collects every spec.interval' },
      Suspended: { status: 'True', when: 'spec.suspend is true: nothing is collected' },
      InvalidSpec: { status: 'False', when: 'the spec is invalid; the message names the fields' },
      CrossNamespaceDenied: {
        status: 'False',
        when: "spec.namespaceSelector is set on a policy outside the operator's namespace",
      },
      RetentionAboveLimit: {
        status: 'False',
        when: "a spec.retention level is above the admin's maximum (--max-retention-*)",
      },
      QuotaExceeded: {
        status: 'False',
        when: 'the namespace has more UsagePolicies than the admin allows; the newest are refused',
      },
      CollectionBudgetExceeded: {
        status: 'False',
        when: "the policy's containers do not fit in the cluster-wide collection budget (--max-collected-containers) left by older policies",
      },
    },
    Degraded: {
      AsExpected: { status: 'False', when: 'collection works fully (or the policy does not collect)' },
      MetricsAPIUnavailable: {
        status: 'True',
        when: 'metrics.k8s.io is not served: only uptime (requests, limits) is recorded',
      },
      MetricsListFailed: { status: 'True', when: 'listing pod metrics failed in the last cycle' },
      NodesUnreadable: {
        status: 'True',
        when: "some nodes' kubelets cannot be read: their containers are not billed until the nodes are read again (then by the counters' difference); the message names the nodes",
      },
      KubeletUnavailable: {
        status: 'True',
        when: "none of the policy's nodes can be read from its kubelet: the cycle reads metrics.k8s.io instead; the message names the nodes or the error",
      },
      StoreUnavailable: {
        status: 'True',
        when: 'MongoDB cannot be written: samples wait in a bounded memory buffer',
      },
      SamplesDropped: {
        status: 'True',
        when: 'the outage buffer overflowed and dropped samples (oldest first); the count is in status',
      },
    },
  },
  ResourceAlert: {
    Ready: {
      Evaluating: { status: 'True', when: 'the alert is evaluated on every collection of its policy' },
      Suspended: { status: 'True', when: 'spec.suspend is true: nothing is evaluated' },
      InvalidSpec: { status: 'False', when: 'the spec is invalid; the message names the fields' },
      PolicyNotFound: { status: 'False', when: 'the UsagePolicy in spec.policyRef does not exist' },
      PolicyNotCollecting: {
        status: 'False',
        when: 'the UsagePolicy exists but does not collect (invalid, denied or suspended: see its Ready)',
      },
      WebhookSecretUnavailable: {
        status: 'False',
        when: 'a Secret key of spec.notify.webhook (secretRef, urlSecretRef) cannot be read or is empty',
      },
      DestinationForbidden: {
        status: 'False',
        when: "the webhook's destination is an in-cluster name or a private address the operator's admin did not allow",
      },
      AlertmanagerNotConfigured: {
        status: 'False',
        when: 'spec.notify.alertmanager is set but the operator has no Alertmanager configured',
      },
      QuotaExceeded: {
        status: 'False',
        when: 'the namespace has more ResourceAlerts than the admin allows (--max-alerts-per-namespace); the newest are refused',
      },
    },
    Firing: {
      AwaitingSamples: { status: 'Unknown', when: 'no collection cycle has been evaluated yet' },
      NoTargetsFiring: { status: 'False', when: 'no target is over its threshold for long enough' },
      CPUThresholdExceeded: { status: 'True', when: 'at least one target fires on CPU' },
      MemoryThresholdExceeded: { status: 'True', when: 'at least one target fires on memory' },
      BothThresholdsExceeded: { status: 'True', when: 'targets fire on both CPU and memory' },
    },
    NotificationsFailing: {
      Delivered: { status: 'False', when: 'notifications are delivered again after failures' },
      DeliveryFailed: {
        status: 'True',
        when: 'a notifier keeps failing; the message names it with its last error',
      },
    },
  },
} as const satisfies Record<string, Partial<Record<ConditionTypeName, Record<string, ReasonEntry>>>>;

type Catalogue = typeof CONDITIONS;
type ReasonsOf<K extends keyof Catalogue> = {
  [T in keyof Catalogue[K]]: keyof Catalogue[K][T];
}[keyof Catalogue[K]];
/** Every reason the operator writes, of either kind. */
export type ReasonName = ReasonsOf<'UsagePolicy'> | ReasonsOf<'ResourceAlert'>;

/** The reasons by name, for code that sets them: `Reason.PolicyNotFound`. */
export const Reason = Object.fromEntries(
  Object.values(CONDITIONS).flatMap((types) =>
    Object.values(types).flatMap((reasons) => Object.keys(reasons).map((name) => [name, name])),
  ),
) as { readonly [R in ReasonName]: R };

/** The `conditions` field of a kind, its description listing the catalogue's types and reasons. */
export function conditionsSchemaOf(kind: keyof Catalogue) {
  const lines = Object.entries(CONDITIONS[kind]).map(
    ([type, reasons]) =>
      `${type}: ` +
      Object.entries(reasons as Record<string, ReasonEntry>)
        .map(([reason, { status, when }]) => `${reason} (${status}) when ${when}`)
        .join('; ') +
      '.',
  );
  return {
    ...conditionsSchema,
    description: `Conditions by type, each with its reasons. ${lines.join(' ')}`,
  } as const;
}

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
    current && current.status === next.status ? current.lastTransitionTime : formatTimestamp(now);
  const updated: Condition = { ...next, lastTransitionTime };
  if (!current) return [...(conditions ?? []), updated];
  return (conditions ?? []).map((condition) => (condition === current ? updated : condition));
}
