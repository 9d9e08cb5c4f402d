/**
 * manifests/agent: the node agent's DaemonSet, namespace and RBAC. The kustomize build renders
 * and the apiserver accepts it (server-side dry-run); the DaemonSet asks for the least it needs
 * (hostPID, hostNetwork, read-only /sys/fs/cgroup and /proc, non-root, no capabilities, no
 * privilege escalation); the agent's and the operator's permissions, applied for real, are
 * what `kubectl auth can-i` says and no more. What is applied is removed at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { kubectl, kubectlOk } from '../harness/index.js';
import { applyOperatorIdentity, FIELD_MANAGER, kustomize, type ManifestObject } from './operator-install.js';

/** Removes the operator's right to read agents (the agent's own identity may stay). */
const REMOVE_OPERATOR_READS_AGENTS = [
  'delete',
  '--ignore-not-found',
  'clusterrolebinding/kube-usage-operator-reads-agents',
  'clusterrole/kube-usage-operator-reads-agents',
];
const AGENT_USER = 'system:serviceaccount:kube-usage-agent:kube-usage-agent';
const OPERATOR_USER = 'system:serviceaccount:kube-usage-system:kube-usage-operator';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
}
interface Container {
  name: string;
  args?: string[];
  ports?: { name?: string; containerPort: number; hostPort?: number; protocol?: string }[];
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  livenessProbe?: unknown;
  readinessProbe?: unknown;
}
interface PodSpec {
  serviceAccountName?: string;
  hostPID?: boolean;
  hostNetwork?: boolean;
  hostIPC?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  initContainers?: unknown[];
  volumes?: { name: string; hostPath?: { path: string; type?: string } }[];
}

let objects: ManifestObject[];
let yaml: string;

function get(kind: string, name: string): ManifestObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in the build`);
  return o;
}

function podSpec(): PodSpec {
  return (get('DaemonSet', 'kube-usage-agent').spec as { template: { spec: PodSpec } }).template.spec;
}

function rules(name: string): Rule[] {
  return (get('ClusterRole', name) as unknown as { rules: Rule[] }).rules;
}

beforeAll(async () => {
  ({ objects, yaml } = await kustomize('agent'));
});

describe('manifests/agent: the build', () => {
  it('renders the namespace, ServiceAccount, RBAC and DaemonSet, in the agent namespace', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ClusterRole/kube-usage-agent',
      'ClusterRole/kube-usage-operator-reads-agents',
      'ClusterRoleBinding/kube-usage-agent',
      'ClusterRoleBinding/kube-usage-operator-reads-agents',
      'DaemonSet/kube-usage-agent',
      'Namespace/kube-usage-agent',
      'ServiceAccount/kube-usage-agent',
    ]);
    for (const kind of ['DaemonSet', 'ServiceAccount'])
      expect(objects.find((o) => o.kind === kind)!.metadata.namespace).toBe('kube-usage-agent');
  });

  it('asks for hostPID, hostNetwork and read-only views of /sys/fs/cgroup and /proc, and nothing more', () => {
    const spec = podSpec();
    expect(spec.serviceAccountName).toBe('kube-usage-agent');
    expect(spec.hostPID).toBe(true);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.hostIPC).toBeUndefined();
    expect(spec.initContainers).toBeUndefined();
    expect(spec.volumes).toEqual([
      { name: 'cgroup', hostPath: { path: '/sys/fs/cgroup', type: 'Directory' } },
      { name: 'proc', hostPath: { path: '/proc', type: 'Directory' } },
    ]);
    expect(spec.containers).toHaveLength(1);
    const [agent] = spec.containers;
    expect(agent!.volumeMounts).toEqual([
      { name: 'cgroup', mountPath: '/host/sys/fs/cgroup', readOnly: true },
      { name: 'proc', mountPath: '/host/proc', readOnly: true },
    ]);
    expect(agent!.args).toEqual(['--cgroup-root=/host/sys/fs/cgroup', '--proc-root=/host/proc']);
    expect(agent!.ports).toEqual([{ name: 'https', containerPort: 10265, hostPort: 10265, protocol: 'TCP' }]);
  });

  it('runs as non-root with every capability dropped, no privilege and no escalation', () => {
    const spec = podSpec();
    const pod = spec.securityContext ?? {};
    expect(pod.runAsNonRoot).toBe(true);
    expect(pod.runAsUser).toBeGreaterThan(0);
    expect(pod.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    const sc = spec.containers[0]!.securityContext ?? {};
    expect(sc).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    const c = spec.containers[0]!;
    expect(c.resources?.requests?.cpu && c.resources.requests.memory).toBeTruthy();
    expect(c.resources?.limits?.cpu && c.resources.limits.memory).toBeTruthy();
    expect(c.livenessProbe && c.readinessProbe).toBeTruthy();
  });

  it("grants the agent only its node's pods (list, watch) and the two reviews; the operator only nodes and nodes/stats", () => {
    expect(rules('kube-usage-agent')).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    ]);
    expect(rules('kube-usage-operator-reads-agents')).toEqual([
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['nodes/stats'], verbs: ['get'] },
    ]);
    for (const name of ['kube-usage-agent', 'kube-usage-operator-reads-agents'])
      for (const rule of rules(name))
        expect([...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs]).not.toContain('*');
  });
});

describe('manifests/overlays/node-agent: the agent on the real node of make e2e-node', () => {
  it('is manifests/agent with the image built on the machine, never pulled', async () => {
    const node = (await kustomize('overlays/node-agent')).objects;
    const daemonSet = node.find((o) => o.kind === 'DaemonSet')!;
    const agent = (daemonSet.spec as { template: { spec: { containers: Record<string, unknown>[] } } })
      .template.spec.containers[0]!;
    expect(agent).toMatchObject({ image: 'kube-usage-operator:local', imagePullPolicy: 'Never' });
    // Nothing else differs.
    const shipped = structuredClone(objects);
    const shippedAgent = (
      shipped.find((o) => o.kind === 'DaemonSet')!.spec as {
        template: { spec: { containers: Record<string, unknown>[] } };
      }
    ).template.spec.containers[0]!;
    Object.assign(shippedAgent, { image: 'kube-usage-operator:local', imagePullPolicy: 'Never' });
    expect(node).toEqual(shipped);
  });
});

describe('manifests/base: the operator may reach the agents', () => {
  it("its NetworkPolicy lets the operator out to the agents' port", async () => {
    const base = (await kustomize('base')).objects;
    const policy = base.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'kube-usage-operator');
    const egress = (policy!.spec as { egress: { ports?: { port: number }[]; to?: unknown[] }[] }).egress;
    expect(egress).toContainEqual({ ports: [{ port: 10265, protocol: 'TCP' }] });
  });
});

describe('manifests/agent: in the test cluster', () => {
  beforeAll(async () => {
    await applyOperatorIdentity();
    // The namespace exists before the dry-run (a dry-run creates nothing for the objects in it).
    await kubectlOk(
      ['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '-f', '-'],
      { input: stringify(get('Namespace', 'kube-usage-agent')) },
    );
  });
  afterAll(async () => {
    // Not left in place: other tests check that the operator's base RBAC alone cannot get nodes/stats.
    await kubectlOk(REMOVE_OPERATOR_READS_AGENTS);
  });

  it('passes a server-side dry-run without a warning (the namespace admits hostPID and hostPath)', async () => {
    const result = await kubectl(
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
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toContain('daemonset.apps/kube-usage-agent serverside-applied (server dry run)');
  });

  it('applied, lets the agent and the operator do their jobs and nothing more', async () => {
    const identity = objects.filter((o) => o.kind !== 'DaemonSet');
    await kubectlOk(
      ['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '-f', '-'],
      { input: identity.map((o) => stringify(o)).join('---\n') },
    );
    const answers = async (user: string, checks: string[][]) => {
      const out: Record<string, boolean> = {};
      for (const check of checks) {
        const { stdout } = await kubectl(['auth', 'can-i', ...check, `--as=${user}`]);
        out[check.join(' ')] = stdout.trim() === 'yes';
      }
      return out;
    };
    expect(
      await answers(AGENT_USER, [
        ['list', 'pods', '--all-namespaces'],
        ['watch', 'pods', '--all-namespaces'],
        ['create', 'tokenreviews.authentication.k8s.io'],
        ['create', 'subjectaccessreviews.authorization.k8s.io'],
        ['get', 'pods', '-n', 'default'],
        ['create', 'pods', '-n', 'default'],
        ['patch', 'pods', '-n', 'default'],
        ['list', 'secrets', '--all-namespaces'],
        ['get', 'nodes'],
        ['get', 'nodes', '--subresource=stats'],
        ['list', 'configmaps', '--all-namespaces'],
      ]),
    ).toEqual({
      'list pods --all-namespaces': true,
      'watch pods --all-namespaces': true,
      'create tokenreviews.authentication.k8s.io': true,
      'create subjectaccessreviews.authorization.k8s.io': true,
      'get pods -n default': false,
      'create pods -n default': false,
      'patch pods -n default': false,
      'list secrets --all-namespaces': false,
      'get nodes': false,
      'get nodes --subresource=stats': false,
      'list configmaps --all-namespaces': false,
    });
    expect(
      await answers(OPERATOR_USER, [
        ['get', 'nodes', '--subresource=stats'],
        ['get', 'nodes'],
        ['get', 'nodes', '--subresource=proxy'],
        ['patch', 'nodes'],
      ]),
    ).toEqual({
      'get nodes --subresource=stats': true,
      'get nodes': true,
      'get nodes --subresource=proxy': false,
      'patch nodes': false,
    });
  });
});
