/**
 * UsagePolicy: which pods to collect, how often, and how long each resolution is kept.
 */
import { celDurationSeconds, celIsDuration } from '../duration.js';
import { conditionsSchemaOf } from './conditions.js';
import type { API_VERSION } from './schema-helpers.js';
import {
  DNS_LABEL_PATTERN,
  ageColumn,
  counterSchema,
  durationSchema,
  labelSelectorSchema,
  matchExpressionsSchema,
  matchLabelsSchema,
  timestampSchema,
  type FromSchema,
  type KindDefinition,
  type ObjectMeta,
  type StructuralSchema,
} from './schema-helpers.js';

export const USAGE_POLICY_DEFAULTS = {
  interval: '30s',
  retention: { raw: '7d', hourly: '90d', daily: '400d' },
  suspend: false,
} as const;

/** metrics-server resolves ~15s, so faster is noise; slower than an hour is not monitoring. */
export const INTERVAL_BOUNDS = { min: '10s', max: '1h' } as const;
/** Below an hour, a resolution would be deleted before the next rollup could use it. */
export const RETENTION_MIN = '1h';

const intervalSchema = durationSchema(
  'How often pods are sampled, 10s..1h.',
  USAGE_POLICY_DEFAULTS.interval,
  INTERVAL_BOUNDS,
);

function retentionSchema<const D extends string>(description: string, defaultValue: D) {
  return durationSchema(description, defaultValue, { min: RETENTION_MIN });
}

const retentionOrderRule = (shorter: string, longer: string) =>
  ({
    rule:
      `!has(self.${shorter}) || !has(self.${longer}) || !${celIsDuration(`self.${shorter}`)} || ` +
      `!${celIsDuration(`self.${longer}`)} || ` +
      `${celDurationSeconds(`self.${shorter}`)} <= ${celDurationSeconds(`self.${longer}`)}`,
    message: `${shorter} retention must not be longer than ${longer} retention`,
    messageExpression: `'${shorter} retention (' + self.${shorter} + ') must not be longer than ${longer} retention (' + self.${longer} + ')'`,
    fieldPath: `.${shorter}`,
  }) as const;

export const usagePolicySpecSchema = {
  type: 'object',
  required: ['selector'],
  properties: {
    selector: labelSelectorSchema,
    namespaceSelector: {
      type: 'object',
      description:
        "Namespaces to collect from; default: the policy's own namespace. Honoured only for policies in the operator's namespace (elsewhere Ready=False, reason CrossNamespaceDenied). Given fields must all match; {} selects every namespace.",
      properties: {
        matchNames: {
          type: 'array',
          maxItems: 256,
          items: { type: 'string', maxLength: 63, pattern: DNS_LABEL_PATTERN },
          'x-kubernetes-list-type': 'set',
        },
        matchLabels: matchLabelsSchema,
        matchExpressions: matchExpressionsSchema,
      },
      'x-kubernetes-map-type': 'atomic',
    },
    interval: intervalSchema,
    retention: {
      type: 'object',
      description: 'How long each resolution is kept: raw <= hourly <= daily.',
      default: {},
      properties: {
        raw: retentionSchema('Raw samples (and 1m, 5m rollups).', USAGE_POLICY_DEFAULTS.retention.raw),
        hourly: retentionSchema('Hourly rollups.', USAGE_POLICY_DEFAULTS.retention.hourly),
        daily: retentionSchema('Daily rollups.', USAGE_POLICY_DEFAULTS.retention.daily),
      },
      'x-kubernetes-validations': [
        retentionOrderRule('raw', 'hourly'),
        retentionOrderRule('hourly', 'daily'),
      ],
    },
    suspend: {
      type: 'boolean',
      description: 'Stop collecting without deleting the policy or its history.',
      default: USAGE_POLICY_DEFAULTS.suspend,
    },
  },
} as const satisfies StructuralSchema;

export const usagePolicyStatusSchema = {
  type: 'object',
  properties: {
    observedGeneration: counterSchema,
    matchedPods: counterSchema,
    matchedContainers: counterSchema,
    lastCollectionTime: timestampSchema,
    metricsSource: {
      type: 'string',
      enum: ['kubelet', 'metrics.k8s.io', 'none'],
      description:
        "Where usage comes from: kubelet (the nodes' resource endpoints, cumulative counters), metrics.k8s.io (the fallback when no node can be read), or none (uptime only).",
    },
    droppedSamples: {
      ...counterSchema,
      description: 'Samples dropped by the outage buffer while the store was unavailable.',
    },
    conditions: conditionsSchemaOf('UsagePolicy'),
  },
} as const satisfies StructuralSchema;

export type UsagePolicySpec = FromSchema<typeof usagePolicySpecSchema>;
export type UsagePolicyStatus = FromSchema<typeof usagePolicyStatusSchema>;

export interface UsagePolicy {
  apiVersion: typeof API_VERSION;
  kind: 'UsagePolicy';
  metadata: ObjectMeta;
  spec: UsagePolicySpec;
  status?: UsagePolicyStatus;
}

export const usagePolicyKind = {
  kind: 'UsagePolicy',
  plural: 'usagepolicies',
  singular: 'usagepolicy',
  shortNames: ['up'],
  description:
    'UsagePolicy selects pods whose usage the operator collects, how often, and how long it is kept.',
  specSchema: usagePolicySpecSchema,
  statusSchema: usagePolicyStatusSchema,
  printerColumns: [
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: 'Whether the policy is valid and collecting.',
    },
    { name: 'Pods', type: 'integer', jsonPath: '.status.matchedPods', description: 'Pods matched.' },
    { name: 'Interval', type: 'string', jsonPath: '.spec.interval', description: 'Collection interval.' },
    {
      name: 'Last Collection',
      type: 'date',
      jsonPath: '.status.lastCollectionTime',
      description: 'When usage was last collected.',
    },
    ageColumn,
    {
      name: 'Containers',
      type: 'integer',
      jsonPath: '.status.matchedContainers',
      description: 'Containers matched.',
      priority: 1,
    },
    {
      name: 'Source',
      type: 'string',
      jsonPath: '.status.metricsSource',
      description: 'kubelet, metrics.k8s.io (the fallback), or none while no source answers.',
      priority: 1,
    },
  ],
} as const satisfies KindDefinition;
