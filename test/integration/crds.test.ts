/**
 * The CRDs against the real apiserver: they install, the samples apply, mistakes are rejected at
 * admission naming the field, `kubectl get` shows the state, and status moves only through the
 * status subresource.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseAllDocuments, stringify } from 'yaml';
import { API_VERSION } from '../../api/v1alpha1/index.js';
import { CRDS_DIR } from '../../scripts/generate-crds.js';
import { INVALID_OBJECTS, manifest } from '../fixtures/api/invalid-objects.js';
import { deleteNamespace, kubectl, kubectlOk, newNamespace } from '../harness/index.js';

const SAMPLES_DIR = join(import.meta.dirname, '..', '..', 'manifests', 'samples');
const CRD_NAMES = ['usagepolicies.usage.kubeusage.dev', 'resourcealerts.usage.kubeusage.dev'];

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const namespaces: string[] = [];
async function namespace(prefix: string): Promise<string> {
  const name = await newNamespace(prefix);
  namespaces.push(name);
  return name;
}

async function getObject(resource: string, namespace: string): Promise<KubeObject> {
  return JSON.parse(await kubectlOk(['get', '-n', namespace, resource, '-o', 'json'])) as KubeObject;
}

async function apply(object: unknown): Promise<void> {
  await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(object) });
}

async function patchStatus(resource: string, namespace: string, status: unknown): Promise<void> {
  const patch = JSON.stringify({ status });
  await kubectlOk(['patch', '-n', namespace, resource, '--subresource=status', '--type=merge', '-p', patch]);
}

/** `kubectl get` as a table: the header and the rows, columns split on runs of two or more spaces. */
async function table(args: string[]): Promise<string[][]> {
  const out = await kubectlOk(['get', ...args]);
  return out
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s{2,}/));
}

beforeAll(async () => {
  await kubectlOk(['apply', '--server-side', '-f', CRDS_DIR]);
  await kubectlOk([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...CRD_NAMES.map((n) => `crd/${n}`),
  ]);
});

afterAll(async () => {
  await Promise.all(namespaces.map((name) => deleteNamespace(name)));
});

describe('the CRDs', () => {
  it('install with short names and the usage category', async () => {
    const out = await kubectlOk([
      'api-resources',
      '--api-group=usage.kubeusage.dev',
      '-o',
      'wide',
      '--no-headers',
    ]);
    const rows = out
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/));
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.arrayContaining(['resourcealerts', 'ra', API_VERSION, 'true', 'ResourceAlert', 'usage']),
        expect.arrayContaining(['usagepolicies', 'up', API_VERSION, 'true', 'UsagePolicy', 'usage']),
      ]),
    );
    for (const name of CRD_NAMES) {
      const crd = JSON.parse(await kubectlOk(['get', `crd/${name}`, '-o', 'json'])) as {
        status: { conditions: Array<{ type: string; status: string; message: string }> };
      };
      const conditions = Object.fromEntries(crd.status.conditions.map((c) => [c.type, c]));
      expect(conditions['NamesAccepted']?.status).toBe('True');
      expect(conditions['NonStructuralSchema']).toBeUndefined();
    }
  });
});

describe('the samples', () => {
  it('all apply, with the defaults filled in by the apiserver', async () => {
    const rendered = await kubectlOk(['kustomize', SAMPLES_DIR]);
    const objects = parseAllDocuments(rendered).map((doc) => doc.toJS() as KubeObject);
    // The samples' namespaces, mapped to namespaces of this test so that nothing else sees them.
    const renamed = new Map<string, string>();
    for (const object of objects.filter((o) => o.kind === 'Namespace')) {
      renamed.set(object.metadata.name, await namespace('sample'));
    }
    const placed = objects
      .filter((o) => o.kind !== 'Namespace')
      .map((o) => ({
        ...o,
        metadata: { ...o.metadata, namespace: renamed.get(o.metadata.namespace ?? '') },
      }));
    expect(placed.every((o) => o.metadata.namespace !== undefined)).toBe(true);
    expect(placed.map((o) => o.kind).sort()).toEqual([
      'ResourceAlert',
      'ResourceAlert',
      'Secret',
      'UsagePolicy',
      'UsagePolicy',
    ]);

    await kubectlOk(['apply', '-f', '-'], { input: placed.map((o) => stringify(o)).join('---\n') });

    const shop = renamed.get('shop') ?? '';
    const policy = await getObject('usagepolicy/web', shop);
    expect(policy.spec).toMatchObject({
      interval: '30s',
      retention: { raw: '7d', hourly: '90d', daily: '400d' },
    });
    const alert = await getObject('resourcealert/web-cpu-hot', shop);
    expect(alert.spec).toMatchObject({
      scope: 'container',
      noData: 'keep',
      severity: 'warning',
      notify: { events: true },
      suspend: false,
    });
  });
});

describe('admission', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await namespace('crds-invalid');
  });

  it('accepts the boundaries of every rule', async () => {
    const valid = [
      {
        kind: 'UsagePolicy',
        spec: { selector: {}, interval: '10s', retention: { raw: '1h', hourly: '1h', daily: '1h' } },
      },
      {
        kind: 'UsagePolicy',
        spec: { selector: {}, interval: '1h', retention: { raw: '1d12h', daily: '9999d' } },
      },
      {
        kind: 'ResourceAlert',
        spec: { policyRef: { name: 'p' }, cpu: { above: '1%', of: 'limit' }, for: 1, recoverAfter: 1 },
      },
      { kind: 'ResourceAlert', spec: { policyRef: { name: 'p' }, cpu: { above: '1000%', of: 'request' } } },
      {
        kind: 'ResourceAlert',
        spec: { policyRef: { name: 'p' }, cpu: { above: 1 }, memory: { above: '1.5e3' } },
      },
      {
        kind: 'ResourceAlert',
        spec: {
          policyRef: { name: 'p' },
          memory: { above: '12.5%', of: 'limit' },
          muteUntil: '2026-01-31T18:00:00+01:00',
        },
      },
    ];
    for (const [index, { kind, spec }] of valid.entries()) {
      await apply({
        apiVersion: API_VERSION,
        kind,
        metadata: { name: `valid-${index}`, namespace: ns },
        spec,
      });
    }
  });

  it('has a table of at least 25 invalid objects', () => {
    expect(INVALID_OBJECTS.length).toBeGreaterThanOrEqual(25);
  });

  it.each(INVALID_OBJECTS.map((entry, index) => ({ ...entry, index })))(
    'rejects $kind with $description, naming $field',
    async (entry) => {
      const object = manifest(entry, `invalid-${entry.index}`, ns);
      const result = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(object) });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(entry.field);
    },
  );
});

describe('kubectl get and the status subresource', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await namespace('crds-status');
    await apply({
      apiVersion: API_VERSION,
      kind: 'UsagePolicy',
      metadata: { name: 'web', namespace: ns },
      spec: { selector: { matchLabels: { app: 'web' } }, interval: '15s' },
    });
    await apply({
      apiVersion: API_VERSION,
      kind: 'ResourceAlert',
      metadata: { name: 'web-hot', namespace: ns },
      spec: { policyRef: { name: 'web' }, cpu: { above: '80%', of: 'limit' } },
    });
  });

  const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

  it('prints the printer columns of both kinds', async () => {
    await patchStatus('usagepolicy/web', ns, {
      observedGeneration: 1,
      matchedPods: 14,
      matchedContainers: 28,
      metricsSource: 'metrics.k8s.io',
      lastCollectionTime: now(),
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Collecting', message: '', lastTransitionTime: now() },
      ],
    });
    await patchStatus('resourcealert/web-hot', ns, {
      observedGeneration: 1,
      state: 'Firing',
      alertState: 'cpu_alert',
      firingTargets: 1,
      cpuConsecutiveBreaches: 5,
      memConsecutiveBreaches: 0,
      lastAlertedAt: now(),
      conditions: [
        {
          type: 'Firing',
          status: 'True',
          reason: 'CPUThresholdExceeded',
          message: 'x',
          lastTransitionTime: now(),
        },
      ],
    });

    const policies = await table(['-n', ns, 'up']);
    expect(policies[0]).toEqual(['NAME', 'READY', 'PODS', 'INTERVAL', 'LAST COLLECTION', 'AGE', 'SAVINGS/H']);
    expect(policies[1]?.slice(0, 4)).toEqual(['web', 'True', '14', '15s']);
    expect(policies[1]?.[4]).toMatch(/^\d+s$/);

    const alerts = await table(['-n', ns, 'ra']);
    expect(alerts[0]).toEqual([
      'NAME',
      'STATE',
      'FIRING',
      'CPU BREACHES',
      'MEM BREACHES',
      'LAST ALERT',
      'AGE',
    ]);
    expect(alerts[1]?.slice(0, 5)).toEqual(['web-hot', 'Firing', '1', '5', '0']);

    const wide = await table(['-n', ns, 'ra', '-o', 'wide']);
    expect(wide[0]).toEqual(expect.arrayContaining(['POLICY', 'SEVERITY']));

    const everything = await kubectlOk(['get', '-n', ns, 'usage', '-o', 'name']);
    expect(everything.trim().split('\n').sort()).toEqual([
      'resourcealert.usage.kubeusage.dev/web-hot',
      'usagepolicy.usage.kubeusage.dev/web',
    ]);

    const waited = await kubectl(['wait', '-n', ns, '--for=condition=Firing', 'ra/web-hot', '--timeout=10s']);
    expect(waited.code).toBe(0);
  });

  it('changes status only through the status subresource, and spec updates leave status alone', async () => {
    await patchStatus('resourcealert/web-hot', ns, {
      state: 'Firing',
      firingTargets: 1,
      cpuConsecutiveBreaches: 5,
    });
    const before = await getObject('resourcealert/web-hot', ns);
    expect(before.status).toMatchObject({ state: 'Firing' });

    // A write to the main resource ignores status but bumps the generation for the spec change.
    await kubectlOk([
      'patch',
      '-n',
      ns,
      'resourcealert/web-hot',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { for: 7 }, status: { state: 'Normal', firingTargets: 0 } }),
    ]);
    const specUpdated = await getObject('resourcealert/web-hot', ns);
    expect(specUpdated.spec).toMatchObject({ for: 7 });
    expect(specUpdated.status).toEqual(before.status);
    expect(specUpdated.metadata.generation).toBe((before.metadata.generation ?? 0) + 1);

    // A write to the status subresource ignores spec and leaves the generation.
    await kubectlOk([
      'patch',
      '-n',
      ns,
      'resourcealert/web-hot',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { for: 9 }, status: { state: 'Normal', firingTargets: 0 } }),
    ]);
    const statusUpdated = await getObject('resourcealert/web-hot', ns);
    expect(statusUpdated.status).toMatchObject({
      state: 'Normal',
      firingTargets: 0,
      cpuConsecutiveBreaches: 5,
    });
    expect(statusUpdated.spec).toEqual(specUpdated.spec);
    expect(statusUpdated.metadata.generation).toBe(specUpdated.metadata.generation);
  });

  it('rejects a status that breaks its schema, naming the field', async () => {
    const tooMany = Array.from({ length: 51 }, (_, i) => ({
      pod: `p${i}`,
      metric: 'cpu',
      state: 'Pending',
      breaches: 1,
      healthy: 0,
    }));
    for (const [status, field] of [
      [{ state: 'Broken' }, 'status.state'],
      [{ targets: tooMany }, 'status.targets'],
      [
        { targets: [{ pod: 'p', metric: 'cpu', state: 'Pending', breaches: 1 }] },
        'status.targets[0].healthy',
      ],
      [
        {
          conditions: [
            { type: 'Ready', status: 'Maybe', reason: 'X', message: '', lastTransitionTime: now() },
          ],
        },
        'status.conditions[0].status',
      ],
    ] as const) {
      const result = await kubectl([
        'patch',
        '-n',
        ns,
        'resourcealert/web-hot',
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status }),
      ]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(field);
    }
  });
});
