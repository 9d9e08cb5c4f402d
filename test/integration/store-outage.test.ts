/**
 * The store goes away and comes back: samples wait in the outage buffer and are all written,
 * each exactly once, with rollups that match them; an outage longer than the buffer holds loses
 * resolution, not usage. Runs its own FerretDB, stopped and restarted on the same port and data
 * folder.
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
import { expectRollupsMatchRaw, expectSame, rawDocs } from './store-fixtures.js';

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
    expect(buffer.status()).toEqual({ storeAvailable: true, buffered: 0, droppedTotal: 0, mergedTotal: 0 });
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

  it('bills every series exactly over a 100-minute outage of 12 series x 200 cycles with room for 100 samples', async () => {
    const SERIES = 12;
    const CYCLE = 30_000;
    const CYCLES = 240;
    const DOWN = { from: 10, to: 210 };
    const clock = { now: T0 };
    const deps = { logger: silentLogger(), metrics: new OperatorMetrics(), clock: { now: () => clock.now } };
    server ??= await startFerretDB({ dataDir });
    const port = server.port;
    const store = new MongoUsageStore(
      { uri: server.uri, database: 'long-outage', serverSelectionTimeoutMs: 300 },
      deps,
    );
    const buffer = new OutageBuffer(store, deps, { capacity: 100, retryIntervalMs: 100 });
    // Each series' readings: contiguous spans, rates changing every cycle, a request on half of them.
    const readings: ContainerSample[] = [];
    const cycleAt = (n: number) =>
      Array.from({ length: SERIES }, (_, i) => {
        const time = T0 + (n + 1) * CYCLE + i * 1000;
        const cores = ((n * 7 + i * 3) % 11) / 4;
        const bytes = 2 ** 20 * (1 + ((n * 5 + i) % 13));
        const reading = sample({
          time,
          from: time - CYCLE,
          pod: `web-${i}`,
          podUid: `u-web-${i}`,
          cpuMillicores: cores * 1000,
          memoryBytes: bytes,
          cpuCoreSeconds: cores * (CYCLE / 1000),
          memoryByteSeconds: bytes * (CYCLE / 1000),
          cpuCoreSecondsTotal: cores * n,
          ...(i % 2 === 0 && { cpuRequestMillicores: 1000, memoryRequestBytes: 2 ** 23 }),
        });
        readings.push(reading);
        return reading;
      });
    try {
      for (let n = 0; n < CYCLES; n++) {
        clock.now = T0 + (n + 1) * CYCLE + 15_000;
        if (n === DOWN.from) await server.stop();
        if (n === DOWN.to) {
          server = await startFerretDB({ dataDir, port });
          // The backlog is written before the next cycles (which are then written as they come).
          expect(await buffer.flush()).toBe(true);
        }
        const outcome = await buffer.write(cycleAt(n));
        expect(outcome.dropped).toBe(0);
        expect(buffer.status().buffered).toBeLessThanOrEqual(100);
        if (n === DOWN.to - 1)
          expect(buffer.status()).toMatchObject({ storeAvailable: false, droppedTotal: 0 });
      }
      expect(await buffer.flush()).toBe(true);
      expect(buffer.status()).toMatchObject({ storeAvailable: true, buffered: 0, droppedTotal: 0 });
      expect(buffer.status().mergedTotal).toBeGreaterThan(SERIES * (DOWN.to - DOWN.from) - 100);
      // Long after, every bucket closed: the bill equals the readings', the outage or not.
      clock.now = T0 + CYCLES * CYCLE + 3 * 3_600_000;
      await store.write([]);
      const truth = (pod: string, a: number, b: number) => {
        let cpu = 0;
        let billed = 0;
        let memory = 0;
        for (const r of readings) {
          if (r.pod !== pod) continue;
          const overlap = Math.max(0, Math.min(b, r.time) - Math.max(a, r.from as number));
          const share = overlap / (r.time - (r.from as number));
          cpu += (r.cpuCoreSeconds as number) * share;
          billed += Math.max(
            (r.cpuCoreSeconds as number) * share,
            ((r.cpuRequestMillicores ?? 0) / 1000) * (overlap / 1000),
          );
          memory += (r.memoryByteSeconds as number) * share;
        }
        return { cpu: cpu / 3600, billed: billed / 3600, memory: memory / 2 ** 30 / 3600 };
      };
      // The whole run, and a window from before the outage to after it (edges outside merged spans).
      for (const [a, b] of [
        [T0, T0 + CYCLES * CYCLE + 60_000],
        [T0 + 2 * CYCLE + 12_345, T0 + 230 * CYCLE + 4_321],
      ] as const) {
        const answer = await store.summary({ from: a, to: b, groupBy: { kind: 'pod' } });
        for (let i = 0; i < SERIES; i++) {
          const entry = answer.items.find((e) => e.group === `shop/web-${i}`);
          expect(entry).toBeDefined();
          const t = truth(`web-${i}`, a, b);
          expectSame(entry?.cpuCoreHours ?? NaN, t.cpu);
          expectSame(entry?.cpuCoreHoursBilled ?? NaN, t.billed);
          expectSame(entry?.memoryGiBHours ?? NaN, t.memory);
        }
      }
    } finally {
      await buffer.close();
      await store.close();
    }
    const client = await MongoClient.connect(server.uri);
    try {
      await expectRollupsMatchRaw(client.db('long-outage'));
    } finally {
      await client.close();
    }
  }, 300_000);
});
