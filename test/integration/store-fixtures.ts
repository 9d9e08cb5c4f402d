/** Reading the store's collections directly, for the store's integration tests. */
import { expect } from '@jest/globals';
import type { Db } from 'mongodb';
import type { ContainerSample } from '../../operator/model.js';
import { COLLECTION_NAMES } from '../../operator/store/connection.js';
import { RESOLUTION_MS, ROLLUP_RESOLUTIONS, type Resolution } from '../../operator/store/resolutions.js';
import { labelSetKey } from '../../operator/store/label-sets.js';
import { seriesOfDoc, type RollupDoc } from '../../operator/store/rollups.js';
import type { SnapshotDoc } from '../../operator/store/snapshots.js';
import { expectBucket } from '../unit/store/fixtures.js';

export async function rawDocs(db: Db): Promise<SnapshotDoc[]> {
  return db.collection<SnapshotDoc>(COLLECTION_NAMES.snapshots).find().toArray();
}

export async function rollupDocs(db: Db, resolution: Resolution): Promise<RollupDoc[]> {
  return db.collection<RollupDoc>(COLLECTION_NAMES.rollups[resolution]).find().toArray();
}

/** Relative difference, for sums added in different orders. */
export function expectSame(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
}

/** What the raw readings put into [a, b): usage, billed and measured time, computed the plain way. */
export function rawIntegrals(raw: readonly SnapshotDoc[], a: number, b: number) {
  const totals = { cpu: 0, cpuBilled: 0, cpuMs: 0, memory: 0, memoryBilled: 0, memoryMs: 0 };
  for (const doc of raw) {
    const from = (doc.from as Date).getTime();
    const to = doc.time.getTime();
    const ms = Math.max(0, Math.min(b, to) - Math.max(a, from));
    if (ms === 0) continue;
    const part = ms / (to - from);
    const request = (r: number | undefined) => ((r ?? 0) * ms) / 1000;
    // A span that merges readings bills what they billed, pro rata.
    const cpuBilled =
      doc.cpuCoreSecondsBilled === undefined ? undefined : doc.cpuCoreSecondsBilled * 1000 * part;
    const memoryBilled =
      doc.memoryByteSecondsBilled === undefined ? undefined : doc.memoryByteSecondsBilled * part;
    if (doc.cpuCoreSeconds === null || doc.cpuCoreSeconds === undefined)
      totals.cpuBilled += cpuBilled ?? request(doc.cpuRequestMillicores);
    else {
      const used = doc.cpuCoreSeconds * 1000 * part;
      totals.cpu += used;
      totals.cpuBilled += cpuBilled ?? Math.max(used, request(doc.cpuRequestMillicores));
      totals.cpuMs += ms;
    }
    if (doc.memoryByteSeconds === null || doc.memoryByteSeconds === undefined)
      totals.memoryBilled += memoryBilled ?? request(doc.memoryRequestBytes);
    else {
      const used = doc.memoryByteSeconds * part;
      totals.memory += used;
      totals.memoryBilled += memoryBilled ?? Math.max(used, request(doc.memoryRequestBytes));
      totals.memoryMs += ms;
    }
  }
  return totals;
}

/** The 5%-exponential bucket of a value, by walking the edges (bucket 0 is `first` wide; 175 buckets). */
function bucketByWalk(first: number, value: number): number {
  let start = 0;
  let width = first;
  let index = 0;
  while (index < 174 && start + width <= value) {
    start += width;
    width *= 1.05;
    index++;
  }
  return index;
}

/** The milliseconds each raw span puts into [a, b) at its average rate's bucket, as `{index: ms}`. */
export function rawHistograms(raw: readonly SnapshotDoc[], a: number, b: number) {
  const cpu: Record<string, number> = {};
  const memory: Record<string, number> = {};
  for (const doc of raw) {
    const from = (doc.from as Date).getTime();
    const to = doc.time.getTime();
    const ms = Math.max(0, Math.min(b, to) - Math.max(a, from));
    if (ms === 0) continue;
    const seconds = (to - from) / 1000;
    if (typeof doc.cpuCoreSeconds === 'number') {
      const i = bucketByWalk(10, (doc.cpuCoreSeconds * 1000) / seconds);
      cpu[i] = (cpu[i] ?? 0) + ms;
    }
    if (typeof doc.memoryByteSeconds === 'number') {
      const i = bucketByWalk(1e7, doc.memoryByteSeconds / seconds);
      memory[i] = (memory[i] ?? 0) + ms;
    }
  }
  return { cpu, memory };
}

/**
 * Every rollup document holds exactly the raw readings of its bucket and label set (count, sums,
 * extremes of the readings whose time is in it, the integrals of the pieces of their spans inside
 * it, and their milliseconds at each rate in the histograms), and every raw reading is in one per
 * level.
 */
export async function expectRollupsMatchRaw(db: Db): Promise<void> {
  const raw = await rawDocs(db);
  const readings = raw.map((doc) => ({ ...doc, time: doc.time.getTime() }));
  const ofVersion =
    (series: string, labels: string) => (s: { series: string; labels: SnapshotDoc['labels'] }) =>
      s.series === series && labelSetKey(s.labels) === labels;
  for (const resolution of ROLLUP_RESOLUTIONS) {
    const width = RESOLUTION_MS[resolution];
    const docs = await rollupDocs(db, resolution);
    const ids = new Set<string>();
    for (const doc of docs) {
      const start = doc.time.getTime();
      const series = seriesOfDoc(doc);
      const labels = labelSetKey(doc.labels);
      const version = ofVersion(series, labels);
      expect(ids.has(`${series}|${labels}|${start}`)).toBe(false);
      ids.add(`${series}|${labels}|${start}`);
      const covered = readings.filter((s) => version(s) && s.time >= start && s.time < start + width);
      expectBucket(doc, covered as unknown as ContainerSample[]);
      const truth = rawIntegrals(raw.filter(version), start, start + width);
      expectSame(doc.cpu.integral, truth.cpu);
      expectSame(doc.cpu.billedIntegral, truth.cpuBilled);
      expectSame(doc.cpu.ms ?? 0, truth.cpuMs);
      expectSame(doc.memory.integral, truth.memory);
      expectSame(doc.memory.billedIntegral, truth.memoryBilled);
      expectSame(doc.memory.ms ?? 0, truth.memoryMs);
      // Its histograms: whole milliseconds, equal exactly, whichever path wrote or merged it.
      const hist = rawHistograms(raw.filter(version), start, start + width);
      expect({ cpu: doc.hist?.cpu ?? {}, memory: doc.hist?.memory ?? {} }).toEqual(hist);
    }
    expect(docs.reduce((n, d) => n + d.count, 0)).toBe(raw.length);
    // No piece of a span is outside the buckets.
    const all = rawIntegrals(raw, -Infinity, Infinity);
    expectSame(
      docs.reduce((n, d) => n + d.cpu.integral, 0),
      all.cpu,
    );
    expectSame(
      docs.reduce((n, d) => n + d.memory.integral, 0),
      all.memory,
    );
  }
}
