import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import { testEnvironment, uniqueName } from '../harness/index.js';

describe('smoke: the mongodb driver against the test store', () => {
  let client: MongoClient;
  const dbName = uniqueName('smoke');

  beforeAll(async () => {
    client = await MongoClient.connect(testEnvironment().mongoUri, { serverSelectionTimeoutMS: 10_000 });
  });
  afterAll(async () => {
    await client.db(dbName).dropDatabase();
    await client.close();
  });

  it('creates indexes, inserts, upserts with $inc/$max and queries', async () => {
    const rollups = client
      .db(dbName)
      .collection<{ _id: string; ns: string; count: number; max: number }>('rollups');
    await rollups.createIndex({ ns: 1, _id: 1 }, { name: 'by_namespace' });
    const names = (await rollups.listIndexes().toArray()).map((i) => i.name);
    expect(names).toContain('by_namespace');

    await rollups.insertOne({ _id: 'a', ns: 'shop', count: 1, max: 10 });
    for (const value of [5, 30, 20]) {
      await rollups.updateOne(
        { _id: 'b' },
        { $inc: { count: 1 }, $max: { max: value }, $set: { ns: 'shop' } },
        { upsert: true },
      );
    }
    const b = await rollups.findOne({ _id: 'b' });
    expect(b).toEqual({ _id: 'b', ns: 'shop', count: 3, max: 30 });

    const shop = await rollups.find({ ns: 'shop' }).sort({ _id: 1 }).toArray();
    expect(shop.map((d) => d._id)).toEqual(['a', 'b']);
    const counted = await rollups
      .aggregate([{ $match: { ns: 'shop' } }, { $group: { _id: '$ns', total: { $sum: '$count' } } }])
      .toArray();
    expect(counted).toEqual([{ _id: 'shop', total: 4 }]);
  });
});
