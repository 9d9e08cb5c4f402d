/**
 * The layering the project chose, checked on the sources' import statements:
 * - api/ (the CRDs' types, validation and conditions) stands alone;
 * - operator/ (the runtime, collection, store, alerting, HTTP) never imports controllers/: the
 *   controllers build on it, and the wiring that joins both lives next to the entry point
 *   (cmd/operator/);
 * - only operator/runtime and each source's Kubernetes module
 *   (operator/sources/<source>/kubernetes-*.ts) import @kubernetes/client-node;
 * - only operator/store imports mongodb.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const SOURCE_DIRS = ['api', 'operator', 'controllers', 'cmd', 'agent'];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  const patterns = [/\bfrom\s+'([^']+)'/g, /\bimport\s+'([^']+)'/g, /\bimport\(\s*'([^']+)'\s*\)/g];
  for (const pattern of patterns) for (const m of text.matchAll(pattern)) specifiers.push(m[1]!);
  return specifiers;
}

/** Imports of each source file, resolved to repository paths for relative ones. */
const graph = SOURCE_DIRS.flatMap(sourceFiles).map((file) => ({
  file,
  imports: importsOf(readFileSync(join(ROOT, file), 'utf8')).map((spec) =>
    spec.startsWith('.') ? relative(ROOT, join(ROOT, file, '..', spec)) : spec,
  ),
}));

const importersOf = (module: string) =>
  graph
    .filter(({ imports }) => imports.some((i) => i === module || i.startsWith(`${module}/`)))
    .map((g) => g.file);

describe('layering', () => {
  it('reads the imports it checks', () => {
    expect(graph.length).toBeGreaterThan(50);
    expect(
      importsOf("import type { A } from './a.js';\nexport { b } from '../b.js';\nawait import('c');"),
    ).toEqual(['./a.js', '../b.js', 'c']);
    expect(importersOf('mongodb').length).toBeGreaterThan(0);
  });

  it('api/ imports nothing outside api/ but ajv and Node built-ins (no operator/model, no controllers)', () => {
    const outside = graph
      .filter(({ file }) => file.startsWith('api/'))
      .flatMap(({ file, imports }) =>
        imports
          .filter(
            (i) => !i.startsWith('api/') && !i.startsWith('node:') && i !== 'ajv' && i !== 'ajv-formats',
          )
          .map((i) => `${file} -> ${i}`),
      );
    expect(outside).toEqual([]);
  });

  it('operator/ imports nothing of controllers/ (the wiring of both is in cmd/)', () => {
    const upward = graph
      .filter(({ file }) => file.startsWith('operator/'))
      .flatMap(({ file, imports }) =>
        imports
          .filter((i) => i === 'controllers' || i.startsWith('controllers/'))
          .map((i) => `${file} -> ${i}`),
      );
    expect(upward).toEqual([]);
    expect(importersOf('controllers').some((f) => f.startsWith('cmd/'))).toBe(true);
  });

  it("only operator/runtime and each source's Kubernetes module import @kubernetes/client-node", () => {
    const importers = importersOf('@kubernetes/client-node');
    expect(
      importers.filter((f) => !f.startsWith('operator/runtime/') && !f.startsWith('operator/sources/')),
    ).toEqual([]);
    expect(importers.filter((f) => f.startsWith('operator/sources/')).sort()).toEqual([
      'operator/sources/agent/kubernetes-agent.ts',
      'operator/sources/kubelet/kubernetes-kubelet.ts',
      'operator/sources/metrics-api/kubernetes-metrics-api.ts',
    ]);
  });

  it('only operator/store imports mongodb', () => {
    expect(importersOf('mongodb').filter((f) => !f.startsWith('operator/store/'))).toEqual([]);
  });
});
