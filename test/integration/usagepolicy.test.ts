import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import {
  apply,
  conditionOf,
  createPod,
  deleteNamespace,
  getObject,
  kubectlOk,
  newNamespace,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { startTestOperator } from '../harness/operator.js';

interface PolicyView {
  metadata: { generation: number };
  status?: {
    observedGeneration?: number;
    matchedPods?: number;
    matchedContainers?: number;
    lastCollectionTime?: string;
    metricsSource?: string;
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

function policyYaml(name: string, spec: string): string {
  return `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: ${name}}
spec:
${spec}`;
}

describe('UsagePolicy controller (real apiserver, kwok, metrics-server, FerretDB)', () => {
  let operatorNamespace: string;
  let team: string;
  let operator: OperatorHandle;
  const policy = (ns: string, name: string) => getObject<PolicyView>('usagepolicy', ns, name);

  beforeAll(async () => {
    operatorNamespace = await newNamespace('kuo-system');
    team = await newNamespace('team');
    operator = await startTestOperator({ namespace: operatorNamespace, database: uniqueName('policytest') });
  });
  afterAll(async () => {
    await operator?.stop();
    await deleteNamespace(team);
    await deleteNamespace(operatorNamespace);
  });

  it('reports Ready=True with the matched pods, and follows pods added, deleted and relabelled', async () => {
    await createPod(team, {
      name: 'web-1',
      labels: { app: 'web' },
      containers: [{ name: 'app' }, { name: 'proxy' }],
    });
    await createPod(team, { name: 'web-2', labels: { app: 'web' } });
    await createPod(team, { name: 'db-1', labels: { app: 'db' } });
    await apply(policyYaml('web', '  selector: {matchLabels: {app: web}}\n  interval: 10s'), team);

    const ready = await waitFor('policy web Ready with 2 pods', async () => {
      const p = await policy(team, 'web');
      return conditionOf(p, 'Ready')?.status === 'True' && p?.status?.matchedPods === 2 ? p : undefined;
    });
    expect(ready.status?.matchedContainers).toBe(3);
    expect(ready.status?.observedGeneration).toBe(ready.metadata.generation);
    expect(conditionOf(ready, 'Ready')?.reason).toBe('Collecting');

    await createPod(team, { name: 'web-3', labels: { app: 'web' } });
    await waitFor(
      '3 pods after one is added',
      async () => (await policy(team, 'web'))?.status?.matchedPods === 3,
    );

    await kubectlOk(['-n', team, 'delete', 'pod', 'web-2', '--grace-period=0', '--force']);
    await waitFor(
      '2 pods after one is deleted',
      async () => (await policy(team, 'web'))?.status?.matchedPods === 2,
    );

    await kubectlOk(['-n', team, 'label', '--overwrite', 'pod', 'db-1', 'app=web']);
    await waitFor(
      '3 pods after one is relabelled',
      async () => (await policy(team, 'web'))?.status?.matchedPods === 3,
    );

    const collected = await waitFor(
      'a collection recorded in status',
      async () => {
        const p = await policy(team, 'web');
        return p?.status?.lastCollectionTime ? p : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(collected.status?.metricsSource).toBe('kubelet');
  });

  it('sets Ready=False with a message naming the field for a spec only the operator can judge, and True once fixed', async () => {
    await apply(policyYaml('bad', '  selector: {matchLabels: {"bad key!": x}}'), team);
    const bad = await waitFor('policy bad Ready=False', async () => {
      const c = conditionOf(await policy(team, 'bad'), 'Ready');
      return c?.status === 'False' ? c : undefined;
    });
    expect(bad.reason).toBe('InvalidSpec');
    expect(bad.message).toContain('spec.selector.matchLabels');

    await apply(policyYaml('bad', '  selector: {matchLabels: {app: web}}'), team);
    await waitFor('policy bad Ready=True after the fix', async () => {
      const p = await policy(team, 'bad');
      return (
        conditionOf(p, 'Ready')?.status === 'True' && p?.status?.observedGeneration === p?.metadata.generation
      );
    });
  });

  it('refuses cross-namespace selection outside the operator namespace, and allows it inside', async () => {
    await apply(
      policyYaml('sneaky', `  selector: {}\n  namespaceSelector: {matchNames: [${operatorNamespace}]}`),
      team,
    );
    const denied = await waitFor('CrossNamespaceDenied', async () => {
      const c = conditionOf(await policy(team, 'sneaky'), 'Ready');
      return c?.status === 'False' ? c : undefined;
    });
    expect(denied.reason).toBe('CrossNamespaceDenied');
    expect(denied.message).toContain(operatorNamespace);

    await apply(
      policyYaml(
        'admin',
        `  selector: {matchLabels: {app: web}}\n  namespaceSelector: {matchNames: [${team}]}`,
      ),
      operatorNamespace,
    );
    const admin = await waitFor('the admin policy sees the team pods', async () => {
      const p = await policy(operatorNamespace, 'admin');
      return conditionOf(p, 'Ready')?.status === 'True' && (p?.status?.matchedPods ?? 0) >= 2 ? p : undefined;
    });
    expect(admin.status?.matchedPods).toBe(3);
  });

  it('stops collecting while suspended', async () => {
    await apply(policyYaml('pausable', '  selector: {matchLabels: {app: web}}\n  interval: 10s'), team);
    await waitFor(
      'pausable collected once',
      async () => (await policy(team, 'pausable'))?.status?.lastCollectionTime,
    );
    await apply(
      policyYaml('pausable', '  selector: {matchLabels: {app: web}}\n  interval: 10s\n  suspend: true'),
      team,
    );
    const suspended = await waitFor('Ready reason Suspended', async () => {
      const p = await policy(team, 'pausable');
      return conditionOf(p, 'Ready')?.reason === 'Suspended' ? p : undefined;
    });
    const frozenAt = suspended.status?.lastCollectionTime;

    // Another policy with the same interval collecting twice more shows time has passed.
    const before = (await policy(team, 'web'))?.status?.lastCollectionTime;
    let later = before;
    for (let cycles = 0; cycles < 2; cycles++) {
      const previous = later;
      later = await waitFor(
        'policy web collects again',
        async () => {
          const t = (await policy(team, 'web'))?.status?.lastCollectionTime;
          return t && t !== previous ? t : undefined;
        },
        { timeoutMs: 40_000 },
      );
    }
    expect((await policy(team, 'pausable'))?.status?.lastCollectionTime).toBe(frozenAt);
  });
});
