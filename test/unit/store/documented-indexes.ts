/**
 * The indexes docs/storage.md says the store creates ("Indexes the store creates"), read from its
 * table, so that tests compare the store's layout with the page and the page cannot drift.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const STORAGE_DOC = fileURLToPath(new URL('../../../docs/storage.md', import.meta.url));
const SECTION = '## Indexes the store creates';

export interface DocumentedIndex {
  collection: string;
  /** The index's key as JSON, field order kept: `{"namespace":1,"pod":1,"time":-1}`. */
  key: string;
  /** What the page says it is used by (where it says "Not on a time-series collection"). */
  usedBy: string;
}

/** Every row of the table: one per collection and index (a row may name several collections). */
export function documentedIndexes(): DocumentedIndex[] {
  const text = readFileSync(STORAGE_DOC, 'utf8');
  const start = text.indexOf(SECTION);
  if (start < 0) throw new Error(`${STORAGE_DOC} has no section "${SECTION}"`);
  const end = text.indexOf('\n## ', start + SECTION.length);
  const rows = text
    .slice(start, end < 0 ? undefined : end)
    .split('\n')
    .filter((line) => line.startsWith('| `'));
  return rows.flatMap((row) => {
    const [collections, index, usedBy] = row
      .slice(1, -1)
      .split(' | ')
      .map((cell) => cell.trim());
    const key = /^`(\{.*\})`$/.exec(index ?? '')?.[1];
    if (collections === undefined || key === undefined || usedBy === undefined)
      throw new Error(`cannot read the index row: ${row}`);
    // `{ namespace: 1, time: -1 }` as JSON.
    const json = JSON.stringify(JSON.parse(key.replace(/([A-Za-z_]\w*):/g, '"$1":')));
    return [...collections.matchAll(/`([a-z_0-9]+)`/g)].map((m) => ({
      collection: m[1] as string,
      key: json,
      usedBy,
    }));
  });
}

/** The documented index keys of `collection`, sorted; without those not on a time-series collection when `timeSeries`. */
export function documentedKeys(collection: string, timeSeries = false): string[] {
  return documentedIndexes()
    .filter((i) => i.collection === collection)
    .filter((i) => !(timeSeries && /not on a time-series collection/i.test(i.usedBy)))
    .map((i) => i.key)
    .sort();
}
