import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import {
  apply,
  conditionOf,
  createPod,
  deleteNamespace,
  getObject,
  newNamespace,
  testEnvironment,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { spawnOperator, type OperatorProcess } from '../harness/operator.js';

interface LeaseView {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number };
}

const LEASE_DURATION_S = 6;

describe('two operator processes with leader election', () => {
  let operatorNamespace: string;
  let ns: string;
  const database = uniqueName('leadertest');
  const processes: OperatorProcess[] = [];
  let mongo: MongoClient;

  const lease = () => getObject<LeaseView>('lease', operatorNamespace, 'kube-usage-operator');
  const start = (identity: string) => {
    const p = spawnOperator({
      namespace: operatorNamespace,
      database,
      identity,
      leaderElection: true,
      args: [
        '--leader-elect-lease-duration',
        `${LEASE_DURATION_S}s`,
        '--leader-elect-renew-deadline',
        '4s',
        '--leader-elect-retry-period',
        '1s',
      ],
    });
    processes.push(p);
    return p;
  };

  beforeAll(async () => {
    mongo = await MongoClient.connect(testEnvironment().mongoUri);
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('leader');
    await createPod(ns, { name: 'web', labels: { app: 'web' }, usage: { cpu: '100m' } });
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
    await Promise.all(processes.map((p) => p.kill()));
    await mongo
      .db(database)
      .dropDatabase()
      .catch(() => undefined);
    await mongo.close();
    await deleteNamespace(ns);
    await deleteNamespace(operatorNamespace);
  });

  it('has exactly one leader; a standby takes over within the lease duration after the leader is killed', async () => {
    const a = start('replica-a');
    const first = await waitFor(
      'replica-a holds the lease',
      async () => (await lease())?.spec?.holderIdentity,
      {
        timeoutMs: 60_000,
      },
    );
    expect(first).toBe('replica-a');
    const b = start('replica-b');

    await waitFor(
      'the policy is Ready and collected',
      async () => {
        const p = await getObject<{ status?: { lastCollectionTime?: string } }>('usagepolicy', ns, 'web');
        return conditionOf(p, 'Ready')?.status === 'True' && p?.status?.lastCollectionTime;
      },
      { timeoutMs: 90_000 },
    );
    // The standby has started (its informers sync) but never leads while replica-a renews.
    await waitFor('replica-b is up', () => b.logs.some((l) => l.message === 'operator started'), {
      timeoutMs: 60_000,
    });
    expect(b.logs.some((l) => String(l.message).startsWith('leading'))).toBe(false);
    expect((await lease())?.spec?.holderIdentity).toBe('replica-a');
    // The premise of the takeover check: replica-a has stored a CPU counter reading for the new
    // leader to continue from (kwok's first scrape of a young container may carry the working set
    // alone, which starts no series: the first counter reading is the series' base).
    const snapshots = mongo.db(database).collection('snapshots');
    const counterReadings = { pod: 'web', cpuCoreSecondsTotal: { $type: 'number' } };
    await waitFor(
      'replica-a stored a counter reading',
      async () => (await snapshots.countDocuments(counterReadings)) > 0,
      { timeoutMs: 60_000 },
    );

    await a.kill();
    const killedAt = Date.now();
    await waitFor('replica-b leads', async () => (await lease())?.spec?.holderIdentity === 'replica-b', {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    // Lease duration, plus a retry period and polling; slack for a host under load.
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan((LEASE_DURATION_S + 5) * 1000);

    // Collection goes on under the new leader, and no cycle was written twice.
    const before = await snapshots.countDocuments(counterReadings);
    await waitFor(
      'new samples from replica-b',
      async () => (await snapshots.countDocuments(counterReadings)) > before,
      {
        timeoutMs: 60_000,
      },
    );
    // One cycle is one reading per container, whose span starts where the container's previous
    // counter reading ended (the new leader continues from the store's newest): two writers of one
    // cycle would leave two spans with one start, or overlapping spans.
    const docs = await snapshots
      .find(counterReadings, { projection: { time: 1, from: 1 } })
      .sort({ time: 1 })
      .toArray();
    const spans = docs.map((d) => ({
      from: new Date(d.from as Date).getTime(),
      to: new Date(d.time as Date).getTime(),
    }));
    expect(spans.length).toBeGreaterThan(1);
    expect(spans.slice(1).map((s) => s.from)).toEqual(spans.slice(0, -1).map((s) => s.to));
  });
});
