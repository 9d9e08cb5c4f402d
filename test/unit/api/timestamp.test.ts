import { describe, expect, it } from '@jest/globals';
import { formatInstant, formatTimestamp } from '../../../api/timestamp.js';

describe('the RFC 3339 formatters', () => {
  const t = Date.parse('2026-11-21T10:00:30.987Z');

  it('formatTimestamp writes whole seconds in UTC, truncating, as Kubernetes does', () => {
    expect(formatTimestamp(t)).toBe('2026-11-21T10:00:30Z');
    expect(formatTimestamp(new Date(t))).toBe('2026-11-21T10:00:30Z');
  });

  it('formatInstant keeps the milliseconds (sample times in the HTTP API, Alertmanager endsAt)', () => {
    expect(formatInstant(t)).toBe('2026-11-21T10:00:30.987Z');
    expect(formatInstant(Date.parse('2026-01-02T03:04:05Z'))).toBe('2026-01-02T03:04:05.000Z');
    expect(Date.parse(formatInstant(t))).toBe(t);
  });
});
