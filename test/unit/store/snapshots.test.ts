import { describe, expect, it } from '@jest/globals';
import { fromSnapshotDoc, invalidSampleField, toSnapshotDoc } from '../../../operator/store/snapshots.js';
import { sample, T0 } from './fixtures.js';

describe('snapshot documents', () => {
  it('have a deterministic id per container and time, and read back as the same sample', () => {
    const s = sample({ cpuRequestMillicores: 250, memoryPercentOfLimit: 42.5 });
    const doc = toSnapshotDoc(s);
    // One series per container, whichever policy read it.
    expect(doc._id).toBe(`shop|web-1|app|${T0}`);
    expect(doc.time).toEqual(new Date(T0));
    expect(doc).not.toHaveProperty('cpuLimitMillicores');
    // A sample of an older collector stands for its interval; the stored reading says so explicitly.
    expect(fromSnapshotDoc(doc)).toEqual({
      ...s,
      from: T0 - 30_000,
      cpuCoreSeconds: 3,
      memoryByteSeconds: 256 * 2 ** 20 * 30,
    });
  });

  it('key a sample with a pod UID by pod UID and container, and keep its span and counter base', () => {
    const s = sample({
      podUid: 'uid-1',
      from: T0 - 45_000,
      cpuCoreSeconds: 4.5,
      memoryByteSeconds: 1e9,
      cpuCoreSecondsTotal: 1234.5,
      containerStartTime: T0 - 3_600_000,
      retention: { rawMs: 3_600_000, hourlyMs: 86_400_000, dailyMs: 864_000_000 },
      containerType: 'init',
      // A span that merges readings, with what they billed.
      cpuCoreSecondsBilled: 6,
      memoryByteSecondsBilled: 2e9,
    });
    const doc = toSnapshotDoc(s, 7);
    expect(doc._id).toBe(`uid-1/app|${T0}`);
    expect(doc.series).toBe('uid-1/app');
    expect(doc.term).toBe(7);
    expect(doc.expireAt).toEqual(new Date(T0 + 3_600_000));
    expect(fromSnapshotDoc(doc)).toEqual(s);
  });

  it.each([
    [{ time: Number.NaN }, 'time: NaN is not a valid timestamp'],
    [{ intervalSeconds: 0 }, 'intervalSeconds: 0 is not a positive number'],
    [{ cpuMillicores: Number.POSITIVE_INFINITY }, 'cpuMillicores: Infinity is not a non-negative number'],
    [{ memoryBytes: -1 }, 'memoryBytes: -1 is not a non-negative number'],
    [{ cpuLimitMillicores: Number.NaN }, 'cpuLimitMillicores: NaN is not finite'],
    [{ from: T0 + 1 }, `from: ${T0 + 1} is not a timestamp at or before time ${T0}`],
    [{ cpuCoreSeconds: -1 }, 'cpuCoreSeconds: -1 is not a non-negative number'],
  ])('names the field a sample cannot be stored for (%o)', (overrides, problem) => {
    expect(invalidSampleField(sample(overrides))).toBe(problem);
  });

  it('accepts uptime-only samples', () => {
    expect(invalidSampleField(sample({ cpuMillicores: null, memoryBytes: null }))).toBeNull();
  });
});
