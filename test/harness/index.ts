/**
 * Helpers for integration tests against the real test cluster and FerretDB started by
 * global-setup.ts. Every test works in namespaces of its own (newNamespace).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { DEFAULT_TOKEN_AUDIENCE } from '../../operator/config.js';
import { clusterHandle, type TestCluster } from '../../scripts/testenv/cluster.js';
import { forEachBounded } from './bounded.js';
import { testEnvironment } from './environment.js';

export { testEnvironment } from './environment.js';
export { SIMULATED_NODES } from './nodes.js';

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testEnvironment().kubeconfig);
  return kc;
}

export function coreApi(): CoreV1Api {
  return kubeConfig().makeApiClient(CoreV1Api);
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl against the test cluster; never throws for a non-zero exit (see `code`). */
export async function kubectl(args: string[], options: { input?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', testEnvironment().kubeconfig, ...args],
      { maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}

/** Like kubectl(), but throws with kubectl's message on a non-zero exit. */
export async function kubectlOk(args: string[], options: { input?: string } = {}): Promise<string> {
  const result = await kubectl(args, options);
  if (result.code !== 0)
    throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  return result.stdout;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Creates a namespace with a unique name (labels optional); tests delete it in afterAll. */
export async function newNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = uniqueName(prefix);
  await coreApi().createNamespace({
    body: { metadata: { name, labels: { 'kuo-test': 'true', ...labels } } },
  });
  return name;
}

/**
 * A token of a new ServiceAccount bound to the `view` ClusterRole in `namespace`: a tenant who
 * may read that namespace and nothing else. It carries the audience the operator's API asks for.
 */
export async function namespaceViewerToken(namespace: string, name = 'reader'): Promise<string> {
  await coreApi().createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await kubectlOk([
    '-n',
    namespace,
    'create',
    'rolebinding',
    `${name}-view`,
    '--clusterrole=view',
    `--serviceaccount=${namespace}:${name}`,
  ]);
  return (
    await kubectlOk(['-n', namespace, 'create', 'token', name, '--audience', DEFAULT_TOKEN_AUDIENCE])
  ).trim();
}

/** Deletes a namespace without waiting for it to go away. */
export async function deleteNamespace(name: string): Promise<void> {
  await coreApi()
    .deleteNamespace({ name })
    .catch(() => undefined);
}

export interface Usage {
  cpu?: string;
  memory?: string;
}

export interface SimulatedContainer {
  name: string;
  requests?: Usage;
  limits?: Usage;
  /** This container's usage; overrides the pod's. */
  usage?: Usage;
}

export interface SimulatedPodSpec {
  name: string;
  labels?: Record<string, string>;
  containers?: SimulatedContainer[];
  /** Usage of every container of the pod (kwok's pod-level annotations). */
  usage?: Usage;
  node?: string;
}

const USAGE_ANNOTATION = { cpu: 'kwok.x-k8s.io/usage-cpu', memory: 'kwok.x-k8s.io/usage-memory' } as const;

/** The annotations through which kwok simulates usage (per pod, or per container). */
export function usageAnnotations(usage: Usage | undefined, container?: string): Record<string, string> {
  const out: Record<string, string> = {};
  const suffix = container ? `.${container}` : '';
  if (usage?.cpu) out[USAGE_ANNOTATION.cpu + suffix] = usage.cpu;
  if (usage?.memory) out[USAGE_ANNOTATION.memory + suffix] = usage.memory;
  return out;
}

function podTemplate(spec: Omit<SimulatedPodSpec, 'name'>): {
  metadata: V1Pod['metadata'];
  spec: V1Pod['spec'];
} {
  const containers = spec.containers ?? [{ name: 'app' }];
  const annotations = { ...usageAnnotations(spec.usage) };
  for (const c of containers) Object.assign(annotations, usageAnnotations(c.usage, c.name));
  return {
    metadata: { labels: spec.labels ?? {}, annotations },
    spec: {
      ...(spec.node ? { nodeName: spec.node } : {}),
      containers: containers.map((c): V1Container => ({
        name: c.name,
        image: 'fake-image',
        resources: {
          ...(c.requests ? { requests: { ...c.requests } } : {}),
          ...(c.limits ? { limits: { ...c.limits } } : {}),
        },
      })),
    },
  };
}

function podBody(namespace: string, spec: SimulatedPodSpec): V1Pod {
  const template = podTemplate(spec);
  return { metadata: { ...template.metadata, name: spec.name, namespace }, spec: template.spec };
}

/** Creates a simulated pod (kwok runs it on one of the simulated nodes). */
export async function createPod(namespace: string, spec: SimulatedPodSpec): Promise<V1Pod> {
  return coreApi().createNamespacedPod({ namespace, body: podBody(namespace, spec) });
}

/** Creates simulated pods, `concurrency` requests at a time (bulk set-ups: benchmarks, scale tests). */
export async function createPods(
  namespace: string,
  specs: readonly SimulatedPodSpec[],
  concurrency: number,
): Promise<void> {
  const core = coreApi();
  await forEachBounded(specs, concurrency, (spec) =>
    core.createNamespacedPod({ namespace, body: podBody(namespace, spec) }),
  );
}

/** Creates a Deployment of simulated pods; returns its name. */
export async function createDeployment(
  namespace: string,
  spec: SimulatedPodSpec & { replicas: number },
): Promise<string> {
  const labels = { app: spec.name, ...(spec.labels ?? {}) };
  const template = podTemplate({ ...spec, labels });
  await kubeConfig()
    .makeApiClient(AppsV1Api)
    .createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: spec.name, namespace, labels },
        spec: { replicas: spec.replicas, selector: { matchLabels: { app: spec.name } }, template },
      },
    });
  return spec.name;
}

/** Changes a running pod's simulated usage (all containers, or one). */
export async function setPodUsage(
  namespace: string,
  pod: string,
  usage: Usage,
  container?: string,
): Promise<void> {
  const pairs = Object.entries(usageAnnotations(usage, container)).map(([k, v]) => `${k}=${v}`);
  await kubectlOk(['annotate', '--overwrite', '-n', namespace, `pod/${pod}`, ...pairs]);
}

/** A container's status as the status subresource takes it (JSON: times as RFC 3339 strings). */
export type ContainerStatusJson = Record<string, unknown> & { name: string };

/**
 * Rewrites a running pod's container statuses through the status subresource, as a kubelet
 * reports them (kwok's default stages only write the status of Pending pods and of Jobs'
 * pods, so a running pod keeps what is written here). Returns the statuses written.
 */
export async function patchContainerStatuses(
  namespace: string,
  name: string,
  edit: (status: ContainerStatusJson) => ContainerStatusJson,
): Promise<ContainerStatusJson[]> {
  const pod = await coreApi().readNamespacedPod({ namespace, name });
  const current = JSON.parse(JSON.stringify(pod.status?.containerStatuses ?? [])) as ContainerStatusJson[];
  const statuses = current.map(edit);
  await kubectlOk([
    '-n',
    namespace,
    'patch',
    'pod',
    name,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status: { containerStatuses: statuses } }),
  ]);
  return statuses;
}

/** Pods of a namespace, optionally by label selector. */
export async function listPods(namespace: string, labelSelector?: string): Promise<V1Pod[]> {
  const list = await coreApi().listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) });
  return list.items;
}

export { waitFor, type WaitOptions } from './wait.js';

/** The cluster global setup started, for outage tests (stop and start its components). */
export function testCluster(): TestCluster {
  const env = testEnvironment();
  if (!env.clusterName)
    throw new Error('this run uses a given KUBECONFIG; outage tests need a cluster of their own');
  return clusterHandle(env.clusterName, env.kubeconfig);
}

/** Applies objects (YAML or JSON text) with kubectl. */
export async function apply(manifest: string, namespace?: string): Promise<void> {
  await kubectlOk([...(namespace ? ['-n', namespace] : []), 'apply', '-f', '-'], { input: manifest });
}

export interface ConditionView {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** An object as JSON (undefined when it does not exist). */
export async function getObject<T = Record<string, unknown>>(
  resource: string,
  namespace: string,
  name: string,
): Promise<T | undefined> {
  const result = await kubectl(['-n', namespace, 'get', resource, name, '-o', 'json']);
  if (result.code !== 0) {
    if (/NotFound|not found/.test(result.stderr)) return undefined;
    throw new Error(`kubectl get ${resource} ${name}: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

export function conditionOf(object: unknown, type: string): ConditionView | undefined {
  const conditions = (object as { status?: { conditions?: ConditionView[] } } | undefined)?.status
    ?.conditions;
  return conditions?.find((c) => c.type === type);
}
