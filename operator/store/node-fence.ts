/**
 * The fence per node: who writes a node's readings and buckets, and which of its buckets are
 * closed. One `meta` document per node, `fence:<node>`:
 *
 * - `term`: incremented by each holder that takes the node (claimNode); the holder's readings and
 *   bucket parts carry it, its bucket and watermark writes are guarded by it, and a holder whose
 *   term is older than the stored one is refused (NodeStaleTermError). Two holders of one node (an
 *   agent rollout with surge, a failover) never both write past the later one's claim.
 * - `held`: true from a claim until the holder releases the node (after writing every open bucket).
 * - `marks`: per level, the end of the node's last bucket written whole (by its holder's clock).
 *
 * A level's watermark for readers (levelWatermarks) is the minimum of the marks of the nodes that
 * are held: a node that is not held has written all its buckets, so it holds no level back. A
 * holder that dies without releasing holds the watermark where it stopped (readers stay exact and
 * read that time from the finer levels) until the node is taken again: by its next holder, or by
 * whoever retires it (takes it, which recomputes its open buckets from the stored readings, and
 * releases it at once).
 */
import type { Collection, UpdateFilter } from 'mongodb';
import { ROLLUP_RESOLUTIONS, type Resolution } from './resolutions.js';
import type { MetaDoc, Watermarks } from './watermarks.js';

/** The `kind` of a node's fence document (how readers find them among the `meta` documents). */
export const NODE_FENCE_KIND = 'node-fence';

export interface NodeFenceDoc extends MetaDoc {
  kind: typeof NODE_FENCE_KIND;
  node: string;
  term: number;
  held: boolean;
  marks?: Partial<Record<Resolution, number>>;
}

export function nodeFenceId(node: string): string {
  return `fence:${node}`;
}

/** A write of a node's holder whose term is older than the node's stored one. */
export class NodeStaleTermError extends Error {
  constructor(
    readonly node: string,
    readonly term: number,
    readonly current: number,
  ) {
    super(`node ${node}: term ${term} is over (the store has seen term ${current}); not writing`);
    this.name = 'NodeStaleTermError';
  }
}

/**
 * Takes the node: increments its term (atomically, so two claimers get different terms) and
 * marks it held. Returns the new term and the node's marks (what its buckets are closed up to).
 */
export async function claimNode(
  meta: Collection<MetaDoc>,
  node: string,
): Promise<{ term: number; marks: Watermarks }> {
  const update = { $inc: { term: 1 }, $set: { kind: NODE_FENCE_KIND, node, held: true } };
  const doc = (await meta.findOneAndUpdate(
    { _id: nodeFenceId(node) },
    update as unknown as UpdateFilter<MetaDoc>,
    {
      upsert: true,
      returnDocument: 'after',
      includeResultMetadata: false,
    },
  )) as NodeFenceDoc | null;
  if (!doc || typeof doc.term !== 'number') throw new Error(`node ${node}: the store returned no fence`);
  return { term: doc.term, marks: marksOf(doc) };
}

/** Throws NodeStaleTermError when the node's stored term is later than `term`. */
export async function checkNode(meta: Collection<MetaDoc>, node: string, term: number): Promise<void> {
  const doc = (await meta.findOne({ _id: nodeFenceId(node) })) as NodeFenceDoc | null;
  const current = typeof doc?.term === 'number' ? doc.term : -Infinity;
  if (current > term) throw new NodeStaleTermError(node, term, current);
}

/** Sets the node's marks (set, not raised: they are this holder's, by its clock), guarded by its term. */
export async function setNodeMarks(
  meta: Collection<MetaDoc>,
  node: string,
  term: number,
  marks: Watermarks,
): Promise<void> {
  const set: Record<string, number> = {};
  for (const resolution of ROLLUP_RESOLUTIONS) set[`marks.${resolution}`] = marks[resolution];
  await guardedUpdate(meta, node, term, set);
}

/** Marks the node not held (its holder wrote every open bucket), guarded by the holder's term. */
export async function releaseNode(meta: Collection<MetaDoc>, node: string, term: number): Promise<void> {
  await guardedUpdate(meta, node, term, { held: false });
}

async function guardedUpdate(
  meta: Collection<MetaDoc>,
  node: string,
  term: number,
  set: Record<string, unknown>,
): Promise<void> {
  const result = await meta.updateOne({ _id: nodeFenceId(node), term }, { $set: set });
  if (result.matchedCount === 0) {
    await checkNode(meta, node, term);
    throw new Error(`node ${node}: no fence of term ${term} to write to`);
  }
}

export async function readNodeFences(meta: Collection<MetaDoc>): Promise<NodeFenceDoc[]> {
  return (await meta
    .find({ kind: NODE_FENCE_KIND }, { projection: { kind: 1, node: 1, term: 1, held: 1, marks: 1 } })
    .toArray()) as NodeFenceDoc[];
}

export function marksOf(doc: Pick<NodeFenceDoc, 'marks'> | null): Watermarks {
  const marks = {} as Watermarks;
  for (const resolution of ROLLUP_RESOLUTIONS) {
    const value = doc?.marks?.[resolution];
    marks[resolution] = typeof value === 'number' ? value : -Infinity;
  }
  return marks;
}

/**
 * Each level's watermark for readers: buckets ending at or before it are written whole by every
 * writer. The single writer's own watermarks (`leader`, when it has written any) and, per level,
 * the lowest mark of the held nodes; when no node is held and there is no single writer, the
 * highest mark of the nodes (each wrote every bucket it had); -Infinity when nothing is known.
 */
export function levelWatermarks(leader: Watermarks | undefined, nodes: readonly NodeFenceDoc[]): Watermarks {
  const held = nodes.filter((n) => n.held);
  const result = {} as Watermarks;
  for (const resolution of ROLLUP_RESOLUTIONS) {
    const bounds: number[] = [];
    if (leader) bounds.push(leader[resolution]);
    if (held.length > 0) bounds.push(Math.min(...held.map((n) => marksOf(n)[resolution])));
    else if (!leader && nodes.length > 0) bounds.push(Math.max(...nodes.map((n) => marksOf(n)[resolution])));
    result[resolution] = bounds.length > 0 ? Math.min(...bounds) : -Infinity;
  }
  return result;
}
