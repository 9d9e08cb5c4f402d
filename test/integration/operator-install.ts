/**
 * The shipped install (manifests/) in the test cluster: kustomize builds, the operator's
 * identity (namespace, ServiceAccount, RBAC) applied for real, and a kubeconfig that
 * authenticates as that ServiceAccount with a real token. Used by the manifest and package tests.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { kubectlOk } from '../harness/index.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const MANIFESTS = join(REPO_ROOT, 'manifests');
export const OVERLAYS = ['base', 'overlays/kind', 'overlays/external-mongodb', 'overlays/node'] as const;

export const OPERATOR_NAMESPACE = 'kube-usage-system';
export const OPERATOR_SERVICE_ACCOUNT = 'kube-usage-operator';
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;
/** The field manager of everything these tests apply. */
export const FIELD_MANAGER = 'kuo-install-tests';

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

const run = promisify(execFile);

/** `kubectl kustomize` of a folder under manifests/ (or any path), as YAML and as objects. */
export async function kustomize(dir: string): Promise<{ yaml: string; objects: ManifestObject[] }> {
  const { stdout } = await run('kubectl', ['kustomize', join(MANIFESTS, dir)], {
    maxBuffer: 32 * 1024 * 1024,
  });
  const objects = parseAllDocuments(stdout).map((doc) => doc.toJS() as ManifestObject);
  return { yaml: stdout, objects };
}

const IDENTITY_KINDS = new Set([
  'Namespace',
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
]);

/**
 * Applies the base's Namespace, ServiceAccount and RBAC for real (idempotent: server-side
 * apply), so that the operator's permissions are exactly the shipped ones. They are left in
 * place: the cluster belongs to this test run, and other test files use the same identity.
 */
export async function applyOperatorIdentity(): Promise<void> {
  const { objects } = await kustomize('base');
  const identity = objects.filter((o) => IDENTITY_KINDS.has(o.kind));
  const input = identity.map((o) => stringify(o)).join('---\n');
  await kubectlOk(
    ['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '-f', '-'],
    {
      input,
    },
  );
}

/**
 * Writes a kubeconfig that talks to the test cluster as the operator's ServiceAccount, with a
 * token issued by the apiserver (TokenRequest), and returns its path.
 */
export async function writeOperatorKubeconfig(path: string): Promise<string> {
  const token = (
    await kubectlOk(['create', 'token', OPERATOR_SERVICE_ACCOUNT, '-n', OPERATOR_NAMESPACE, '--duration=1h'])
  ).trim();
  const current = parse(await kubectlOk(['config', 'view', '--raw', '--minify', '--flatten'])) as {
    clusters: { name: string; cluster: Record<string, unknown> }[];
  };
  const cluster = current.clusters[0];
  if (!cluster) throw new Error('the test kubeconfig has no cluster');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: cluster.cluster }],
    users: [{ name: OPERATOR_SERVICE_ACCOUNT, user: { token } }],
    contexts: [{ name: 'operator', context: { cluster: 'test', user: OPERATOR_SERVICE_ACCOUNT } }],
    'current-context': 'operator',
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
  return path;
}
