/**
 * ResourceAlert: thresholds over a UsagePolicy's samples, fire after N consecutive breaches,
 * resolve after M healthy samples, with the alert's state kept on the object's status.
 */
import { conditionsSchemaOf } from './conditions.js';
import type { API_VERSION } from './schema-helpers.js';
import {
  ageColumn,
  counterSchema,
  labelSelectorSchema,
  objectNameSchema,
  timestampSchema,
  type FromSchema,
  type KindDefinition,
  type ObjectMeta,
  type StructuralSchema,
} from './schema-helpers.js';

export const RESOURCE_ALERT_DEFAULTS = {
  scope: 'container',
  for: 3,
  recoverAfter: 2,
  noData: 'keep',
  severity: 'warning',
  notify: { events: true },
  suspend: false,
} as const;

export const PERCENT_BOUNDS = { min: 1, max: 1000 } as const;
/** Upper bound of `for` and `recoverAfter`: at a 1h interval, 1000 samples is six weeks. */
export const MAX_CONSECUTIVE_SAMPLES = 1000;
export const MAX_STATUS_TARGETS = 50;

const isPercentCel = "(type(self.above) == string && self.above.endsWith('%'))";

const thresholdSchema = {
  type: 'object',
  required: ['above'],
  properties: {
    above: {
      description:
        'Fires above this value: a quantity like resources.limits values (CPU: 1, 750m; memory: 512Mi, 1Gi), or a percent such as "80%" of the container\'s limit or request (then `of` is required).',
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      maxLength: 64,
    },
    of: {
      type: 'string',
      description: 'With a percent threshold: the percent of the limit or of the request.',
      enum: ['limit', 'request'],
    },
  },
  'x-kubernetes-validations': [
    {
      rule: `!${isPercentCel} || has(self.of)`,
      message: 'of (limit or request) is required with a percent threshold',
      fieldPath: '.of',
      reason: 'FieldValueRequired',
    },
    {
      rule: `${isPercentCel} || !has(self.of)`,
      message: 'of is only allowed with a percent threshold such as "80%"',
      fieldPath: '.of',
      reason: 'FieldValueForbidden',
    },
    {
      rule:
        `!${isPercentCel} || (self.above.matches('^[0-9]+(\\\\.[0-9]+)?%$') && ` +
        `double(self.above.substring(0, self.above.size() - 1)) >= ${PERCENT_BOUNDS.min}.0 && ` +
        `double(self.above.substring(0, self.above.size() - 1)) <= ${PERCENT_BOUNDS.max}.0)`,
      message: `a percent threshold must be between ${PERCENT_BOUNDS.min}% and ${PERCENT_BOUNDS.max}%, e.g. "80%"`,
      fieldPath: '.above',
    },
    {
      rule:
        `${isPercentCel} || (type(self.above) == int ? self.above > 0 : ` +
        `(isQuantity(self.above) && quantity(self.above).isGreaterThan(quantity('0'))))`,
      message: 'must be a positive quantity (e.g. 1, 750m, 512Mi, 1Gi) or a percent (e.g. "80%")',
      fieldPath: '.above',
    },
  ],
} as const satisfies StructuralSchema;

const httpUrlSchema = {
  type: 'string',
  maxLength: 2048,
  'x-kubernetes-validations': [
    {
      rule: "isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",
      message: 'must be an http:// or https:// URL with a host',
    },
  ],
} as const satisfies StructuralSchema;

const secretKeyRefSchema = {
  type: 'object',
  required: ['name', 'key'],
  properties: {
    name: objectNameSchema,
    key: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$' },
  },
} as const satisfies StructuralSchema;

/** The label a Secret needs before notifications read it (NOTIFICATION_SECRET_LABEL in the notifiers). */
export const NOTIFICATION_SECRET_LABEL_TEXT = 'usage.kubeusage.dev/notification-secret';
export const MAX_ALERTMANAGER_LABELS = 16;
export const ALERTMANAGER_URL_REMOVED =
  "spec.notify.alertmanager.url is no longer supported: Alertmanager receivers are configured on the operator by the cluster admin (--alertmanager-url); remove url and keep 'alertmanager: {}' (optionally with labels) to opt in";

function consecutiveSchema(description: string, defaultValue: number) {
  return {
    type: 'integer',
    description: `${description} Default ${defaultValue}.`,
    minimum: 1,
    maximum: MAX_CONSECUTIVE_SAMPLES,
    default: defaultValue,
  } as const satisfies StructuralSchema;
}

export const resourceAlertSpecSchema = {
  type: 'object',
  required: ['policyRef'],
  properties: {
    policyRef: {
      type: 'object',
      description: 'The UsagePolicy (same namespace) whose samples are evaluated.',
      required: ['name'],
      properties: { name: objectNameSchema },
    },
    selector: { ...labelSelectorSchema, description: "Optional narrowing of the policy's pods." },
    scope: {
      type: 'string',
      description: 'container: each container on its own; pod: the sum over its containers.',
      enum: ['container', 'pod'],
      default: RESOURCE_ALERT_DEFAULTS.scope,
    },
    cpu: thresholdSchema,
    memory: thresholdSchema,
    for: consecutiveSchema(
      'Consecutive breaching samples before Firing (Pending until then).',
      RESOURCE_ALERT_DEFAULTS.for,
    ),
    recoverAfter: consecutiveSchema(
      'Consecutive healthy samples before a firing target resolves.',
      RESOURCE_ALERT_DEFAULTS.recoverAfter,
    ),
    noData: {
      type: 'string',
      description: 'What a target without a fresh sample does: keep its state, resolve, or alert.',
      enum: ['keep', 'resolve', 'alert'],
      default: RESOURCE_ALERT_DEFAULTS.noData,
    },
    severity: {
      type: 'string',
      description: 'The severity label sent to Alertmanager and webhooks.',
      enum: ['critical', 'warning', 'info'],
      default: RESOURCE_ALERT_DEFAULTS.severity,
    },
    notify: {
      type: 'object',
      description: 'Where transitions are announced.',
      default: {},
      properties: {
        events: {
          type: 'boolean',
          description: 'Kubernetes Events on every transition.',
          default: RESOURCE_ALERT_DEFAULTS.notify.events,
        },
        alertmanager: {
          type: 'object',
          description:
            "Send transitions to the cluster's Alertmanager, which the operator's admin configures (--alertmanager-url); `{}` opts in.",
          properties: {
            labels: {
              type: 'object',
              description:
                'Labels added to every alert sent (e.g. team: payments), for routing; the identifying labels (alertname, namespace, pod, ...) win over them.',
              maxProperties: MAX_ALERTMANAGER_LABELS,
              additionalProperties: { type: 'string', maxLength: 256 },
              'x-kubernetes-validations': [
                {
                  rule: "self.all(k, k.matches('^[a-zA-Z_][a-zA-Z0-9_]{0,62}$'))",
                  message:
                    'label names must be Prometheus label names: letters, digits and "_", not starting with a digit',
                },
              ],
            },
            url: {
              type: 'string',
              maxLength: 2048,
              description:
                'Removed: Alertmanager receivers are configured on the operator by its admin. Kept in the schema only to reject it with a clear message.',
            },
          },
          'x-kubernetes-validations': [
            {
              rule: '!has(self.url)',
              message: ALERTMANAGER_URL_REMOVED,
              fieldPath: '.url',
              reason: 'FieldValueForbidden',
            },
          ],
        },
        webhook: {
          type: 'object',
          description:
            "A URL that receives a JSON POST on every transition: `url`, or `urlSecretRef` when the URL carries credentials. Destinations inside the cluster or on private networks are refused unless the operator's admin allows them.",
          properties: {
            url: httpUrlSchema,
            urlSecretRef: {
              ...secretKeyRefSchema,
              description: `A key of a Secret in this namespace that holds the URL; the Secret needs the label ${NOTIFICATION_SECRET_LABEL_TEXT}=true.`,
            },
            secretRef: {
              ...secretKeyRefSchema,
              description: `A key of a Secret in this namespace whose value is sent as a bearer token; the Secret needs the label ${NOTIFICATION_SECRET_LABEL_TEXT}=true.`,
            },
          },
          'x-kubernetes-validations': [
            {
              rule: 'has(self.url) != has(self.urlSecretRef)',
              message: 'exactly one of url or urlSecretRef is required',
            },
          ],
        },
      },
    },
    muteUntil: {
      ...timestampSchema,
      description: 'RFC 3339 time until which the alert evaluates but does not notify.',
    },
    suspend: {
      type: 'boolean',
      description: 'Stop evaluating without deleting the alert.',
      default: RESOURCE_ALERT_DEFAULTS.suspend,
    },
  },
  'x-kubernetes-validations': [
    {
      rule: 'has(self.cpu) || has(self.memory)',
      message: 'at least one of spec.cpu or spec.memory is required',
    },
  ],
} as const satisfies StructuralSchema;

const alertStates = ['Normal', 'Pending', 'Firing'] as const;

export const alertTargetSchema = {
  type: 'object',
  description: 'One evaluated target and its counters; the evaluator resumes from these after a restart.',
  required: ['pod', 'metric', 'state', 'breaches', 'healthy'],
  properties: {
    namespace: {
      type: 'string',
      maxLength: 63,
      description: "The pod's namespace (a policy in the operator's namespace may span several).",
    },
    pod: { type: 'string', maxLength: 253 },
    container: { type: 'string', maxLength: 63, description: 'Absent when scope is pod.' },
    metric: { type: 'string', enum: ['cpu', 'memory'] },
    value: { type: 'string', maxLength: 64, description: 'The last value, e.g. 910m or 1.2Gi.' },
    threshold: { type: 'string', maxLength: 64, description: 'The threshold in the same unit, e.g. 800m.' },
    breaches: { ...counterSchema, description: 'Consecutive breaching samples.' },
    healthy: { ...counterSchema, description: 'Consecutive healthy samples (counts towards recoverAfter).' },
    state: {
      type: 'string',
      description:
        'NoBasis: a percent threshold and no limit or request to take it of. NoData: no fresh sample.',
      enum: [...alertStates, 'NoBasis', 'NoData'],
    },
    since: { ...timestampSchema, description: 'When the target entered its state.' },
    lastNotified: timestampSchema,
    resolvedAt: {
      ...timestampSchema,
      description:
        'Only on a target listed as Normal: when it resolved. It stays listed until its resolution is delivered; an operator that restarts before then announces it.',
    },
    firingNotified: {
      type: 'boolean',
      description:
        'Whether the firing notification was delivered (or given up); one not delivered is announced again after a restart.',
    },
  },
} as const satisfies StructuralSchema;

export const resourceAlertStatusSchema = {
  type: 'object',
  properties: {
    observedGeneration: counterSchema,
    state: { type: 'string', description: 'The worst state over the targets.', enum: alertStates },
    alertState: { type: 'string', enum: ['normal', 'cpu_alert', 'mem_alert', 'both_alert'] },
    cpuConsecutiveBreaches: { ...counterSchema, description: 'The longest current CPU streak over targets.' },
    memConsecutiveBreaches: {
      ...counterSchema,
      description: 'The longest current memory streak over targets.',
    },
    firingTargets: counterSchema,
    pendingTargets: counterSchema,
    noBasisTargets: {
      ...counterSchema,
      description: 'Targets with a percent threshold but no limit or request to take it of.',
    },
    lastEvaluationTime: timestampSchema,
    lastAlertedAt: timestampSchema,
    targets: {
      type: 'array',
      description: `The targets that are not Normal, worst first, then resolved ones whose resolution is not yet delivered (Normal, with resolvedAt); at most ${MAX_STATUS_TARGETS}.`,
      maxItems: MAX_STATUS_TARGETS,
      items: alertTargetSchema,
    },
    notificationFailures: { ...counterSchema, description: 'Notifications that could not be delivered.' },
    conditions: conditionsSchemaOf('ResourceAlert'),
  },
} as const satisfies StructuralSchema;

export type ResourceAlertSpec = FromSchema<typeof resourceAlertSpecSchema>;
export type ResourceAlertStatus = FromSchema<typeof resourceAlertStatusSchema>;
export type AlertTarget = FromSchema<typeof alertTargetSchema>;
export type ThresholdSpec = FromSchema<typeof thresholdSchema>;

export interface ResourceAlert {
  apiVersion: typeof API_VERSION;
  kind: 'ResourceAlert';
  metadata: ObjectMeta;
  spec: ResourceAlertSpec;
  status?: ResourceAlertStatus;
}

export const resourceAlertKind = {
  kind: 'ResourceAlert',
  plural: 'resourcealerts',
  singular: 'resourcealert',
  shortNames: ['ra'],
  description:
    "ResourceAlert fires when a UsagePolicy's pods use more CPU or memory than a threshold for consecutive samples.",
  specSchema: resourceAlertSpecSchema,
  statusSchema: resourceAlertStatusSchema,
  printerColumns: [
    { name: 'State', type: 'string', jsonPath: '.status.state', description: 'Normal, Pending or Firing.' },
    { name: 'Firing', type: 'integer', jsonPath: '.status.firingTargets', description: 'Targets firing.' },
    {
      name: 'CPU Breaches',
      type: 'integer',
      jsonPath: '.status.cpuConsecutiveBreaches',
      description: 'Longest current CPU streak.',
    },
    {
      name: 'Mem Breaches',
      type: 'integer',
      jsonPath: '.status.memConsecutiveBreaches',
      description: 'Longest current memory streak.',
    },
    {
      name: 'Last Alert',
      type: 'date',
      jsonPath: '.status.lastAlertedAt',
      description: 'Last notification.',
    },
    ageColumn,
    {
      name: 'Policy',
      type: 'string',
      jsonPath: '.spec.policyRef.name',
      description: 'The UsagePolicy.',
      priority: 1,
    },
    {
      name: 'Severity',
      type: 'string',
      jsonPath: '.spec.severity',
      description: 'Alert severity.',
      priority: 1,
    },
  ],
} as const satisfies KindDefinition;
