/**
 * The vocabulary of the CRD schemas: a structural OpenAPI v3 schema type, the type-level
 * derivation of TypeScript types from schema constants, and schema pieces both kinds share.
 *
 * Each schema is written once, as a TypeScript constant. The CRD generator prints it into
 * crds/*.yaml, ajv compiles the very same object, and FromSchema derives the TypeScript type, so
 * the three cannot drift apart.
 */
import { celDurationSeconds, celIsDuration, DURATION_FORMAT_HINT, parseDuration } from '../duration.js';

/** A CEL rule in `x-kubernetes-validations`. */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
  /** A CEL expression for the message, to show the value; `message` is the fallback. */
  readonly messageExpression?: string;
  /** A JSONPath-like path from the schema node to the field the message is about, e.g. `.raw`. */
  readonly fieldPath?: string;
  readonly reason?:
    'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate';
}

/** The subset of OpenAPI v3 used by structural CRD schemas, with Kubernetes' extensions. */
export interface StructuralSchema {
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  readonly description?: string;
  readonly format?: 'date-time' | 'int32' | 'int64';
  readonly properties?: Readonly<Record<string, StructuralSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: StructuralSchema;
  readonly items?: StructuralSchema;
  readonly anyOf?: readonly StructuralSchema[];
  readonly enum?: readonly (string | number)[];
  readonly default?: unknown;
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly maxProperties?: number;
  readonly 'x-kubernetes-int-or-string'?: true;
  readonly 'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  readonly 'x-kubernetes-list-map-keys'?: readonly string[];
  readonly 'x-kubernetes-map-type'?: 'atomic' | 'granular';
  readonly 'x-kubernetes-validations'?: readonly CelRule[];
}

/** The Kubernetes extension keywords; ajv must know them to compile the schemas in strict mode. */
export const KUBERNETES_SCHEMA_KEYWORDS = [
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
] as const;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredKeys<S> = S extends { readonly required: readonly (infer R)[] } ? R : never;
type ObjectOf<P, R> = Simplify<
  { -readonly [K in keyof P as K extends R ? K : never]: FromSchema<P[K]> } & {
    -readonly [K in keyof P as K extends R ? never : K]?: FromSchema<P[K]>;
  }
>;

/** The TypeScript type of the values a schema constant (declared `as const`) accepts. */
export type FromSchema<S> = S extends { readonly 'x-kubernetes-int-or-string': true }
  ? number | string
  : S extends { readonly enum: readonly (infer E)[] }
    ? E
    : S extends { readonly type: 'string' }
      ? string
      : S extends { readonly type: 'integer' | 'number' }
        ? number
        : S extends { readonly type: 'boolean' }
          ? boolean
          : S extends { readonly type: 'array'; readonly items: infer I }
            ? FromSchema<I>[]
            : S extends { readonly type: 'object'; readonly properties: infer P }
              ? ObjectOf<P, RequiredKeys<S>>
              : S extends { readonly type: 'object'; readonly additionalProperties: infer A }
                ? Record<string, FromSchema<A>>
                : unknown;

/** A DNS-1123 label: namespace names. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** A DNS-1123 subdomain: names of most objects (policies, secrets). */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** A label value (may be empty). */
export const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';

export const objectNameSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 253,
  pattern: DNS_SUBDOMAIN_PATTERN,
} as const satisfies StructuralSchema;

const labelValueSchema = {
  type: 'string',
  maxLength: 63,
  pattern: LABEL_VALUE_PATTERN,
} as const satisfies StructuralSchema;

export const matchLabelsSchema = {
  type: 'object',
  description: 'Labels that must all be present with these values.',
  maxProperties: 64,
  additionalProperties: labelValueSchema,
} as const satisfies StructuralSchema;

export const LABEL_SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

export const matchExpressionsSchema = {
  type: 'array',
  description: 'Requirements that must all hold.',
  maxItems: 32,
  items: {
    type: 'object',
    required: ['key', 'operator'],
    properties: {
      key: { type: 'string', minLength: 1, maxLength: 317 },
      operator: { type: 'string', enum: LABEL_SELECTOR_OPERATORS },
      values: { type: 'array', maxItems: 64, items: labelValueSchema },
    },
    'x-kubernetes-validations': [
      {
        rule: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
        message: 'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
        fieldPath: '.values',
      },
    ],
  },
} as const satisfies StructuralSchema;

/** metav1.LabelSelector. An empty selector selects everything in scope. */
export const labelSelectorSchema = {
  type: 'object',
  description: 'A standard label selector; {} selects every pod in scope.',
  properties: { matchLabels: matchLabelsSchema, matchExpressions: matchExpressionsSchema },
  'x-kubernetes-map-type': 'atomic',
} as const satisfies StructuralSchema;

export type LabelSelector = FromSchema<typeof labelSelectorSchema>;
export type LabelSelectorOperator = (typeof LABEL_SELECTOR_OPERATORS)[number];

export interface DurationBounds {
  readonly min: string;
  readonly max?: string;
}

/**
 * A duration string in the spec's notation (see api/duration.ts) with a default and bounds. The
 * format is a CEL rule rather than an OpenAPI pattern so that the message explains the notation
 * instead of printing the regular expression; the bounds rule runs only on a well-formed value.
 */
export function durationSchema<const D extends string>(
  description: string,
  defaultValue: D,
  bounds: DurationBounds,
) {
  const seconds = (duration: string) => parseDuration(duration) / 1000;
  const inBounds =
    bounds.max === undefined
      ? `${celDurationSeconds('self')} >= ${seconds(bounds.min)}`
      : `${celDurationSeconds('self')} >= ${seconds(bounds.min)} && ${celDurationSeconds('self')} <= ${seconds(bounds.max)}`;
  return {
    type: 'string',
    description: `${description} Whole numbers with units d, h, m, s, e.g. 30s, 1h30m, 7d. Default ${defaultValue}.`,
    minLength: 2,
    maxLength: 32,
    default: defaultValue,
    'x-kubernetes-validations': [
      {
        rule: celIsDuration('self'),
        message: `must be a duration: ${DURATION_FORMAT_HINT}`,
        messageExpression: `'"' + self + '" is not a duration: ${DURATION_FORMAT_HINT}'`,
      },
      {
        rule: `!${celIsDuration('self')} || (${inBounds})`,
        message:
          bounds.max === undefined
            ? `must be at least ${bounds.min}`
            : `must be between ${bounds.min} and ${bounds.max}`,
      },
    ],
  } as const satisfies StructuralSchema;
}

export const timestampSchema = { type: 'string', format: 'date-time' } as const satisfies StructuralSchema;
export const counterSchema = {
  type: 'integer',
  format: 'int64',
  minimum: 0,
} as const satisfies StructuralSchema;

export const API_GROUP = 'usage.kubeusage.dev';
export const API_VERSION_NAME = 'v1alpha1';
export const API_VERSION = `${API_GROUP}/${API_VERSION_NAME}` as const;
/** `kubectl get usage` lists both kinds. */
export const CATEGORY = 'usage';

/** The metadata fields the operator reads; the apiserver owns the rest. */
export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly jsonPath: string;
  readonly description: string;
  /** 1 shows the column only with `-o wide`. */
  readonly priority?: 1;
}

/** Everything the CRD generator needs to know about one kind. */
export interface KindDefinition {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly description: string;
  readonly specSchema: StructuralSchema;
  readonly statusSchema: StructuralSchema;
  readonly printerColumns: readonly PrinterColumn[];
}

export const ageColumn: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since the object was created.',
};

/** The whole object's schema: apiVersion, kind, metadata (the apiserver's), spec and status. */
export function objectSchema(definition: KindDefinition): StructuralSchema {
  return {
    type: 'object',
    description: definition.description,
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: definition.specSchema,
      status: definition.statusSchema,
    },
  };
}
