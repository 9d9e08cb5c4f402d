/**
 * The store's shared state in its `meta` collection: the schema version, the fence (the latest
 * leadership term that wrote), each level's watermark (buckets ending at or before it are written
 * whole), and where readings of the previous layout end.
 */
import type { Collection, Filter } from 'mongodb';
import { ROLLUP_RESOLUTIONS, type Resolution } from './resolutions.js';

export interface MetaDoc {
  _id: string;
  [field: string]: unknown;
}

/** Per level, the end of the last bucket written whole; -Infinity when none is known. */
export type Watermarks = Record<Resolution, number>;

export async function readWatermarks(meta: Collection<MetaDoc>): Promise<Watermarks> {
  const doc = await meta.findOne({ _id: 'watermarks' });
  const marks = {} as Watermarks;
  for (const resolution of ROLLUP_RESOLUTIONS) {
    const value = doc?.[resolution];
    marks[resolution] = typeof value === 'number' ? value : -Infinity;
  }
  return marks;
}

/**
 * Matches a document no later term has written: an upsert with it fails with a duplicate key
 * when one has, so a writer of an older term changes nothing.
 */
export function termGuard(term: number): Filter<MetaDoc> {
  return { term: { $not: { $gt: term } } };
}
