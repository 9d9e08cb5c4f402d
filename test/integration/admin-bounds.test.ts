/**
 * The admin's bounds on what tenants may ask of the shared store, through the real apiserver
 * and FerretDB: a retention above the maximum and a policy beyond the namespace's quota get
 * Ready=False with a reason; deleting a policy frees its place.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperatorHandle } from '../../operator/operator.js';
import {
  apply,
  conditionOf,
  deleteNamespace,
  getObject,
  kubectlOk,
  newNamespace,
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
