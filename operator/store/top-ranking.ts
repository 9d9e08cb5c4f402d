/**
 * The order of `top`: by usage over the window (core-hours or GiB-hours), the largest first, so a
 * container that ran the whole window at 2 cores ranks above one that ran 10 minutes at 8. Ties
 * go to the higher average over the measured time, then the higher peak, then by name. Pure.
 */
import type { TopEntry } from './types.js';

export function compareTop(a: TopEntry, b: TopEntry): number {
  const name = (e: TopEntry) => `${e.namespace}/${e.pod}/${e.container}`;
  return b.usage - a.usage || b.avg - a.avg || b.max - a.max || name(a).localeCompare(name(b));
}
