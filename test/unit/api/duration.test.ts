import { describe, expect, it } from '@jest/globals';
import { DURATION_PATTERN, DurationError, parseDuration } from '../../../api/duration.js';

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    ['1d12h', 129_600_000],
    ['1d2h3m4s', 93_784_000],
    ['90s', 90_000],
    ['0s', 0],
    ['9999d', 9999 * 86_400_000],
  ])('%p is %p ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', '30', '1.5h', '30m1h', '1h1h', '1w', '1y', '-5m', ' 5m', '5 m', '5M', '1ms', '10000d', 'd'])(
    'rejects %p with the expected format',
    (input) => {
      expect(() => parseDuration(input)).toThrow(DurationError);
      expect(() => parseDuration(input)).toThrow(
        `invalid duration ${JSON.stringify(input)}: use whole numbers with the units d, h, m and s, largest first`,
      );
    },
  );

  it('accepts exactly what the CRD pattern accepts (non-empty)', () => {
    const pattern = new RegExp(DURATION_PATTERN);
    for (const input of ['30s', '1d12h', '1h1h', '30m1h', '1.5h', '7d', '99999h']) {
      expect(pattern.test(input)).toBe(
        ((): boolean => {
          try {
            parseDuration(input);
            return true;
          } catch {
            return false;
          }
        })(),
      );
    }
  });
});
