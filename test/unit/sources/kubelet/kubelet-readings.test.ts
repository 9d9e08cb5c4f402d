import { describe, expect, it } from '@jest/globals';
import { readingsOfNode } from '../../../../operator/sources/kubelet/kubelet-readings.js';
import { podLookup } from '../../../../operator/sources/pod-lookup.js';

const T = Date.UTC(2026, 11, 2, 1, 0, 15);
const pods = podLookup([
  { namespace: 'shop', name: 'web-1', uid: 'u1', node: 'n1' },
  { namespace: 'shop', name: 'web-2', uid: 'u2', node: 'n2' },
]);

describe('readingsOfNode', () => {
  it('keeps a Unix start time and drops one that is not (kwok writes the pod age)', () => {
    const { readings } = readingsOfNode(
      'n1',
      [
        {
          namespace: 'shop',
          pod: 'web-1',
          container: 'a',
          cpu: { coreSecondsTotal: 1, time: T },
          startTime: 1_764_600_000_250,
        },
        {
          namespace: 'shop',
          pod: 'web-1',
          container: 'b',
          cpu: { coreSecondsTotal: 1, time: T },
          startTime: 42_918.3,
        },
      ],
      pods,
    );
    expect(readings.map((r) => [r.container, r.startTime])).toEqual([
      ['a', 1_764_600_000_250],
      ['b', undefined],
    ]);
  });

  it('leaves out containers with neither CPU nor memory, unknown pods and pods the cache has elsewhere', () => {
    const result = readingsOfNode(
      'n1',
      [
        { namespace: 'shop', pod: 'web-1', container: 'only-start', startTime: 1_764_600_000_000 },
        { namespace: 'shop', pod: 'nope', container: 'a', memoryWorkingSet: { bytes: 1, time: T } },
        { namespace: 'shop', pod: 'web-2', container: 'a', memoryWorkingSet: { bytes: 1, time: T } },
        { namespace: 'shop', pod: 'web-1', container: 'a', memoryWorkingSet: { bytes: 7, time: T } },
      ],
      pods,
    );
    expect(result).toEqual({
      readings: [
        {
          namespace: 'shop',
          pod: 'web-1',
          podUid: 'u1',
          container: 'a',
          node: 'n1',
          memoryWorkingSetBytes: { value: 7, time: T },
        },
      ],
      unmatched: 2,
    });
  });
});
