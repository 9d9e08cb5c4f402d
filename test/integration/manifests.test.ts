import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { deleteNamespace, kubectl, kubectlOk, newNamespace, waitFor } from '../harness/index.js';
import {
  FIELD_MANAGER,
  MANIFESTS,
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  OPERATOR_USER,
  OVERLAYS,
  REPO_ROOT,
  applyOperatorIdentity,
  kustomize,
  writeOperatorKubeconfig,
  type ManifestObject,
} from './operator-install.js';

const GROUP = 'usage.kubeusage.dev';

interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  livenessProbe?: unknown;
  readinessProbe?: unknown;
}
interface PodTemplate {
  spec: { securityContext?: Record<string, unknown>; containers: Container[]; serviceAccountName?: string };
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

function find(objects: ManifestObject[], kind: string, name: string): ManifestObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

function get(objects: ManifestObject[], kind: string, name: string): ManifestObject {
  const object = find(objects, kind, name);
  if (!object) throw new Error(`no ${kind} ${name} in the build`);
  return object;
}

function podTemplate(workload: ManifestObject): PodTemplate {
  return (workload.spec as { template: PodTemplate }).template;
}

/** What is missing from the restricted Pod Security Standard, per container. */
function restrictedViolations(template: PodTemplate): string[] {
  const pod = template.spec.securityContext ?? {};
  const problems: string[] = [];
  if (pod.runAsNonRoot !== true) problems.push('pod: runAsNonRoot');
  if ((pod.seccompProfile as { type?: string } | undefined)?.type !== 'RuntimeDefault')
    problems.push('pod: seccomp');
  for (const c of template.spec.containers) {
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${c.name}: allowPrivilegeEscalation`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${c.name}: readOnlyRootFilesystem`);
    if (JSON.stringify((sc.capabilities as { drop?: string[] } | undefined)?.drop) !== '["ALL"]')
      problems.push(`${c.name}: capabilities.drop`);
    if (!c.resources?.requests?.cpu || !c.resources.requests.memory) problems.push(`${c.name}: requests`);
    if (!c.resources?.limits?.cpu || !c.resources.limits.memory) problems.push(`${c.name}: limits`);
    if (!c.livenessProbe || !c.readinessProbe) problems.push(`${c.name}: probes`);
  }
  return problems;
}

/** Server-side dry-run apply of some YAML in the test cluster. */
function dryRun(yaml: string) {
  return kubectl(
    [
      'apply',
      '--server-side',
      '--dry-run=server',
      '--force-conflicts',
      `--field-manager=${FIELD_MANAGER}`,
      '-f',
      '-',
    ],
    { input: yaml },
  );
}

describe('manifests: every overlay builds and is accepted by the apiserver', () => {
  beforeAll(applyOperatorIdentity);

  it.each(OVERLAYS)('%s passes a server-side dry-run without a warning', async (dir) => {
    const { yaml } = await kustomize(dir);
    const result = await dryRun(yaml);
    // Pod Security warnings ("would violate PodSecurity restricted") would show on stderr.
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toContain(
      'deployment.apps/kube-usage-operator serverside-applied (server dry run)',
    );
  });

  it("the e2e scenario's objects (make kind-e2e, make e2e-node) are accepted by the CRDs", async () => {
    const namespace = await newNamespace('kind-e2e');
    try {
      const scenario = readFileSync(join(REPO_ROOT, 'scripts', 'e2e', 'scenario.yaml'), 'utf8');
      const result = await kubectl(['apply', '--dry-run=server', '-n', namespace, '-f', '-'], {
        input: scenario,
      });
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      expect(result.stdout).toContain(
        'resourcealert.usage.kubeusage.dev/burner-hot created (server dry run)',
      );
    } finally {
      await deleteNamespace(namespace);
    }
  });

  it('kube-usage-system enforces the restricted Pod Security Standard (so the dry-runs above prove compliance)', async () => {
    const plain = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'not-restricted', namespace: OPERATOR_NAMESPACE },
      spec: {
        selector: { matchLabels: { app: 'x' } },
        template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'x', image: 'x' }] } },
      },
    };
    const result = await dryRun(JSON.stringify(plain));
    expect(result.stderr).toContain('would violate PodSecurity "restricted:latest"');
  });
});

describe('manifests: what they declare', () => {
  const builds: Record<(typeof OVERLAYS)[number], ManifestObject[]> = {
    base: [],
    'overlays/kind': [],
    'overlays/external-mongodb': [],
    'overlays/node': [],
  };

  beforeAll(async () => {
    for (const dir of OVERLAYS) builds[dir] = (await kustomize(dir)).objects;
  });

  it('runs two operator replicas as the ServiceAccount, restricted, with probes, resource bounds and a PDB', () => {
    const base = builds.base;
    const deployment = get(base, 'Deployment', 'kube-usage-operator');
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    const template = podTemplate(deployment);
    expect(template.spec.serviceAccountName).toBe(OPERATOR_SERVICE_ACCOUNT);
    expect(restrictedViolations(template)).toEqual([]);
    const env = Object.fromEntries((template.spec.containers[0]?.env ?? []).map((e) => [e.name, e]));
    expect(env.MONGODB_URI?.valueFrom?.secretKeyRef).toEqual({
      name: 'kube-usage-operator-mongodb',
      key: 'uri',
    });
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['POD_NAME', 'POD_NAMESPACE']));
    expect(get(base, 'PodDisruptionBudget', 'kube-usage-operator').spec).toMatchObject({ minAvailable: 1 });
    expect(get(base, 'Service', 'kube-usage-operator').spec).toMatchObject({ ports: [{ port: 8080 }] });
  });

  it('keeps MongoDB on a PersistentVolumeClaim, restricted, reachable from the operator only', () => {
    const base = builds.base;
    const mongo = get(base, 'StatefulSet', 'kube-usage-mongodb');
    const spec = mongo.spec as {
      volumeClaimTemplates: { metadata: { name: string } }[];
      serviceName: string;
    };
    expect(spec.volumeClaimTemplates.map((t) => t.metadata.name)).toEqual(['data']);
    expect(get(base, 'Service', spec.serviceName).spec).toMatchObject({ clusterIP: 'None' });
    expect(restrictedViolations(podTemplate(mongo))).toEqual([]);
    const policy = get(base, 'NetworkPolicy', 'kube-usage-mongodb').spec as {
      ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[];
      egress: unknown[];
    };
    expect(policy.ingress.flatMap((r) => r.from.map((f) => f.podSelector.matchLabels))).toEqual([
      { 'app.kubernetes.io/name': 'kube-usage-operator' },
    ]);
    expect(policy.egress).toEqual([]);
    const uri = Buffer.from(
      (get(base, 'Secret', 'kube-usage-operator-mongodb').data as { uri: string }).uri,
      'base64',
    );
    expect(uri.toString()).toBe(`mongodb://${spec.serviceName}:27017`);
  });

  it('external-mongodb drops the bundled MongoDB and reads the URI from a Secret the user provides', () => {
    const external = builds['overlays/external-mongodb'];
    for (const [kind, name] of [
      ['StatefulSet', 'kube-usage-mongodb'],
      ['Service', 'kube-usage-mongodb'],
      ['NetworkPolicy', 'kube-usage-mongodb'],
      ['Secret', 'kube-usage-operator-mongodb'],
    ] as const) {
      expect(find(external, kind, name)).toBeUndefined();
    }
    const env = podTemplate(get(external, 'Deployment', 'kube-usage-operator')).spec.containers[0]?.env;
    expect(env?.find((e) => e.name === 'MONGODB_URI')?.valueFrom?.secretKeyRef).toEqual({
      name: 'kube-usage-operator-mongodb',
      key: 'uri',
    });
  });

  it('the kind overlay runs the image loaded into the nodes and never pulls it', () => {
    const container = podTemplate(get(builds['overlays/kind'], 'Deployment', 'kube-usage-operator')).spec
      .containers[0];
    expect(container).toMatchObject({ image: 'kube-usage-operator:dev', imagePullPolicy: 'Never' });
  });

  it('the node overlay runs local images, never pulls, and puts FerretDB in the store StatefulSet at the same address', () => {
    const node = builds['overlays/node'];
    const operator = podTemplate(get(node, 'Deployment', 'kube-usage-operator'));
    expect(operator.spec.containers[0]).toMatchObject({
      image: 'kube-usage-operator:local',
      imagePullPolicy: 'Never',
    });
    const store = get(node, 'StatefulSet', 'kube-usage-mongodb');
    expect(podTemplate(store).spec.containers[0]).toMatchObject({
      name: 'ferretdb',
      image: 'kuo-local/ferretdb:local',
      imagePullPolicy: 'Never',
    });
    expect(restrictedViolations(podTemplate(store))).toEqual([]);
    expect(restrictedViolations(operator)).toEqual([]);
    expect((store.spec as { volumeClaimTemplates: unknown[] }).volumeClaimTemplates).toHaveLength(1);
    // No cluster DNS on that node: the operator resolves the store's name to the Service's fixed IP.
    const clusterIP = (get(node, 'Service', 'kube-usage-mongodb').spec as { clusterIP: string }).clusterIP;
    const aliases = (operator.spec as { hostAliases?: { ip: string; hostnames: string[] }[] }).hostAliases;
    expect(aliases).toEqual([{ ip: clusterIP, hostnames: ['kube-usage-mongodb'] }]);
    const uri = Buffer.from(
      (get(node, 'Secret', 'kube-usage-operator-mongodb').data as { uri: string }).uri,
      'base64',
    );
    expect(uri.toString()).toBe('mongodb://kube-usage-mongodb:27017');
  });

  it('grants no wildcard, and no role that is bound reads Secrets', () => {
    const base = builds.base;
    const roles = base.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
    const wildcards = roles.filter((r) =>
      ((r.rules as Rule[]) ?? []).some((rule) =>
        [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs].includes('*'),
      ),
    );
    expect(wildcards.map((r) => r.metadata.name)).toEqual([]);
    const bound = new Set(
      base
        .filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
        .map((b) => `${(b.roleRef as { kind: string }).kind}/${(b.roleRef as { name: string }).name}`),
    );
    const readsSecrets = (r: ManifestObject) =>
      ((r.rules as Rule[]) ?? []).some((rule) => rule.resources?.includes('secrets'));
    expect(roles.filter(readsSecrets).map((r) => `${r.kind}/${r.metadata.name}`)).toEqual([
      'ClusterRole/kube-usage-operator-webhook-secrets',
    ]);
    expect(bound.has('ClusterRole/kube-usage-operator-webhook-secrets')).toBe(false);
  });

  it('the Argo CD component merges the health check of both kinds into argocd-cm', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kuo-argocd-'));
    try {
      const argocd = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'argocd-cm', namespace: 'argocd' },
      };
      writeFileSync(join(dir, 'argocd-cm.yaml'), JSON.stringify(argocd));
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        JSON.stringify({
          resources: ['argocd-cm.yaml'],
          components: [relative(dir, join(MANIFESTS, 'argocd'))],
        }),
      );
      const { stdout } = await promisify(execFile)('kubectl', ['kustomize', dir]);
      const data = (parse(stdout) as { data: Record<string, string> }).data;
      const lua = readFileSync(join(MANIFESTS, 'argocd', 'health.lua'), 'utf8');
      expect(data).toEqual({
        [`resource.customizations.health.${GROUP}_UsagePolicy`]: lua,
        [`resource.customizations.health.${GROUP}_ResourceAlert`]: lua,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('RBAC: the operator ServiceAccount can do its job and nothing more', () => {
  let tenant: string;
  let otherTenant: string;
  let tokenDir: string;

  /** Which of the checks `kubectl auth can-i` answers differently than `expected`. */
  async function mismatches(user: string, expected: boolean, checks: string[][]): Promise<string[]> {
    const wrong: string[] = [];
    for (const check of checks) {
      const { stdout } = await kubectl(['auth', 'can-i', ...check, `--as=${user}`]);
      if ((stdout.trim() === 'yes') !== expected) wrong.push(check.join(' '));
    }
    return wrong;
  }

  beforeAll(async () => {
    await applyOperatorIdentity();
    tenant = await newNamespace('rbac');
    otherTenant = await newNamespace('rbac-other');
    tokenDir = mkdtempSync(join(tmpdir(), 'kuo-rbac-'));
  });
  afterAll(async () => {
    await deleteNamespace(tenant);
    await deleteNamespace(otherTenant);
    rmSync(tokenDir, { recursive: true, force: true });
  });

  it('is allowed everything the operator does', async () => {
    const leases = 'leases.coordination.k8s.io';
    const allowed = [
      ['list', 'pods', '--all-namespaces'],
      ['watch', 'pods', '--all-namespaces'],
      ['get', 'namespaces'],
      ['watch', 'namespaces'],
      ['list', 'pods.metrics.k8s.io', '--all-namespaces'],
      ['list', 'nodes'],
      ['watch', 'nodes'],
      ['get', 'nodes', '--subresource=metrics'],
      ['watch', `usagepolicies.${GROUP}`, '--all-namespaces'],
      ['watch', `resourcealerts.${GROUP}`, '--all-namespaces'],
      ['patch', `usagepolicies.${GROUP}`, '--subresource=status', '-n', tenant],
      ['patch', `resourcealerts.${GROUP}`, '--subresource=status', '-n', tenant],
      ['create', 'events', '-n', tenant],
      ['patch', 'events', '-n', tenant],
      ['create', 'tokenreviews.authentication.k8s.io'],
      ['create', 'subjectaccessreviews.authorization.k8s.io'],
      ['create', leases, '-n', OPERATOR_NAMESPACE],
      ['get', `${leases}/kube-usage-operator`, '-n', OPERATOR_NAMESPACE],
      ['update', `${leases}/kube-usage-operator`, '-n', OPERATOR_NAMESPACE],
    ];
    expect(await mismatches(OPERATOR_USER, true, allowed)).toEqual([]);
  });

  it('cannot read Secrets, write pods, delete namespaces, edit specs or take other leases', async () => {
    const denied = [
      ['list', 'secrets', '--all-namespaces'],
      ['get', 'secrets', '-n', tenant],
      ['get', 'secrets', '-n', OPERATOR_NAMESPACE],
      ['create', 'pods', '-n', tenant],
      ['update', 'pods', '-n', tenant],
      ['patch', 'pods', '-n', tenant],
      ['delete', 'pods', '-n', tenant],
      ['delete', 'namespaces'],
      ['patch', 'nodes'],
      ['get', 'nodes', '--subresource=proxy'],
      ['get', 'nodes', '--subresource=stats'],
      ['update', `usagepolicies.${GROUP}`, '-n', tenant],
      ['delete', `resourcealerts.${GROUP}`, '-n', tenant],
      ['create', 'leases.coordination.k8s.io', '-n', tenant],
      ['update', 'leases.coordination.k8s.io/kube-controller-manager', '-n', 'kube-system'],
      ['update', 'leases.coordination.k8s.io/another-lease', '-n', OPERATOR_NAMESPACE],
    ];
    expect(await mismatches(OPERATOR_USER, false, denied)).toEqual([]);
  });

  it('with its own token, lists pods cluster-wide and is forbidden to list Secrets', async () => {
    const kubeconfig = await writeOperatorKubeconfig(join(tokenDir, 'kubeconfig'));
    const asOperator = (args: string[]) =>
      promisify(execFile)('kubectl', ['--kubeconfig', kubeconfig, ...args]).then(
        () => 'ok',
        (err: { stderr?: string }) => err.stderr ?? String(err),
      );
    expect(await asOperator(['get', 'pods', '--all-namespaces'])).toBe('ok');
    expect(await asOperator(['get', 'secrets', '--all-namespaces'])).toContain(
      `User "${OPERATOR_USER}" cannot list resource "secrets"`,
    );
  });

  it('reads webhook Secrets only in namespaces whose admin binds kube-usage-operator-webhook-secrets', async () => {
    await kubectlOk([
      'create',
      'rolebinding',
      'kube-usage-operator-webhook-secrets',
      '-n',
      tenant,
      '--clusterrole=kube-usage-operator-webhook-secrets',
      `--serviceaccount=${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`,
    ]);
    expect(await mismatches(OPERATOR_USER, true, [['get', 'secrets', '-n', tenant]])).toEqual([]);
    const stillDenied = [
      ['list', 'secrets', '-n', tenant],
      ['watch', 'secrets', '-n', tenant],
      ['get', 'secrets', '-n', otherTenant],
      ['list', 'secrets', '--all-namespaces'],
    ];
    expect(await mismatches(OPERATOR_USER, false, stillDenied)).toEqual([]);
  });

  it('tenants with view read, and with edit write, UsagePolicies and ResourceAlerts (aggregated roles)', async () => {
    await kubectlOk([
      'create',
      'rolebinding',
      'viewer',
      '-n',
      tenant,
      '--clusterrole=view',
      '--user=kuo-viewer',
    ]);
    await kubectlOk([
      'create',
      'rolebinding',
      'editor',
      '-n',
      tenant,
      '--clusterrole=edit',
      '--user=kuo-editor',
    ]);
    const viewerChecks = [
      ['list', `resourcealerts.${GROUP}`, '-n', tenant],
      ['watch', `usagepolicies.${GROUP}`, '-n', tenant],
    ];
    const editorChecks = [
      ['create', `resourcealerts.${GROUP}`, '-n', tenant],
      ['update', `usagepolicies.${GROUP}`, '-n', tenant],
      ['delete', `resourcealerts.${GROUP}`, '-n', tenant],
    ];
    // The aggregation controller fills in view and edit shortly after the roles appear.
    await waitFor('view and edit to include the kube-usage-operator roles', async () => {
      const missing = [
        ...(await mismatches('kuo-viewer', true, viewerChecks)),
        ...(await mismatches('kuo-editor', true, editorChecks)),
      ];
      return missing.length === 0 || undefined;
    });
    const denied = [
      ['kuo-viewer', ['create', `resourcealerts.${GROUP}`, '-n', tenant]],
      ['kuo-editor', ['create', `resourcealerts.${GROUP}`, '-n', otherTenant]],
      // Alert state is the operator's: tenants cannot forge it.
      ['kuo-editor', ['patch', `resourcealerts.${GROUP}`, '--subresource=status', '-n', tenant]],
    ] as const;
    for (const [user, check] of denied) expect(await mismatches(user, false, [[...check]])).toEqual([]);
  });
});
