import { describe, expect, it } from '@jest/globals';
import {
  parseCpuMillicores,
  parseCpuNanocores,
  parseMemoryBytes,
  parsePercent,
  parseQuantity,
  QuantityError,
} from '../../../api/quantity.js';

// [input, CPU in nanocores, memory in bytes]: both conversions of every valid quantity.
const VALID: ReadonlyArray<[string | number, number, number]> = [
  ['0', 0, 0],
  ['1', 1_000_000_000, 1],
  ['250m', 250_000_000, 1],
  ['750m', 750_000_000, 1],
  ['1500m', 1_500_000_000, 2],
  ['0.5', 500_000_000, 1],
  ['.5', 500_000_000, 1],
  ['5.', 5_000_000_000, 5],
  ['+2', 2_000_000_000, 2],
  ['-1', -1_000_000_000, -1],
  ['9559630n', 9_559_630, 1],
  ['1n', 1, 1],
  ['0.5n', 1, 1],
  ['100u', 100_000, 1],
  ['0.1m', 100_000, 1],
  ['1k', 1_000_000_000_000, 1_000],
  ['1M', 1e15, 1_000_000],
  ['1G', Number.NaN, 1e9],
  ['1T', Number.NaN, 1e12],
  ['1P', Number.NaN, 1e15],
  ['1Ki', 1_024_000_000_000, 1_024],
  ['22244Ki', Number.NaN, 22_777_856],
  ['1Mi', 1_048_576_000_000_000, 1_048_576],
  ['100Mi', Number.NaN, 104_857_600],
  ['1Gi', Number.NaN, 1_073_741_824],
  ['1.5Gi', Number.NaN, 1_610_612_736],
  ['0.1Ki', 102_400_000_000, 103],
  ['1Ti', Number.NaN, 1_099_511_627_776],
  ['2Pi', Number.NaN, 2 * 2 ** 50],
  ['1e3', 1e12, 1_000],
  ['1E3', 1e12, 1_000],
  ['1e-3', 1_000_000, 1],
  ['1.5e+2', 150_000_000_000, 150],
  ['12e0', 12_000_000_000, 12],
  [2, 2_000_000_000, 2],
  [0.25, 250_000_000, 1],
  [1e21, Number.NaN, Number.NaN],
  ['0000123', 123_000_000_000, 123],
];

describe('parseQuantity', () => {
  it.each(VALID)('%p is %p nanocores and %p bytes', (input, nanocores, bytes) => {
    if (Number.isNaN(nanocores)) expect(() => parseCpuNanocores(input)).toThrow(/out of range/);
    else expect(parseCpuNanocores(input)).toBe(nanocores);
    if (Number.isNaN(bytes)) expect(() => parseMemoryBytes(input)).toThrow(/out of range/);
    else expect(parseMemoryBytes(input)).toBe(bytes);
  });

  it('reads 1E as exa, not as an exponent', () => {
    expect(parseQuantity('1E')).toEqual({ coefficient: 10n ** 18n, scale: 0 });
    expect(parseQuantity('1E2')).toEqual({ coefficient: 100n, scale: 0 });
  });

  it('keeps exact values beyond double precision', () => {
    expect(parseQuantity('7Ei')).toEqual({ coefficient: 7n * 2n ** 60n, scale: 0 });
    expect(parseQuantity('0.001')).toEqual(parseQuantity('1m'));
    expect(parseQuantity('123.456k')).toEqual({ coefficient: 123_456n, scale: 0 });
  });

  it('gives millicores exact to the nanocore', () => {
    expect(parseCpuMillicores('9559630n')).toBe(9.55963);
    expect(parseCpuMillicores('1')).toBe(1000);
    expect(parseCpuMillicores(1)).toBe(1000);
  });

  const INVALID: ReadonlyArray<[string | number, RegExp]> = [
    ['', /empty/],
    ['abc', /expected a number/],
    ['Gi', /expected a number/],
    ['.', /expected a number/],
    ['-', /expected a number/],
    ['1 Gi', /unknown suffix " Gi"/],
    [' 1', /expected a number/],
    ['1GB', /unknown suffix "GB"/],
    ['1KI', /unknown suffix "KI"/],
    ['1gi', /unknown suffix "gi"/],
    ['1e', /unknown suffix "e"/],
    ['1e1.5', /unknown suffix/],
    ['1.5.5', /unknown suffix "\.5"/],
    ['0x10', /unknown suffix "x10"/],
    ['80%', /unknown suffix "%"/],
    ['1,5', /unknown suffix ",5"/],
    ['1e1000', /unknown suffix/],
    ['9'.repeat(65), /longer than 64/],
    [Number.NaN, /not a finite number/],
    [Number.POSITIVE_INFINITY, /not a finite number/],
  ];

  it.each(INVALID)('rejects %p, naming the input', (input, reason) => {
    let error: unknown;
    try {
      parseQuantity(input);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(QuantityError);
    expect((error as QuantityError).message).toMatch(reason);
    expect((error as QuantityError).message).toContain(`invalid quantity ${JSON.stringify(String(input))}`);
  });
});

describe('parsePercent', () => {
  it.each([
    ['80%', 80],
    ['12.5%', 12.5],
    ['1000%', 1000],
    ['0%', 0],
  ])('%p is %p', (input, percent) => {
    expect(parsePercent(input)).toBe(percent);
  });

  it.each(['80', '%', '80.%', '-5%', '80 %', 'abc%'])('rejects %p', (input) => {
    expect(() => parsePercent(input)).toThrow(
      `invalid quantity ${JSON.stringify(input)}: expected a percent`,
    );
  });
});
