import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { AgentMetrics } from '../../../agent/metrics.js';
import { KINDS } from '../../../api/v1alpha1/index.js';
import {
  REPOSITORY_ROOT,
  renderCrdReference,
  renderMetricsReference,
  renderReferenceFiles,
} from '../../../scripts/generate-reference.js';

describe('docs/reference/', () => {
  it.each([...renderReferenceFiles()])('%s is what `npm run generate` writes', (path, content) => {
    let committed: string;
    try {
      committed = readFileSync(join(REPOSITORY_ROOT, path), 'utf8');
    } catch {
      committed = `(${path} is missing)`;
    }
    expect(committed).toBe(content);
  });

  it('lists every metric of both registries, with its type and labels', async () => {
    const page = renderMetricsReference();
    for (const registry of [new OperatorMetrics().registry, new AgentMetrics(false).registry]) {
      for (const metric of await registry.getMetricsAsJSON()) {
        const row = page.split('\n').find((line) => line.startsWith(`| \`${metric.name}\` |`));
        expect(row).toBeDefined();
        expect(row).toContain(`| ${metric.type} |`);
      }
    }
    // Labels as declared: the per-container gauges are keyed by namespace, pod and container.
    expect(page).toContain(
      '| `kube_usage_container_cpu_millicores` | gauge | `namespace`, `pod`, `container` |',
    );
  });

  it('lists every spec and status field of both kinds, with defaults and rules', () => {
    const page = renderCrdReference();
    for (const kind of KINDS) {
      expect(page).toContain(`## ${kind.kind}`);
      for (const field of Object.keys(kind.specSchema.properties ?? {}))
        expect(page).toContain(`| \`spec.${field}\` |`);
      for (const field of Object.keys(kind.statusSchema.properties ?? {}))
        expect(page).toContain(`| \`status.${field}\` |`);
    }
    expect(page).toMatch(/\| `spec\.interval` \| string \| `"30s"` \| [^|]*must be between 10s and 1h/);
    expect(page).toMatch(/\| `spec\.for` \| integer \| `3` \| >= 1; <= 1000 \|/);
    // The condition catalogue, one row per reason.
    expect(page).toContain('| `Ready` | `CrossNamespaceDenied` | False |');
  });
});
