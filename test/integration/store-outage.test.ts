/**
 * The store goes away and comes back: samples wait in the outage buffer and are all written,
 * each exactly once, with rollups that match them. Runs its own FerretDB, stopped and restarted
 * on the same port and data folder.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { silentLogger } from '../../operator/logging.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import type { ContainerSample } from '../../operator/model.js';
import { MongoUsageStore } from '../../operator/store/mongo-store.js';
import { OutageBuffer } from '../../operator/store/outage-buffer.js';
import { toSnapshotDoc } from '../../operator/store/snapshots.js';
import { startFerretDB, type FerretDB } from '../../scripts/testenv/ferretdb.js';
import { sample, T0 } from '../unit/store/fixtures.js';
import { expectRollupsMatchRaw, rawDocs } from './store-fixtures.js';

const dataDir = mkdtempSync(join(tmpdir(), 'kuo-store-outage-'));
let server: FerretDB | undefined;

afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function cycle(n: number): ContainerSample[] {
  return ['web-1', 'web-2', 'web-3'].map((pod, i) =>
    sample({ time: T0 + n * 30_000, pod, cpuMillicores: 100 * i + n, memoryBytes: 2 ** 20 * (n + 1) }),
  );
}

describe('store outage', () => {
  it('buffers samples while FerretDB is down and writes each exactly once after it restarts', async () => {
    server = await startFerretDB({ dataDir });
    const port = server.port;
    const deps = {
      logger: silentLogger(),
      metrics: new OperatorMetrics(),
      clock: { now: () => T0 + 3_600_000 },
    };
    const store = new MongoUsageStore(
      { uri: server.uri, database: 'outage', serverSelectionTimeoutMs: 500 },
      deps,
    );
    const buffer = new OutageBuffer(store, deps, { retryIntervalMs: 200 });

    expect(await buffer.write(cycle(0))).toEqual({ written: 3, buffered: 0, dropped: 0 });
    await server.stop();
    for (let n = 1; n <= 5; n++)
      expect(await buffer.write(cycle(n))).toEqual({ written: 0, buffered: 3, dropped: 0 });
    expect(buffer.status()).toMatchObject({ storeAvailable: false, buffered: 15, droppedTotal: 0 });

    server = await startFerretDB({ dataDir, port });
    const deadline = Date.now() + 60_000;
    while (!(buffer.status().storeAvailable && buffer.status().buffered === 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(buffer.status()).toEqual({ storeAvailable: true, buffered: 0, droppedTotal: 0 });
    expect(await buffer.write(cycle(6))).toEqual({ written: 3, buffered: 0, dropped: 0 });
    await buffer.close();
    await store.close();

    const client = await MongoClient.connect(server.uri);
    try {
      const db = client.db('outage');
      const stored = (await rawDocs(db)).map((d) => d._id).sort();
      const expected = [0, 1, 2, 3, 4, 5, 6].flatMap((n) => cycle(n).map((s) => toSnapshotDoc(s)._id)).sort();
      expect(stored).toEqual(expected);
      await expectRollupsMatchRaw(db);
    } finally {
      await client.close();
    }
  });
});
