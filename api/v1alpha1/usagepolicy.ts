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

/** One workload container of a right-sizing summary (docs/rightsizing.md). */
const rightsizingEntrySchema = {
  type: 'object',
  required: ['workload', 'container'],
  properties: {
    workload: { type: 'string', maxLength: 320, description: 'Kind/name, e.g. Deployment/web.' },
    container: { type: 'string', maxLength: 253 },
    cpu: {
      type: 'string',
      maxLength: 64,
      description: 'Current request -> recommended, e.g. "500m -> 249m".',
    },
    memory: {
      type: 'string',
      maxLength: 64,
      description: 'Current request -> recommended, e.g. "512Mi -> 363Mi".',
    },
    costPerHour: {
      type: 'number',
      description: 'Cost difference per hour over all replicas at the operator prices (negative: a saving).',
    },
  },
} as const satisfies StructuralSchema;

/** Entries per list in the status summary. */
export const RIGHTSIZING_SUMMARY_ENTRIES = 3;

const rightsizingSchema = {
  type: 'object',
  description:
    "Right-sizing of the policy's namespace (strategy vpa over 8 days): the workloads furthest above and below their recommendations. The API has them all: GET /api/v1/namespaces/{ns}/recommendations.",
  properties: {
    lastUpdateTime: timestampSchema,
    workloads: { ...counterSchema, description: 'Workload containers with a recommendation.' },
    savingsPerHour: {
      type: 'number',
      description: 'What requesting the recommendations would save per hour where requests are above them.',
    },
    overProvisioned: { type: 'array', maxItems: RIGHTSIZING_SUMMARY_ENTRIES, items: rightsizingEntrySchema },
    underProvisioned: { type: 'array', maxItems: RIGHTSIZING_SUMMARY_ENTRIES, items: rightsizingEntrySchema },
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
    rightsizing: rightsizingSchema,
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
      name: 'Savings/h',
      type: 'number',
      jsonPath: '.status.rightsizing.savingsPerHour',
      description: 'What requesting the recommendations would save per hour (docs/rightsizing.md).',
    },
    {
      name: 'Most Over',
      type: 'string',
      jsonPath: '.status.rightsizing.overProvisioned[0].workload',
      description: 'The workload whose requests are furthest above its recommendation.',
      priority: 1,
    },
    {
      name: 'Most Under',
      type: 'string',
      jsonPath: '.status.rightsizing.underProvisioned[0].workload',
      description: 'The workload whose requests are furthest below its recommendation.',
      priority: 1,
    },
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
