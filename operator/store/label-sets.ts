/**
 * Label sets: the labels a container's usage ran with are part of its history. A rollup bucket
 * holds one series under one label set, so a pod relabelled inside a bucket has one bucket per
 * label set there, each with the pieces of the spans read under it, and label groups add up
 * across windows. A set is named by a short digest of its pairs (in the bucket's `_id`), the
 * same whatever order the pairs come in.
 */
import { createHash } from 'node:crypto';
import type { LabelPair } from '../model.js';

/** The pairs as one string, sorted by key: equal for equal sets, different for different ones. */
export function labelSetKey(labels: readonly LabelPair[]): string {
  const pairs = labels.map((pair) => [pair.k, pair.v]);
  if (pairs.length > 1) pairs.sort(([a], [b]) => ((a as string) < (b as string) ? -1 : a === b ? 0 : 1));
  return JSON.stringify(pairs);
}

/** Ids of the label sets seen lately, by labelSetKey: a cluster has few sets, and ids are asked per series. */
const ids = new Map<string, string>();
const MAX_REMEMBERED = 10_000;

/** A short stable id of a label set (11 characters of a SHA-1 digest, 66 bits). */
export function labelSetId(labels: readonly LabelPair[]): string {
  const key = labelSetKey(labels);
  let id = ids.get(key);
  if (id === undefined) {
    id = createHash('sha1').update(key).digest('base64url').slice(0, 11);
    if (ids.size >= MAX_REMEMBERED) ids.clear();
    ids.set(key, id);
  }
  return id;
}
