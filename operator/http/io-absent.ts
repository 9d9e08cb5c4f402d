/**
 * Which I/O fields of a history, top or summary answer are absent and why: the store
 * has network and block I/O only for containers a node agent reports (docs/node-agent.md).
 */
import { IO_ABSENT_REASON } from '../store/io-counters.js';
import type { AbsentField } from '../../api/http/v1.js';

/** One entry per item (named by `name`) without I/O. */
export function ioAbsent<T extends { io?: unknown }>(
  items: readonly T[],
  field: (item: T) => string,
): AbsentField[] {
  return items
    .filter((item) => item.io === null || item.io === undefined)
    .map((item) => ({ field: field(item), reason: IO_ABSENT_REASON }));
}
