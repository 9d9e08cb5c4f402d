/**
 * Checks objects against the CRD schemas in the operator, with ajv compiling the very schema
 * constants that are printed into crds/*.yaml. Errors name the field the way the apiserver does
 * (`spec.retention.raw`), with a message a person can act on.
 *
 * ajv checks the OpenAPI part (types, enums, bounds, patterns, formats) and applies the schema's
 * defaults; CEL rules are the apiserver's alone, and normalize.ts re-checks what they guard while
 * it parses the spec.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import {
  resourceAlertSpecSchema,
  resourceAlertStatusSchema,
  type ResourceAlertSpec,
} from './resourcealert.js';
import {
  DNS_LABEL_PATTERN,
  DNS_SUBDOMAIN_PATTERN,
  KUBERNETES_SCHEMA_KEYWORDS,
  LABEL_VALUE_PATTERN,
} from './schema-helpers.js';
import { usagePolicySpecSchema, usagePolicyStatusSchema, type UsagePolicySpec } from './usagepolicy.js';

/** A problem with one field: `field` is a path like `spec.cpu.above` or `spec.selector.matchExpressions[0].key`. */
export interface FieldError {
  field: string;
  message: string;
}

/** One line per error, for a condition message: `spec.interval: must be between 10s and 1h; ...`. */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((error) => `${error.field}: ${error.message}`).join('; ');
}

const ajv = new Ajv({
  allErrors: true,
  strict: true,
  // An int-or-string node has no `type` but bounds its string form with maxLength, as Kubernetes allows.
  strictTypes: false,
  useDefaults: true,
  keywords: [...KUBERNETES_SCHEMA_KEYWORDS],
});
// ajv-formats is CommonJS: under NodeNext the plugin is its `default` (it sets exports.default to itself).
addFormatsModule.default(ajv, ['date-time', 'int64']);

const PATTERN_HINTS: Readonly<Record<string, string>> = {
  [DNS_LABEL_PATTERN]: 'must be a DNS-1123 label: lowercase alphanumerics and "-", at most 63 characters',
  [DNS_SUBDOMAIN_PATTERN]: 'must be a DNS-1123 subdomain: lowercase alphanumerics, "-" and "."',
  [LABEL_VALUE_PATTERN]:
    'must be a label value: at most 63 alphanumerics, "-", "_" or ".", starting and ending with an alphanumeric',
};

function fieldPath(prefix: string, error: ErrorObject): string {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') segments.push(String(error.params['missingProperty']));
  let path = prefix;
  for (const segment of segments) {
    if (/^\d+$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) path += `.${segment}`;
    else path += `[${JSON.stringify(segment)}]`;
  }
  return path;
}

function messageOf(error: ErrorObject): string {
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'pattern': {
      const pattern = String(error.params['pattern']);
      return PATTERN_HINTS[pattern] ?? `must match ${pattern}`;
    }
    case 'enum':
      return `must be one of: ${(error.params['allowedValues'] as unknown[]).join(', ')}`;
    case 'format':
      return error.params['format'] === 'date-time'
        ? 'must be an RFC 3339 date-time such as 2026-01-31T18:00:00Z'
        : `must be a valid ${String(error.params['format'])}`;
    case 'anyOf':
      // The only anyOf is int-or-string.
      return 'must be an integer or a string';
    default:
      return error.message ?? `fails ${error.keyword}`;
  }
}

function fieldErrors(prefix: string, errors: readonly ErrorObject[] | null | undefined): FieldError[] {
  const seen = new Set<string>();
  const result: FieldError[] = [];
  for (const error of errors ?? []) {
    // An int-or-string value that is neither reports once, through its anyOf.
    if (error.schemaPath.includes('/anyOf/')) continue;
    const fieldError = { field: fieldPath(prefix, error), message: messageOf(error) };
    const key = `${fieldError.field}\n${fieldError.message}`;
    if (!seen.has(key)) result.push(fieldError);
    seen.add(key);
  }
  return result;
}

export type SchemaCheck<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** Checks `value` against a compiled schema, on a copy with the schema's defaults applied. */
function check<T>(validate: ValidateFunction<T>, value: unknown, prefix: string): SchemaCheck<T> {
  const copy: unknown = structuredClone(value);
  if (validate(copy)) return { ok: true, value: copy };
  return { ok: false, errors: fieldErrors(prefix, validate.errors) };
}

const usagePolicySpec = ajv.compile<UsagePolicySpec>(usagePolicySpecSchema);
const resourceAlertSpec = ajv.compile<ResourceAlertSpec>(resourceAlertSpecSchema);
const usagePolicyStatus = ajv.compile(usagePolicyStatusSchema);
const resourceAlertStatus = ajv.compile(resourceAlertStatusSchema);

function specOf(object: unknown): unknown {
  return typeof object === 'object' && object !== null ? (object as { spec?: unknown }).spec : undefined;
}

/** The object's spec, checked against the CRD schema, with defaults applied. */
export function checkUsagePolicySpec(object: unknown): SchemaCheck<UsagePolicySpec> {
  return check(usagePolicySpec, specOf(object), 'spec');
}

/** The object's spec, checked against the CRD schema, with defaults applied. */
export function checkResourceAlertSpec(object: unknown): SchemaCheck<ResourceAlertSpec> {
  return check(resourceAlertSpec, specOf(object), 'spec');
}

/** Problems the apiserver would find in a UsagePolicy status (CEL rules aside); [] when none. */
export function usagePolicyStatusErrors(status: unknown): FieldError[] {
  return usagePolicyStatus(status) ? [] : fieldErrors('status', usagePolicyStatus.errors);
}

/** Problems the apiserver would find in a ResourceAlert status (CEL rules aside); [] when none. */
export function resourceAlertStatusErrors(status: unknown): FieldError[] {
  return resourceAlertStatus(status) ? [] : fieldErrors('status', resourceAlertStatus.errors);
}
