import { describe, expect, it } from '@jest/globals';
import {
  chargebackRows,
  coverageOf,
  CSV_COLUMNS,
  DEFAULT_PRICES,
  parseCsv,
  sortRows,
  toCsv,
  totals,
  type ChargebackItem,
} from '../../../ui/src/chargeback.js';

const item = (
  group: string,
  cpu: number,
  cpuBilled: number,
  mem: number,
  memBilled: number,
  extra = {},
): ChargebackItem => ({
  group,
  cpuCoreHours: cpu,
  cpuCoreHoursBilled: cpuBilled,
  memoryGiBHours: mem,
  memoryGiBHoursBilled: memBilled,
  containers: 1,
  ...extra,
});

describe('chargeback rows', () => {
  it('prices the billed core-hours and GiB-hours at OpenCost on-prem defaults', () => {
    const [row] = chargebackRows([item('shop', 1, 10, 2, 100)], DEFAULT_PRICES);
    expect(row!.cpuCost).toBeCloseTo(10 * 0.031611, 12);
    expect(row!.memoryCost).toBeCloseTo(100 * 0.004237, 12);
    expect(row!.cost).toBeCloseTo(0.31611 + 0.4237, 12);
  });

  it('sums every column into the totals', () => {
    const rows = chargebackRows([item('a', 1, 2, 3, 4), item('b', 10, 20, 30, 40)], {
      cpuCoreHour: 1,
      memoryGiBHour: 0.5,
      currency: '€',
    });
    expect(totals(rows)).toEqual({
      cpuCoreHours: 11,
      cpuCoreHoursBilled: 22,
      memoryGiBHours: 33,
      memoryGiBHoursBilled: 44,
      cpuCost: 22,
      memoryCost: 22,
      cost: 44,
    });
  });

  it('reads coverage as a fraction or from an object, and ignores what it cannot read', () => {
    expect(coverageOf({ coverage: 0.75 })).toBe(0.75);
    expect(coverageOf({ coverage: { fraction: 0.5 } })).toBe(0.5);
    expect(coverageOf({ coverage: { ratio: 1 } })).toBe(1);
    expect(coverageOf({})).toBeUndefined();
    expect(coverageOf({ coverage: 'full' })).toBeUndefined();
    expect(coverageOf({ coverage: 7 })).toBeUndefined();
  });
});

describe('sorting', () => {
  const rows = chargebackRows(
    [item('b', 1, 1, 1, 1, { coverage: 0.5 }), item('a', 3, 3, 3, 3), item('c', 2, 2, 2, 2, { coverage: 1 })],
    DEFAULT_PRICES,
  );

  it('sorts numbers both ways and names alphabetically', () => {
    expect(sortRows(rows, 'cost', 'descending').map((r) => r.group)).toEqual(['a', 'c', 'b']);
    expect(sortRows(rows, 'cpuCoreHours', 'ascending').map((r) => r.group)).toEqual(['b', 'c', 'a']);
    expect(sortRows(rows, 'group', 'ascending').map((r) => r.group)).toEqual(['a', 'b', 'c']);
  });

  it('puts rows without a value last in either direction', () => {
    expect(sortRows(rows, 'coverageFraction', 'descending').map((r) => r.group)).toEqual(['c', 'b', 'a']);
    expect(sortRows(rows, 'coverageFraction', 'ascending').map((r) => r.group)).toEqual(['b', 'c', 'a']);
  });
});

describe('CSV export', () => {
  const meta = {
    from: '2026-11-21T00:00:00.000Z',
    to: '2026-11-22T00:00:00.000Z',
    groupBy: 'label:team',
    prices: DEFAULT_PRICES,
  };

  it('writes a header and one row per group with full-precision numbers', () => {
    const rows = chargebackRows([item('shop', 0.1 + 0.2, 1 / 3, 2, 4)], DEFAULT_PRICES);
    const parsed = parseCsv(toCsv(rows, meta));
    expect(parsed[0]).toEqual([...CSV_COLUMNS]);
    const record = Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, parsed[1]![i]]));
    expect(Number(record.cpuCoreHours)).toBe(0.1 + 0.2);
    expect(Number(record.cpuCoreHoursBilled)).toBe(1 / 3);
    expect(Number(record.cost)).toBe(rows[0]!.cost);
    expect(record.coverage).toBe('');
    expect(record.from).toBe(meta.from);
    expect(parsed).toHaveLength(2);
  });

  it('quotes commas, quotes and newlines, and defuses cells a spreadsheet would run as formulas', () => {
    const rows = chargebackRows(
      [item('a,"b"\nc', 1, 1, 1, 1), item('=HYPERLINK("x")', 1, 1, 1, 1)],
      DEFAULT_PRICES,
    );
    const text = toCsv(rows, meta);
    const parsed = parseCsv(text);
    expect(parsed[1]![3]).toBe('a,"b"\nc');
    expect(parsed[2]![3]).toBe(`'=HYPERLINK("x")`);
    expect(text.endsWith('\r\n')).toBe(true);
  });
});
