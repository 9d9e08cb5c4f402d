/**
 * A namespace deleted and re-created under the same name is a new tenant, through the real
 * apiserver (its namespace controller deletes the old pods), FerretDB and the real HTTP API
 * with a tenant's token: the new owner reads nothing of the old one's pods (current usage,
 * history, top, summary), first while the purge is held back (the old documents are still in
 * the store), then after the purge, which removes the old namespace's documents and keeps the
 * new one's.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import { NAMESPACED_COLLECTIONS, TOMBSTONE_COLLECTION } from '../../operator/store/namespace-purge.js';
import {
  apply,
  coreApi,
  createPod,
  deleteNamespace,
  namespaceViewerToken,
  newNamespace,
  testEnvironment,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { startTestOperator } from '../harness/operator.js';

const MiB = 2 ** 20;
const policy = `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: web}
spec: {selector: {matchLabels: {app: web}}, interval: 10s}
`;

interface Json {
  status: number;
  body: Record<string, unknown>;
}
interface HistoryBody {
  containers: { container: string; points: { time: string; memoryBytes: { max: number } | null }[] }[];
}

describe('a namespace deleted and re-created under the same name', () => {
  const name = uniqueName('recreate');
  const database = uniqueName('recreate');
  let operatorNamespace: string;
  let operator: OperatorHandle | undefined;
  let mongo: MongoClient;
  let held = true;

  const get = async (token: string, path: string): Promise<Json> => {
    const response = await fetch(operator!.url + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const createNamespace = () =>
    coreApi().createNamespace({ body: { metadata: { name, labels: { 'kuo-test': 'true' } } } });
  const documents = async (filter: Record<string, unknown>) => {
    let n = 0;
    for (const collection of NAMESPACED_COLLECTIONS)
      n += await mongo.db(database).collection(collection).countDocuments(filter);
    return n;
  };

  beforeAll(async () => {
    mongo = await MongoClient.connect(testEnvironment().mongoUri);
    operatorNamespace = await newNamespace('kuo-system');
    operator = await startTestOperator(
      { namespace: operatorNamespace, database },
      { holdNamespacePurge: () => held },
    );
  });
  afterAll(async () => {
    await operator?.stop();
    await mongo
      .db(database)
      .dropDatabase()
      .catch(() => undefined);
    await mongo.close();
    await deleteNamespace(name);
    await deleteNamespace(operatorNamespace);
  });

  it('shows the new owner nothing of the old pods, before and after the purge, which keeps the new data', async () => {
    // The old tenant: two pods, 70 MiB each, collected every 10 s.
    await createNamespace();
    const oldToken = await namespaceViewerToken(name, 'old-reader');
    for (const pod of ['web', 'gone'])
      await createPod(name, { name: pod, labels: { app: 'web' }, usage: { cpu: '700m', memory: '70Mi' } });
    await apply(policy, name);
    await waitFor(
      'the old pods in the old tenant summary',
      async () => {
        const r = await get(oldToken, `/api/v1/usage/summary?window=1h&groupBy=pod&namespace=${name}`);
        return (r.body.items as unknown[] | undefined)?.length === 2;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    const oldUid = (await coreApi().readNamespace({ name })).metadata!.uid!;

    await deleteNamespace(name);
    await waitFor(
      `namespace ${name} gone`,
      async () => {
        try {
          await coreApi().readNamespace({ name });
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    const tombstone = await waitFor(
      'the tombstone of the old namespace',
      async () =>
        (await mongo
          .db(database)
          .collection<{ uid: string; deletedAt: Date }>(TOMBSTONE_COLLECTION)
          .findOne({ namespace: name, uid: oldUid })) ?? undefined,
    );

    // The new tenant, same name; one pod named like an old one, 20 MiB.
    const newUid = (await createNamespace()).metadata!.uid!;
    // The old tenant's documents: those stamped with its UID, and those at or before the deletion
    // not stamped with the new one's (the new tenant keeps its buckets that began before the
    // deletion, docs/accounting.md).
    const oldDocuments = () =>
      documents({
        namespace: name,
        $or: [
          { namespaceUid: oldUid },
          { namespaceUid: { $ne: newUid }, time: { $lte: tombstone.deletedAt } },
        ],
      });
    const token = await namespaceViewerToken(name, 'new-reader');
    // Before anything of the new tenant is collected, and before the purge: nothing readable,
    // although the old documents are still stored.
    expect(await documents({ namespace: name })).toBeGreaterThan(0);
    for (const pod of ['web', 'gone']) {
      expect((await get(token, `/api/v1/namespaces/${name}/pods/${pod}/usage`)).status).toBe(404);
      const history = await get(token, `/api/v1/namespaces/${name}/pods/${pod}/usage/history`);
      expect(history.status).toBe(200);
      expect((history.body as unknown as HistoryBody).containers).toEqual([]);
    }
    for (const path of [
      `/api/v1/usage/summary?window=24h&groupBy=pod&namespace=${name}`,
      `/api/v1/usage/top?metric=memory&window=24h&namespace=${name}`,
    ]) {
      const r = await get(token, path);
      expect(r.status).toBe(200);
      expect(r.body.items).toEqual([]);
    }

    await createPod(name, { name: 'web', labels: { app: 'web' }, usage: { cpu: '200m', memory: '20Mi' } });
    await apply(policy, name);
    await waitFor(
      'the new pod with memory values in the new tenant top',
      async () => {
        const r = await get(token, `/api/v1/usage/top?metric=memory&window=24h&namespace=${name}`);
        return (r.body.items as unknown[] | undefined)?.length === 1;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    // Still before the purge: every figure the new owner reads is the new pod's.
    expect(await oldDocuments()).toBeGreaterThan(0);
    const assertOnlyNewTenant = async () => {
      const summary = await get(token, `/api/v1/usage/summary?window=24h&groupBy=pod&namespace=${name}`);
      expect(summary.body.items).toEqual([expect.objectContaining({ group: `${name}/web`, containers: 1 })]);
      const top = await get(token, `/api/v1/usage/top?metric=memory&window=24h&namespace=${name}`);
      expect(top.body.items).toEqual([expect.objectContaining({ pod: 'web', max: 20 * MiB })]);
      // The average is time-weighted (byte-seconds over seconds): exact up to floating-point rounding.
      const avg = (top.body.items as { avg: number }[])[0]!.avg;
      expect(Math.abs(avg - 20 * MiB)).toBeLessThanOrEqual(20 * MiB * 1e-12);
      const current = await get(token, `/api/v1/namespaces/${name}/pods/web/usage`);
      expect(current.status).toBe(200);
      expect(current.body.containers).toEqual([expect.objectContaining({ memoryBytes: 20 * MiB })]);
      for (const granularity of ['raw', '1m', 'auto']) {
        // History withholds a bucket that began at or before the deletion (docs/accounting.md):
        // a 1-minute point of the new pod shows once a minute has begun after the deletion.
        const points = await waitFor(
          `${granularity} history points of the new pod`,
          async () => {
            const history = (
              await get(token, `/api/v1/namespaces/${name}/pods/web/usage/history?granularity=${granularity}`)
            ).body as unknown as HistoryBody;
            const found = history.containers.flatMap((c) => c.points);
            return found.length > 0 ? found : undefined;
          },
          { timeoutMs: 90_000, intervalMs: 1000 },
        );
        for (const point of points) {
          expect(Date.parse(point.time)).toBeGreaterThan(tombstone.deletedAt.getTime());
          if (point.memoryBytes !== null) expect(point.memoryBytes.max).toBe(20 * MiB);
        }
      }
      expect((await get(token, `/api/v1/namespaces/${name}/pods/gone/usage`)).status).toBe(404);
    };
    await assertOnlyNewTenant();

    // The purge: the old namespace's documents go in batches, the new one's stay.
    held = false;
    await waitFor('the old namespace purged', async () => (await oldDocuments()) === 0, {
      timeoutMs: 120_000,
      intervalMs: 1000,
    });
    expect(
      await documents({ namespace: name, namespaceUid: newUid, time: { $gt: tombstone.deletedAt } }),
    ).toBeGreaterThan(0);
    await assertOnlyNewTenant();
  });
});
