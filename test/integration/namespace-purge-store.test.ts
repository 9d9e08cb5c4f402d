/**
 * The store side of deleted namespaces against the test FerretDB: tombstones, and the purge of
 * a namespace's documents (raw samples and every rollup level, as the real write path stores
 * them) up to the deletion, in bounded batches, leaving other namespaces and later data alone.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import { silentLogger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { MongoUsageStore } from '../../operator/store/mongo-store.js';
import {
  NAMESPACED_COLLECTIONS,
  openNamespaceData,
  type NamespaceDataStore,
} from '../../operator/store/namespace-purge.js';
import { testEnvironment } from '../harness/environment.js';
import { sample, T0 } from '../unit/store/fixtures.js';

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

const count = async (filter: Record<string, unknown>) => {
  let n = 0;
  for (const name of NAMESPACED_COLLECTIONS)
    n += await client.db(database).collection(name).countDocuments(filter);
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
});
