import { describe, expect, it } from '@jest/globals';
import { fromSnapshotDoc, invalidSampleField, toSnapshotDoc } from '../../../operator/store/snapshots.js';
import { sample, T0 } from './fixtures.js';

describe('snapshot documents', () => {
  it('have a deterministic id per container and time, and read back as the same sample', () => {
    const s = sample({ cpuRequestMillicores: 250, memoryPercentOfLimit: 42.5 });
    const doc = toSnapshotDoc(s);
    expect(doc._id).toBe(`shop/web|shop|web-1|app|${T0}`);
    expect(doc.time).toEqual(new Date(T0));
    expect(doc).not.toHaveProperty('cpuLimitMillicores');
    expect(fromSnapshotDoc(doc)).toEqual(s);
  });

  it.each([
    [{ time: Number.NaN }, 'time: NaN is not a valid timestamp'],
    [{ intervalSeconds: 0 }, 'intervalSeconds: 0 is not a positive number'],
    [{ cpuMillicores: Number.POSITIVE_INFINITY }, 'cpuMillicores: Infinity is not a non-negative number'],
    [{ memoryBytes: -1 }, 'memoryBytes: -1 is not a non-negative number'],
    [{ cpuLimitMillicores: Number.NaN }, 'cpuLimitMillicores: NaN is not finite'],
  ])('names the field a sample cannot be stored for (%o)', (overrides, problem) => {
    expect(invalidSampleField(sample(overrides))).toBe(problem);
  });

  it('accepts uptime-only samples', () => {
    expect(invalidSampleField(sample({ cpuMillicores: null, memoryBytes: null }))).toBeNull();
  });
});
