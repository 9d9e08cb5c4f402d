/**
 * Chargeback arithmetic and CSV: cost at configurable prices from the API's billed figures
 * (max(request, usage), the OpenCost rule), sorting, and an RFC 4180 export. Pure functions.
 */

import type { SummaryItem } from '../../api/http/v1.js';

/**
 * One group of `GET /api/v1/usage/summary`: the fields the chargeback reads, as the API types
 * them, and a coverage of the group's own where an item carries one. Rows keep every field of
 * the item as it comes.
 */
export type ChargebackItem = Pick<
  SummaryItem,
  'group' | 'cpuCoreHours' | 'cpuCoreHoursBilled' | 'memoryGiBHours' | 'memoryGiBHoursBilled' | 'containers'
> & { coverage?: unknown };

export interface Prices {
  /** Per core-hour. */
  cpuCoreHour: number;
  /** Per GiB-hour. */
  memoryGiBHour: number;
  currency: string;
}

/** OpenCost's default on-premises prices. */
export const DEFAULT_PRICES: Prices = { cpuCoreHour: 0.031611, memoryGiBHour: 0.004237, currency: '$' };

export type ChargebackRow = ChargebackItem & {
  cpuCost: number;
  memoryCost: number;
  cost: number;
  /** The share of the window the figures cover, 0..1, when the API reports it. */
  coverageFraction: number | undefined;
};

export function chargebackRows(items: ChargebackItem[], prices: Prices): ChargebackRow[] {
  return items.map((item) => {
    const cpuCost = item.cpuCoreHoursBilled * prices.cpuCoreHour;
    const memoryCost = item.memoryGiBHoursBilled * prices.memoryGiBHour;
    return { ...item, cpuCost, memoryCost, cost: cpuCost + memoryCost, coverageFraction: coverageOf(item) };
  });
}

/**
 * The coverage of a group as a fraction: a number 0..1, or an object with a `fraction` or
 * `ratio` (the exact-accounting API reports it); undefined when the API does not say.
 */
export function coverageOf(item: { coverage?: unknown }): number | undefined {
  const c = item.coverage;
  const value =
    typeof c === 'number'
      ? c
      : typeof c === 'object' && c !== null
        ? ((c as Record<string, unknown>).fraction ?? (c as Record<string, unknown>).ratio)
        : undefined;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 1 ? value : undefined;
}

export interface Totals {
  cpuCoreHours: number;
  cpuCoreHoursBilled: number;
  memoryGiBHours: number;
  memoryGiBHoursBilled: number;
  cpuCost: number;
  memoryCost: number;
  cost: number;
}

export function totals(rows: ChargebackRow[]): Totals {
  const sum = (pick: (r: ChargebackRow) => number) => rows.reduce((acc, r) => acc + pick(r), 0);
  return {
    cpuCoreHours: sum((r) => r.cpuCoreHours),
    cpuCoreHoursBilled: sum((r) => r.cpuCoreHoursBilled),
    memoryGiBHours: sum((r) => r.memoryGiBHours),
    memoryGiBHoursBilled: sum((r) => r.memoryGiBHoursBilled),
    cpuCost: sum((r) => r.cpuCost),
    memoryCost: sum((r) => r.memoryCost),
    cost: sum((r) => r.cost),
  };
}

export type SortKey =
  | 'group'
  | 'cpuCoreHours'
  | 'cpuCoreHoursBilled'
  | 'memoryGiBHours'
  | 'memoryGiBHoursBilled'
  | 'cost'
  | 'coverageFraction';
export type SortDirection = 'ascending' | 'descending';

/** A stable sort; groups tie-break by name, and rows without a value go last either way. */
export function sortRows(rows: ChargebackRow[], key: SortKey, direction: SortDirection): ChargebackRow[] {
  const sign = direction === 'ascending' ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === undefined || y === undefined) {
      if (x === y) return a.group.localeCompare(b.group);
      return x === undefined ? 1 : -1;
    }
    const order = typeof x === 'string' ? x.localeCompare(String(y)) : (x as number) - (y as number);
    return order === 0 ? a.group.localeCompare(b.group) : sign * order;
  });
}

export const CSV_COLUMNS = [
  'from',
  'to',
  'groupBy',
  'group',
  'cpuCoreHours',
  'cpuCoreHoursBilled',
  'memoryGiBHours',
  'memoryGiBHoursBilled',
  'pricePerCoreHour',
  'pricePerGiBHour',
  'cpuCost',
  'memoryCost',
  'cost',
  'coverage',
  'containers',
] as const;

/**
 * The chargeback as CSV (RFC 4180, CRLF line ends), one row per group with the window and
 * prices on every row so that files from several windows concatenate. Numbers keep the API's
 * full precision; a cell starting with = + - @ is prefixed with ' so spreadsheets do not run it.
 */
export function toCsv(
  rows: ChargebackRow[],
  meta: { from: string; to: string; groupBy: string; prices: Prices },
): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const cells: (string | number)[] = [
      meta.from,
      meta.to,
      meta.groupBy,
      r.group,
      r.cpuCoreHours,
      r.cpuCoreHoursBilled,
      r.memoryGiBHours,
      r.memoryGiBHoursBilled,
      meta.prices.cpuCoreHour,
      meta.prices.memoryGiBHour,
      r.cpuCost,
      r.memoryCost,
      r.cost,
      r.coverageFraction ?? '',
      r.containers,
    ];
    lines.push(cells.map(csvCell).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

function csvCell(value: string | number): string {
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Parses what toCsv wrote (for checks and re-import); quoted cells may hold commas and newlines. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell !== '' || row.length) rows.push([...row, cell]);
  return rows;
}
