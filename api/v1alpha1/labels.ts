/**
 * Label selectors: matching (as the apiserver does) and the checks the CRD's OpenAPI schema
 * cannot express.
 */
import type { FieldError } from './validation.js';
import type { LabelSelector } from './schema-helpers.js';

type Requirement = NonNullable<LabelSelector['matchExpressions']>[number];

function requirementMatches(requirement: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const value = Object.hasOwn(labels, requirement.key) ? labels[requirement.key] : undefined;
  switch (requirement.operator) {
    case 'In':
      return value !== undefined && (requirement.values ?? []).includes(value);
    case 'NotIn':
      return value === undefined || !(requirement.values ?? []).includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
  }
}

/** Whether `labels` satisfy `selector`: every matchLabels pair and every matchExpressions requirement. */
export function labelSelectorMatches(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const present = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!Object.hasOwn(present, key) || present[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((requirement) => requirementMatches(requirement, present));
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `key` is not a valid label key (`[prefix/]name`), or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !PREFIX.test(prefix))) {
    return `invalid label key ${JSON.stringify(key)}: the prefix must be a DNS subdomain of at most 253 characters`;
  }
  if (name.length > 63 || !NAME.test(name)) {
    return `invalid label key ${JSON.stringify(key)}: the name must be 1-63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
  }
  return undefined;
}

/**
 * What the apiserver cannot check in a selector: label keys (map keys and requirement keys) and,
 * as the CRD's CEL rule does, that In/NotIn have values and Exists/DoesNotExist have none.
 */
export function validateLabelSelector(
  selector: Pick<LabelSelector, 'matchLabels' | 'matchExpressions'>,
  field: string,
): FieldError[] {
  const errors: FieldError[] = [];
  for (const key of Object.keys(selector.matchLabels ?? {})) {
    const problem = labelKeyProblem(key);
    if (problem) errors.push({ field: `${field}.matchLabels`, message: problem });
  }
  (selector.matchExpressions ?? []).forEach((requirement, index) => {
    const at = `${field}.matchExpressions[${index}]`;
    const problem = labelKeyProblem(requirement.key);
    if (problem) errors.push({ field: `${at}.key`, message: problem });
    const needsValues = requirement.operator === 'In' || requirement.operator === 'NotIn';
    if (needsValues !== (requirement.values ?? []).length > 0) {
      errors.push({
        field: `${at}.values`,
        message: 'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
      });
    }
  });
  return errors;
}
