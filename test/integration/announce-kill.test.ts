/**
 * The kill between the status write and the notification, with real operator processes and
 * the test entry point test/harness/operator-kill-hook.ts: process A SIGKILLs itself
 * right after it wrote the ResourceAlert status that records a firing, before it hands the
 * firing to the notifiers; process B, on the same cluster and database, delivers it, and
 * SIGKILLs itself likewise after writing the resolution; process C delivers that. A real
 * webhook receiver on 127.0.0.1 counts exactly one notification per transition: one fired,
 * one resolved, nothing more in later cycles.
 * (test/unit/controllers/announce.test.ts covers the same ordering in-process.)
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import {
  apply,
  conditionOf,
  createPod,
  deleteNamespace,
  getObject,
  newNamespace,
  setPodUsage,
  testEnvironment,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import {
  spawnOperator,
  spawnOperatorKilledAfterAlertWrite,
  type OperatorProcess,
} from '../harness/operator.js';
import { Receiver } from '../harness/receiver.js';

interface AlertView {
  status?: {
    targets?: { pod: string; metric: string; state: string; firingNotified?: boolean; resolvedAt?: string }[];
    conditions?: { type: string; status: string; reason: string }[];
  };
}

interface WebhookBody {
  transition: string;
  target: { pod: string };
  metric: string;
}

const HOOK_LINE = 'test hook: SIGKILL after the status write, before the notification';

describe('a process killed between the ResourceAlert status write and the notification', () => {
  const receiver = new Receiver();
  const database = uniqueName('killtest');
  let operatorNamespace: string;
  let ns: string;
  let mongo: MongoClient;
  const processes: OperatorProcess[] = [];
  const alert = () => getObject<AlertView>('resourcealert', ns, 'hot-cpu');
  const delivered = (transition: string) =>
    receiver.to('/hook').filter((r) => (r.body as WebhookBody).transition === transition).length;

  beforeAll(async () => {
    await receiver.start();
    mongo = await MongoClient.connect(testEnvironment().mongoUri);
    operatorNamespace = await newNamespace('kuo-kill');
    ns = await newNamespace('kill');
    await createPod(ns, {
      name: 'hot',
      labels: { app: 'hot' },
      containers: [{ name: 'app', limits: { cpu: '1', memory: '1Gi' } }],
      usage: { cpu: '900m', memory: '100Mi' },
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
  cpu: {above: 500m}
  for: 1
  recoverAfter: 1
  notify:
    events: false
    webhook: {url: "${receiver.url}/hook"}
`,
      ns,
    );
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await receiver.stop();
    await mongo
      .db(database)
      .dropDatabase()
      .catch(() => undefined);
    await mongo.close();
    await deleteNamespace(ns);
    await deleteNamespace(operatorNamespace);
  });

  it('has the restarted processes deliver the firing and the resolution, each once at the receiver', async () => {
    // A: fires on its first cycle, writes the status, dies before notifying.
    const a = spawnOperatorKilledAfterAlertWrite({ namespace: operatorNamespace, database }, 'fired');
    processes.push(a);
    await waitFor('process A to kill itself after the status write', () => a.child.signalCode === 'SIGKILL', {
      timeoutMs: 120_000,
    });
    expect(a.logs).toContainEqual(
      expect.objectContaining({
        message: HOOK_LINE,
        alert: `${ns}/hot-cpu`,
        transition: 'fired',
      }),
    );
    const written = await alert();
    expect(conditionOf(written, 'Firing')?.status).toBe('True');
    // Stored as owed: the firing was not delivered.
    expect(written?.status?.targets).toEqual([
      expect.objectContaining({ pod: 'hot', metric: 'cpu', state: 'Firing', firingNotified: false }),
    ]);
    expect(receiver.to('/hook')).toEqual([]);

    // B: resumes from that status and delivers the firing once, then records it as delivered.
    const b = spawnOperatorKilledAfterAlertWrite({ namespace: operatorNamespace, database }, 'resolved');
    processes.push(b);
    await waitFor('the firing at the receiver', () => delivered('fired') > 0, { timeoutMs: 120_000 });
    await waitFor(
      'the delivery recorded in status',
      async () => (await alert())?.status?.targets?.[0]?.firingNotified === true,
      { timeoutMs: 60_000 },
    );
    expect(receiver.to('/hook')[0]?.body).toMatchObject({
      transition: 'fired',
      target: { pod: 'hot' },
      metric: 'cpu',
    });

    // B writes the resolution and dies before notifying it: the status lists it as owed.
    await setPodUsage(ns, 'hot', { cpu: '100m' });
    await waitFor('process B to kill itself after the status write', () => b.child.signalCode === 'SIGKILL', {
      timeoutMs: 120_000,
    });
    expect(b.logs).toContainEqual(expect.objectContaining({ message: HOOK_LINE, transition: 'resolved' }));
    const resolvedStatus = await alert();
    expect(conditionOf(resolvedStatus, 'Firing')?.status).toBe('False');
    expect(resolvedStatus?.status?.targets).toEqual([
      expect.objectContaining({ pod: 'hot', metric: 'cpu', state: 'Normal', resolvedAt: expect.any(String) }),
    ]);
    expect(delivered('resolved')).toBe(0);

    // C: announces the owed resolution once; the cycles after that announce nothing more.
    const c = spawnOperator({ namespace: operatorNamespace, database });
    processes.push(c);
    await waitFor('the resolution at the receiver', () => delivered('resolved') > 0, { timeoutMs: 120_000 });
    await waitFor(
      'the delivery recorded in status',
      async () => (await alert())?.status?.targets?.length === 0,
      { timeoutMs: 60_000 },
    );
    const snapshots = mongo.db(database).collection('snapshots');
    const cyclesSoFar = await snapshots.countDocuments({});
    await waitFor(
      'two more collection cycles',
      async () => (await snapshots.countDocuments({})) >= cyclesSoFar + 2,
      { timeoutMs: 60_000 },
    );
    expect(delivered('fired')).toBe(1);
    expect(delivered('resolved')).toBe(1);
    expect(receiver.to('/hook')).toHaveLength(2);
    expect(c.child.exitCode).toBeNull();
    expect(await c.terminate()).toBe(0);
  });
});
