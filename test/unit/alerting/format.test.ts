import { describe, expect, it } from '@jest/globals';
import { formatCpu, formatMemory, formatTime } from '../../../operator/alerting/format.js';

describe('format', () => {
  it.each([
    [910, '910m'],
    [1000, '1'],
    [2000, '2'],
    [1500, '1500m'],
    [800.4, '800m'],
    [2.54, '2.5m'],
    [0, '0'],
  ])('cpu %p millicores is %p', (millicores, text) => {
    expect(formatCpu(millicores)).toBe(text);
  });

  it.each([
    [512, '512'],
    [1024, '1Ki'],
    [100 * 2 ** 20, '100Mi'],
    [1.5 * 2 ** 30, '1.5Gi'],
    [0.8 * 2 ** 30, '819Mi'],
    [1.25 * 2 ** 30, '1.25Gi'],
    [12.34 * 2 ** 40, '12.3Ti'],
    [1000.7, '1001'],
  ])('memory %p bytes is %p', (bytes, text) => {
    expect(formatMemory(bytes)).toBe(text);
  });

  it('writes times in whole seconds as Kubernetes does', () => {
    expect(formatTime(Date.parse('2026-11-21T10:00:30.987Z'))).toBe('2026-11-21T10:00:30Z');
  });
});
