import { describe, expect, it } from '@jest/globals';
import { fromLocalInput, resolveWindow, toLocalInput } from '../../../ui/src/windows.js';

describe('window presets', () => {
  const now = new Date(2026, 10, 21, 15, 30, 45);

  it('counts 1h, 24h, 7d and 30d back from now', () => {
    for (const [preset, hours] of [
      ['1h', 1],
      ['24h', 24],
      ['7d', 168],
      ['30d', 720],
    ] as const) {
      const range = resolveWindow(preset, now);
      expect(range).toEqual({ from: new Date(now.getTime() - hours * 3_600_000), to: now });
    }
  });

  it('starts today at local midnight, and never gives an empty range', () => {
    expect(resolveWindow('today', now)).toEqual({ from: new Date(2026, 10, 21), to: now });
    const midnight = new Date(2026, 10, 21);
    const range = resolveWindow('today', midnight);
    expect('error' in range).toBe(false);
    if (!('error' in range)) expect(range.to.getTime()).toBeGreaterThan(range.from.getTime());
  });

  it('takes a custom range only with both ends in order, and says what is wrong otherwise', () => {
    const from = new Date(2026, 10, 20);
    expect(resolveWindow('custom', now, { from, to: now })).toEqual({ from, to: now });
    expect(resolveWindow('custom', now, { from })).toEqual({ error: expect.stringContaining('both') });
    expect(resolveWindow('custom', now, { from: now, to: from })).toEqual({
      error: expect.stringContaining('before'),
    });
  });

  it('round-trips datetime-local values to the second', () => {
    expect(toLocalInput(now)).toBe('2026-11-21T15:30:45');
    expect(fromLocalInput(toLocalInput(now))).toEqual(now);
    expect(fromLocalInput('')).toBeUndefined();
    expect(fromLocalInput('not a date')).toBeUndefined();
  });
});
