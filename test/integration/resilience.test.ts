import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import {
  apply,
  conditionOf,
  createPod,
  deleteNamespace,
  getObject,
  newNamespace,
  testCluster,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { startTestOperator } from '../harness/operator.js';

interface PolicyView {
  status?: {
    matchedPods?: number;
    conditions?: { type: string; status: string; lastTransitionTime: string }[];
  };
}

describe('the operator survives restarts of itself and of the apiserver', () => {
  let operatorNamespace: string;
  let ns: string;
  const database = uniqueName('resilience');
  let operator: OperatorHandle | undefined;
  const policy = () => getObject<PolicyView>('usagepolicy', ns, 'web');

  beforeAll(async () => {
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('resilience');
    await createPod(ns, { name: 'web-1', labels: { app: 'web' } });
    await apply(
      `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: web}
spec: {selector: {matchLabels: {app: web}}, interval: 10s}
`,
      ns,
    );
    operator = await startTestOperator({ namespace: operatorNamespace, database });
  });
  afterAll(async () => {
    await operator?.stop();
    await deleteNamespace(ns);
    await deleteNamespace(operatorNamespace);
  });

  it('keeps the status it wrote across an operator restart', async () => {
    const ready = await waitFor('Ready with one pod', async () => {
      const p = await policy();
      return conditionOf(p, 'Ready')?.status === 'True' && p?.status?.matchedPods === 1 ? p : undefined;
    });
    const since = ready.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
    await operator?.stop();
    operator = await startTestOperator({ namespace: operatorNamespace, database });
    await createPod(ns, { name: 'web-2', labels: { app: 'web' } });
    const after = await waitFor('the new operator counts 2 pods', async () => {
      const p = await policy();
      return p?.status?.matchedPods === 2 ? p : undefined;
    });
    expect(after.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      lastTransitionTime: since,
    });
  });

  it('recovers its watches after the apiserver is stopped and started, without a restart', async () => {
    const cluster = testCluster();
    await cluster.stopComponents();
    await cluster.startComponents();
    await waitFor('the apiserver answers again', async () => (await policy()) !== undefined, {
      timeoutMs: 60_000,
    });
    await createPod(ns, { name: 'web-3', labels: { app: 'web' } });
    await waitFor(
      'the same operator sees the pod created after the outage',
      async () => (await policy())?.status?.matchedPods === 3,
      {
        timeoutMs: 90_000,
      },
    );
    expect(operator?.isLeader()).toBe(true);
  });
});
