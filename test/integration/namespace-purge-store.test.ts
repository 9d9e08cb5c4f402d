/**
 * The store side of deleted namespaces against the test FerretDB: tombstones, and the purge of
 * a namespace's documents (raw samples and every rollup level, as the real write path stores
 * them) in bounded batches, leaving other namespaces and later data alone; a namespace re-created
 * under the name keeps all of its data (its documents carry its UID).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import { silentLogger } from '../../operator/logging.js';
import type { ContainerSample } from '../../operator/model.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { MongoUsageStore } from '../../operator/store/mongo-store.js';
import {
  NAMESPACED_COLLECTIONS,
  openNamespaceData,
  type NamespaceDataStore,
} from '../../operator/store/namespace-purge.js';
import { NamespaceLedger, type CurrentNamespace } from '../../operator/tenancy/namespace-ledger.js';
import { NamespacePurger } from '../../operator/tenancy/namespace-purger.js';
import { testEnvironment } from '../harness/environment.js';
import { FakeTimers } from '../unit/runtime/fake-timers.js';
import { sample, T0 } from '../unit/store/fixtures.js';
import { expectSame } from './store-fixtures.js';

const HOUR = 3_600_000;
const database = `nspurge_${randomBytes(4).toString('hex')}`;
let client: MongoClient;
let data: NamespaceDataStore;

beforeAll(async () => {
  client = await MongoClient.connect(testEnvironment().mongoUri, { serverSelectionTimeoutMS: 10_000 });
  data = openNamespaceData({ uri: testEnvironment().mongoUri, database });
});
afterAll(async () => {
  await data.close();
  await client.db(database).dropDatabase();
  await client.close();
});

const count = async (filter: Record<string, unknown>, db = database) => {
  let n = 0;
  for (const name of NAMESPACED_COLLECTIONS) n += await client.db(db).collection(name).countDocuments(filter);
  return n;
};

describe('the purge of a deleted namespace on FerretDB', () => {
  it('deletes the namespace up to the deletion in bounded batches, and keeps later data and other namespaces', async () => {
    const store = new MongoUsageStore(
      { uri: testEnvironment().mongoUri, database },
      { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => T0 + 3 * 24 * HOUR } },
    );
    // 'shop': 30 samples over 2 hours before the deletion and 5 after (a new namespace of the
    // name); 'blog': 10 samples in the same hours.
    const deletedAt = T0 + 2 * HOUR;
    const times = (n: number, from: number, step: number) =>
      Array.from({ length: n }, (_, i) => from + i * step);
    await store.write([
      ...times(30, T0, 4 * 60_000).map((time) => sample({ time, pod: `web-${time % 3}` })),
      ...times(5, deletedAt + 60_000, 30_000).map((time) => sample({ time, pod: 'new' })),
      ...times(10, T0, 10 * 60_000).map((time) =>
        sample({ time, namespace: 'blog', policy: 'blog/web', pod: 'blog-1' }),
      ),
    ]);
    await store.flush();
    await store.close();
    const before = { shop: await count({ namespace: 'shop', time: { $lte: new Date(deletedAt) } }) };
    const kept = {
      later: await count({ namespace: 'shop', time: { $gt: new Date(deletedAt) } }),
      blog: await count({ namespace: 'blog' }),
    };
    expect(before.shop).toBeGreaterThan(30);
    expect(kept.later).toBeGreaterThan(0);
    expect(await data.namespacesWithData()).toEqual(['blog', 'shop']);
    expect(await data.hasRawDataBefore('shop', new Date(T0))).toBe(false);
    expect(await data.hasRawDataBefore('shop', new Date(T0 + 1))).toBe(true);

    // 7 per delete, 2 deletes per collection and call: several calls, each bounded.
    const limits = { batchSize: 7, maxBatches: 2 };
    let calls = 0;
    let deleted = 0;
    for (;;) {
      const result = await data.purge({ namespace: 'shop', through: new Date(deletedAt) }, limits);
      calls++;
      expect(result.deleted).toBeLessThanOrEqual(7 * 2 * NAMESPACED_COLLECTIONS.length);
      deleted += result.deleted;
      if (!result.more) break;
    }
    expect(calls).toBeGreaterThan(1);
    expect(deleted).toBe(before.shop);
    expect(await count({ namespace: 'shop', time: { $lte: new Date(deletedAt) } })).toBe(0);
    expect(await count({ namespace: 'shop', time: { $gt: new Date(deletedAt) } })).toBe(kept.later);
    expect(await count({ namespace: 'blog' })).toBe(kept.blog);
  });

  it('keeps the first deletion time of a tombstone recorded twice, and removes it by id', async () => {
    await data.recordDeletion({ namespace: 'pr-1', uid: 'u1', deletedAt: new Date(T0) });
    await data.recordDeletion({ namespace: 'pr-1', uid: 'u1', deletedAt: new Date(T0 + HOUR) });
    await data.recordDeletion({ namespace: 'pr-1', uid: 'u2', deletedAt: new Date(T0 + 2 * HOUR) });
    await data.recordDeletion({ namespace: 'pr-2', uid: 'u3', deletedAt: new Date(T0) });
    expect(await data.tombstones('pr-1')).toEqual([
      { _id: 'pr-1|u1', namespace: 'pr-1', uid: 'u1', deletedAt: new Date(T0) },
      { _id: 'pr-1|u2', namespace: 'pr-1', uid: 'u2', deletedAt: new Date(T0 + 2 * HOUR) },
    ]);
    await data.removeTombstone('pr-1|u1');
    expect((await data.tombstones()).map((t) => t._id)).toEqual(['pr-2|u3', 'pr-1|u2']);
  });

  it("purges a deleted namespace's UID only: the namespace re-created under its name keeps its first day", async () => {
    // 'shop' (UID old) runs a pod at 2 cores from 00:00 and is deleted at 10:00:30; 'shop' is
    // re-created (UID new) at 10:01 with a pod at 4 cores. The leader's purger runs every hour
    // while the new namespace's buckets close (the day's at 00:02 the next day) and until the
    // tombstone settles; then nothing restricts the name and the day is read from its bucket.
    const db = `nsrecreate_${randomBytes(4).toString('hex')}`;
    const MINUTE = 60_000;
    const deletedAt = T0 + 10 * HOUR + 30_000;
    const createdAt = T0 + 10 * HOUR + MINUTE;
    const clock = new FakeTimers(T0);
    const store = new MongoUsageStore(
      { uri: testEnvironment().mongoUri, database: db },
      { logger: silentLogger(), metrics: new OperatorMetrics(), clock },
    );
    const ownData = openNamespaceData({ uri: testEnvironment().mongoUri, database: db });
    const current = new Map<string, CurrentNamespace>();
    const ledger = new NamespaceLedger({ current: (name) => current.get(name), data: ownData, clock });
    const purger = new NamespacePurger({
      data: ownData,
      ledger,
      namespaces: () => current,
      synced: () => true,
      timers: clock,
      logger: silentLogger(),
    });
    const tenant = (uid: string, pod: string, cores: number) => (from: number, time: number) =>
      sample({
        time,
        from,
        pod,
        podUid: `pod-${uid}`,
        namespaceUid: uid,
        cpuMillicores: cores * 1000,
        cpuCoreSeconds: (cores * (time - from)) / 1000,
      });
    /** Readings every minute over (from, to], written an hour at a time with the clock at the last. */
    const run = async (
      reading: (from: number, time: number) => ContainerSample,
      from: number,
      to: number,
    ) => {
      for (let batchStart = from; batchStart < to; batchStart += HOUR) {
        const batch: ContainerSample[] = [];
        for (let t = batchStart; t < Math.min(to, batchStart + HOUR); t += MINUTE)
          batch.push(reading(t, t + MINUTE));
        await clock.advance(batch[batch.length - 1]!.time - clock.now());
        await store.write(batch);
        await purger.runOnce();
      }
    };
    try {
      current.set('shop', { uid: 'old', createdMs: T0 - HOUR });
      await run(tenant('old', 'web-old', 2), T0, T0 + 10 * HOUR);
      await clock.advance(deletedAt - clock.now());
      current.delete('shop');
      await ownData.recordDeletion({ namespace: 'shop', uid: 'old', deletedAt: new Date(deletedAt) });
      await purger.runOnce();
      current.set('shop', { uid: 'new', createdMs: createdAt });
      await run(tenant('new', 'web-new', 4), createdAt, T0 + 24 * HOUR + 10 * MINUTE);
      await clock.advance(deletedAt + 24 * HOUR + 10 * MINUTE - clock.now());
      await purger.runOnce();
      expect(await ownData.tombstones('shop')).toEqual([]);

      const day = await store.summary({
        from: T0,
        to: T0 + 24 * HOUR,
        groupBy: { kind: 'pod' },
        namespaces: ['shop'],
      });
      // The truth: 4 cores from 10:01 to 24:00.
      const truth = (4 * (T0 + 24 * HOUR - createdAt)) / HOUR;
      expect(day.items.map((i) => i.group)).toEqual(['shop/web-new']);
      expectSame(day.items[0]!.cpuCoreHours, truth);
      expect(truth).toBeCloseTo(55.93, 2);
      // Nothing of the old namespace is left, at any level, whatever its time.
      const left = await count({ namespaceUid: 'old' }, db);
      const oldPod = await count({ pod: 'web-old' }, db);
      expect({ left, oldPod }).toEqual({ left: 0, oldPod: 0 });
    } finally {
      await store.close();
      await ownData.close();
      await client.db(db).dropDatabase();
    }
  });
});
