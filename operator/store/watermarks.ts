/**
 * The store's shared state in its `meta` collection: the schema version, the fence (the latest
 * leadership term that wrote), each level's watermark (buckets ending at or before it are written
 * whole), where readings of the previous layout end, and the fence per node (node-fence.ts).
 */
import type { Collection, Filter } from 'mongodb';
import { levelWatermarks, readNodeFences } from './node-fence.js';
import { ROLLUP_RESOLUTIONS, type Resolution } from './resolutions.js';

export interface MetaDoc {
  _id: string;
  [field: string]: unknown;
}

/** Per level, the end of the last bucket written whole; -Infinity when none is known. */
export type Watermarks = Record<Resolution, number>;

/** The single writer's watermarks (the leader's; -Infinity per level where none is stored). */
export async function readWatermarks(meta: Collection<MetaDoc>): Promise<Watermarks> {
  return watermarksOf(await meta.findOne({ _id: 'watermarks' }));
}

/**
 * What readers take each level's buckets up to: the single writer's watermarks and the marks of
 * the nodes written by holders of their own (node-fence.ts, levelWatermarks).
 */
export async function readLevelWatermarks(meta: Collection<MetaDoc>): Promise<Watermarks> {
  const [leader, nodes] = await Promise.all([meta.findOne({ _id: 'watermarks' }), readNodeFences(meta)]);
  if (nodes.length === 0) return watermarksOf(leader);
  return levelWatermarks(leader ? watermarksOf(leader) : undefined, nodes);
}

function watermarksOf(doc: MetaDoc | null): Watermarks {
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
