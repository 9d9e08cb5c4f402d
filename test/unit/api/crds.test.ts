import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { KINDS, type StructuralSchema } from '../../../api/v1alpha1/index.js';
import { CRDS_DIR, renderCrdFiles } from '../../../scripts/generate-crds.js';

describe('crds/', () => {
  it.each([...renderCrdFiles()])('%s is what `npm run generate` writes', (name, content) => {
    let committed: string;
    try {
      committed = readFileSync(join(CRDS_DIR, name), 'utf8');
    } catch {
      committed = `(crds/${name} is missing)`;
    }
    expect(committed).toBe(content);
  });
});

/** The rules of a structural schema that the schema constants must keep to, checked on every node. */
function structuralProblems(schema: StructuralSchema, path: string): string[] {
  const problems: string[] = [];
  const typeless = schema['x-kubernetes-int-or-string'] === true;
  if (!schema.type && !typeless) problems.push(`${path}: no type`);
  if (schema.properties && schema.additionalProperties)
    problems.push(`${path}: properties and additionalProperties`);
  if (schema.type === 'array' && !schema.items) problems.push(`${path}: array without items`);
  if (schema['x-kubernetes-list-type'] === 'map') {
    for (const key of schema['x-kubernetes-list-map-keys'] ?? []) {
      if (!schema.items?.required?.includes(key)) problems.push(`${path}: list-map key ${key} not required`);
    }
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    problems.push(...structuralProblems(child, `${path}.${name}`));
  }
  if (schema.items) problems.push(...structuralProblems(schema.items, `${path}[]`));
  if (schema.additionalProperties)
    problems.push(...structuralProblems(schema.additionalProperties, `${path}{}`));
  return problems;
}

describe('the schemas', () => {
  it.each(KINDS.map((kind) => [kind.kind, kind] as const))('%s is structural', (_name, kind) => {
    expect(structuralProblems(kind.specSchema, 'spec')).toEqual([]);
    expect(structuralProblems(kind.statusSchema, 'status')).toEqual([]);
  });

  it.each(KINDS.map((kind) => [kind.kind, kind] as const))(
    '%s keeps status.targets and conditions bounded',
    (_n, kind) => {
      const status = kind.statusSchema.properties ?? {};
      for (const field of Object.values(status)) {
        if (field.type === 'array') expect(field.maxItems).toBeGreaterThan(0);
      }
      expect(status['conditions']?.['x-kubernetes-list-map-keys']).toEqual(['type']);
    },
  );
});
