/**
 * The admin's bounds on what tenants may ask of the shared operator, through the real apiserver
 * and FerretDB: a retention above the maximum, a policy or an alert beyond the namespace's quota,
 * and a policy beyond the cluster-wide collection budget get Ready=False with a reason; deleting
 * an object frees its place, raising the budget admits the policy.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import { MongoClient } from 'mongodb';
import {
  apply,
  conditionOf,
  createPod,
  deleteNamespace,
  getObject,
  kubectlOk,
  newNamespace,
  testEnvironment,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { startTestOperator } from '../harness/operator.js';

const policy = (name: string, raw = '1d') => `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: ${name}}
spec:
  selector: {}
  interval: 30s
  retention: {raw: ${raw}, hourly: 3d, daily: 10d}
`;

describe('admin bounds on UsagePolicies', () => {
  let operatorNamespace: string;
  let ns: string;
  let operator: OperatorHandle | undefined;

  const ready = (name: string, status: string) =>
    waitFor(
      `${name} Ready=${status}`,
      async () => {
        const c = conditionOf(await getObject('usagepolicy', ns, name), 'Ready');
        return c?.status === status ? c : undefined;
      },
      { timeoutMs: 60_000 },
    );

  beforeAll(async () => {
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('bounds');
    operator = await startTestOperator({
      namespace: operatorNamespace,
      database: uniqueName('bounds'),
      args: ['--max-retention-raw', '2d', '--max-policies-per-namespace', '2'],
    });
  });
  afterAll(async () => {
    await operator?.stop();
    await deleteNamespace(ns);
    await deleteNamespace(operatorNamespace);
  });

  it('refuses a retention above the maximum with RetentionAboveLimit, and accepts it once shortened', async () => {
    await apply(policy('long', '3d'), ns);
    const refused = await ready('long', 'False');
    expect(refused.reason).toBe('RetentionAboveLimit');
    expect(refused.message).toContain(
      'spec.retention.raw (3d) is above the maximum of 2d (--max-retention-raw)',
    );
    await apply(policy('long', '2d'), ns);
    expect((await ready('long', 'True')).reason).toBe('Collecting');
  });

  it('refuses the policies beyond the namespace quota with QuotaExceeded, and admits one when another goes', async () => {
    await apply(policy('second'), ns);
    await ready('second', 'True');
    await apply(policy('third'), ns);
    const refused = await ready('third', 'False');
    expect(refused.reason).toBe('QuotaExceeded');
    expect(refused.message).toContain("the operator's admin allows 2 (--max-policies-per-namespace)");
    await kubectlOk(['-n', ns, 'delete', 'usagepolicy', 'long']);
    expect((await ready('third', 'True')).reason).toBe('Collecting');
  });
});

const alert = (name: string) => `apiVersion: usage.kubeusage.dev/v1alpha1
kind: ResourceAlert
metadata: {name: ${name}}
spec:
  policyRef: {name: web}
  cpu: {above: 1m}
  for: 1
  recoverAfter: 1
  notify: {events: true}
`;

describe('admin bounds on ResourceAlerts and on collection', () => {
  let operatorNamespace: string;
  let ns: string;
  let operator: OperatorHandle | undefined;
  const database = uniqueName('bounds');
  const start = async (budget: number) =>
    (operator = await startTestOperator({
      namespace: operatorNamespace,
      database,
      args: ['--max-alerts-per-namespace', '1', '--max-collected-containers', String(budget)],
    }));
  const condition = (
    kind: string,
    name: string,
    type: string,
    want: (c: { status: string; reason?: string }) => boolean,
  ) =>
    waitFor(
      `${kind} ${name} ${type}`,
      async () => {
        const c = conditionOf(await getObject(kind, ns, name), type);
        return c && want(c) ? c : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );

  beforeAll(async () => {
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('bounds');
    for (const pod of ['web-1', 'web-2', 'web-3'])
      await createPod(ns, { name: pod, labels: { app: 'web' }, usage: { cpu: '300m', memory: '10Mi' } });
    await apply(
      `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: web}
spec: {selector: {matchLabels: {app: web}}, interval: 10s}
`,
      ns,
    );
  });
  afterAll(async () => {
    await operator?.stop();
    const mongo = await MongoClient.connect(testEnvironment().mongoUri);
    await mongo
      .db(database)
      .dropDatabase()
      .catch(() => undefined);
    await mongo.close();
    await deleteNamespace(ns);
    await deleteNamespace(operatorNamespace);
  });

  it('refuses a policy beyond the collection budget with CollectionBudgetExceeded, and admits it once the admin raises the budget', async () => {
    // Three containers do not fit in a budget of two, whatever else the cluster collects.
    await start(2);
    const refused = await condition('usagepolicy', 'web', 'Ready', (c) => c.status === 'False');
    expect(refused.reason).toBe('CollectionBudgetExceeded');
    expect(refused.message).toContain(
      "collecting this policy's 3 containers would exceed the cluster's collection budget",
    );
    expect(refused.message).toContain('of 2 containers (--max-collected-containers)');
    const policy = await getObject('usagepolicy', ns, 'web');
    expect((policy as { status?: { matchedContainers?: number } }).status?.matchedContainers).toBe(0);
    await operator!.stop();
    operator = undefined;
    await start(10_000);
    expect((await condition('usagepolicy', 'web', 'Ready', (c) => c.status === 'True')).reason).toBe(
      'Collecting',
    );
  });

  it('refuses the alerts beyond the namespace quota with QuotaExceeded (not evaluated), and admits one when the other goes', async () => {
    await apply(alert('first'), ns);
    await apply(alert('second'), ns);
    // Created in the same second or not, "first" is admitted: oldest first, then by name.
    const firing = await condition('resourcealert', 'first', 'Firing', (c) => c.status === 'True');
    expect(firing.reason).toBe('CPUThresholdExceeded');
    const refused = await condition('resourcealert', 'second', 'Ready', (c) => c.status === 'False');
    expect(refused.reason).toBe('QuotaExceeded');
    expect(refused.message).toContain(
      "this namespace has 2 ResourceAlerts and the operator's admin allows 1 (--max-alerts-per-namespace)",
    );
    // Over the same pods as "first", which fires: "second" was not evaluated.
    expect(conditionOf(await getObject('resourcealert', ns, 'second'), 'Firing')).toBeUndefined();
    await kubectlOk(['-n', ns, 'delete', 'resourcealert', 'first']);
    expect((await condition('resourcealert', 'second', 'Ready', (c) => c.status === 'True')).reason).toBe(
      'Evaluating',
    );
    expect((await condition('resourcealert', 'second', 'Firing', (c) => c.status === 'True')).reason).toBe(
      'CPUThresholdExceeded',
    );
  });
});
