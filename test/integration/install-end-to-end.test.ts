/**
 * The end-to-end scenario as the shipped install runs it: the operator authenticates with the
 * token of the manifests' ServiceAccount, so every call it makes (watches, metrics, status
 * patches, Events, the Lease, TokenReview and SubjectAccessReview for API callers) goes through
 * the shipped RBAC. A tenant's policy and alert then collect, fire, notify and resolve, and the
 * tenant reads its usage over the HTTP API with its own token.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import { captureLogger } from '../harness/capture-logger.js';
import {
  apply,
  conditionOf,
  createPod,
  deleteNamespace,
  getObject,
  kubectl,
  kubectlOk,
  namespaceViewerToken,
  newNamespace,
  setPodUsage,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { startTestOperator } from '../harness/operator.js';
import { Receiver } from '../harness/receiver.js';
import { applyOperatorIdentity, OPERATOR_NAMESPACE, writeOperatorKubeconfig } from './operator-install.js';

interface Conditions {
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
}

interface AlertView extends Conditions {
  status?: Conditions['status'] & { state?: string; targets?: { pod: string; state: string }[] };
}

/** The Lease the shipped Role lets the operator hold (the default name). */
const LEASE = 'kube-usage-operator';

describe('the operator under the shipped ServiceAccount and RBAC', () => {
  const receiver = new Receiver();
  const { logger, lines } = captureLogger();
  const identity = uniqueName('installed');
  let tokenDir: string;
  let ns: string;
  let operator: OperatorHandle | undefined;
  let tenantToken: string;

  const alert = () => getObject<AlertView>('resourcealert', ns, 'hot-cpu');
  const webhooks = (transition: string) =>
    receiver.to('/hook').filter((r) => (r.body as { transition?: string }).transition === transition);
  const usage = async () => {
    const response = await fetch(`${operator?.url}/api/v1/namespaces/${ns}/pods/hot/usage`, {
      headers: { authorization: `Bearer ${tenantToken}` },
    });
    return {
      status: response.status,
      body: (await response.json()) as { containers?: { cpuMillicores: number | null }[] },
    };
  };

  beforeAll(async () => {
    await receiver.start();
    await applyOperatorIdentity();
    tokenDir = mkdtempSync(join(tmpdir(), 'kuo-install-e2e-'));
    const kubeconfig = await writeOperatorKubeconfig(join(tokenDir, 'kubeconfig'));
    ns = await newNamespace('installed');
    tenantToken = await namespaceViewerToken(ns);
    await createPod(ns, {
      name: 'hot',
      labels: { app: 'hot' },
      containers: [{ name: 'app', requests: { cpu: '500m' }, limits: { cpu: '1', memory: '1Gi' } }],
      usage: { cpu: '200m', memory: '100Mi' },
    });
    await apply(
      `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: apps}
spec: {selector: {}, interval: 10s}
---
apiVersion: usage.kubeusage.dev/v1alpha1
kind: ResourceAlert
metadata: {name: hot-cpu}
spec:
  policyRef: {name: apps}
  selector: {matchLabels: {app: hot}}
  cpu: {above: "80%", of: limit}
  for: 2
  recoverAfter: 2
  notify:
    events: true
    webhook: {url: "${receiver.url}/hook"}
`,
      ns,
    );
    // The shipped Deployment's setup: its namespace, leader election on the default Lease.
    operator = await startTestOperator(
      {
        namespace: OPERATOR_NAMESPACE,
        database: uniqueName('installed'),
        identity,
        leaderElection: true,
        kubeconfig,
      },
      {},
      logger,
    );
  });
  afterAll(async () => {
    await operator?.stop();
    await receiver.stop();
    if (ns) await deleteNamespace(ns);
    if (tokenDir) rmSync(tokenDir, { recursive: true, force: true });
  });

  it('leads, collects, fires, notifies, serves the tenant and resolves, with nothing forbidden', async () => {
    // A holder the previous test file left behind lets the Lease expire first (15 s by default).
    await waitFor(
      `Lease ${LEASE} held by this operator`,
      async () =>
        (await kubectlOk([
          '-n',
          OPERATOR_NAMESPACE,
          'get',
          'lease',
          LEASE,
          '-o',
          'jsonpath={.spec.holderIdentity}',
        ])) === identity,
      { timeoutMs: 60_000 },
    );
    await waitFor(
      'policy Ready and alert Normal at 200m',
      async () => {
        const policy = await getObject<Conditions>('usagepolicy', ns, 'apps');
        const a = await alert();
        return conditionOf(policy, 'Ready')?.status === 'True' && a?.status?.state === 'Normal';
      },
      { timeoutMs: 120_000 },
    );

    // The tenant's own token, checked by the operator with TokenReview and SubjectAccessReview.
    const before = await waitFor(
      'the tenant reads 200m over the API',
      async () => {
        const r = await usage();
        const cpu = r.body.containers?.[0]?.cpuMillicores;
        return r.status === 200 && cpu !== null && cpu !== undefined ? cpu : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    expect(before).toBeGreaterThan(190);
    expect(before).toBeLessThan(210);

    await setPodUsage(ns, 'hot', { cpu: '900m' });
    const waited = await kubectl([
      '-n',
      ns,
      'wait',
      '--for=condition=Firing',
      'resourcealert/hot-cpu',
      '--timeout=120s',
    ]);
    expect(waited.code).toBe(0);
    expect((await alert())?.status?.targets).toEqual([
      expect.objectContaining({ pod: 'hot', state: 'Firing' }),
    ]);
    await waitFor('a firing webhook', () => webhooks('fired').length === 1);
    await waitFor('an AlertFiring Event', async () => {
      const out = await kubectlOk([
        '-n',
        ns,
        'get',
        'events',
        '--field-selector',
        'involvedObject.name=hot-cpu',
        '-o',
        'json',
      ]);
      return (JSON.parse(out) as { items: { reason: string }[] }).items.some(
        (e) => e.reason === 'AlertFiring',
      );
    });

    await setPodUsage(ns, 'hot', { cpu: '100m' });
    await waitFor(
      'resolved',
      async () => {
        const a = await alert();
        return a?.status?.state === 'Normal' && conditionOf(a, 'Firing')?.status === 'False';
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    await waitFor('a resolved webhook', () => webhooks('resolved').length === 1);

    // Every call the operator made was allowed by the shipped RBAC.
    const forbidden = lines.filter((line) => /forbidden/i.test(JSON.stringify(line)));
    expect(forbidden).toEqual([]);
  }, 600_000);
});
