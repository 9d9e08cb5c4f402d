/** Reading the store's collections directly, for the store's integration tests. */
import { expect } from '@jest/globals';
import type { Db } from 'mongodb';
import type { ContainerSample } from '../../operator/model.js';
import { COLLECTION_NAMES } from '../../operator/store/connection.js';
import { RESOLUTION_MS, ROLLUP_RESOLUTIONS, type Resolution } from '../../operator/store/resolutions.js';
import type { RollupDoc } from '../../operator/store/rollups.js';
import { seriesKey, type SnapshotDoc } from '../../operator/store/snapshots.js';
import { expectBucket } from '../unit/store/fixtures.js';

export async function rawDocs(db: Db): Promise<SnapshotDoc[]> {
  return db.collection<SnapshotDoc>(COLLECTION_NAMES.snapshots).find().toArray();
}

export async function rollupDocs(db: Db, resolution: Resolution): Promise<RollupDoc[]> {
  return db.collection<RollupDoc>(COLLECTION_NAMES.rollups[resolution]).find().toArray();
}

/** Every rollup document holds exactly the raw samples of its bucket, and every raw sample is in one per level. */
export async function expectRollupsMatchRaw(db: Db): Promise<void> {
  const raw = (await rawDocs(db)).map((doc) => ({ ...doc, time: doc.time.getTime() }));
  for (const resolution of ROLLUP_RESOLUTIONS) {
    const width = RESOLUTION_MS[resolution];
    const docs = await rollupDocs(db, resolution);
    for (const doc of docs) {
      const start = doc.time.getTime();
      const series = seriesKey(doc);
      const covered = raw.filter((s) => s.series === series && s.time >= start && s.time < start + width);
      expectBucket(doc, covered as unknown as ContainerSample[]);
    }
    expect(docs.reduce((n, d) => n + d.count, 0)).toBe(raw.length);
  }
}
