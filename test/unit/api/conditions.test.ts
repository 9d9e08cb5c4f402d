import { describe, expect, it } from '@jest/globals';
import { findCondition, setCondition, type Condition } from '../../../api/v1alpha1/index.js';

const t0 = new Date('2026-11-21T10:00:00.123Z');
const t1 = new Date('2026-11-21T10:05:00Z');

describe('setCondition', () => {
  it('adds a condition the first time, with a second-precision transition time', () => {
    const conditions = setCondition(
      undefined,
      { type: 'Ready', status: 'Unknown', reason: 'Pending', message: '' },
      t0,
    );
    expect(conditions).toEqual([
      {
        type: 'Ready',
        status: 'Unknown',
        reason: 'Pending',
        message: '',
        lastTransitionTime: '2026-11-21T10:00:00Z',
      },
    ]);
  });

  it('keeps the transition time while the status stays, and moves it when the status changes', () => {
    const first = setCondition(
      [],
      { type: 'Ready', status: 'True', reason: 'Collecting', message: 'ok' },
      t0,
    );
    const same = setCondition(
      first,
      { type: 'Ready', status: 'True', reason: 'Collecting', message: 'ok' },
      t1,
    );
    expect(same).toEqual(first);
    const reworded = setCondition(
      first,
      { type: 'Ready', status: 'True', reason: 'Collecting', message: 'still' },
      t1,
    );
    expect(findCondition(reworded, 'Ready')).toMatchObject({
      message: 'still',
      lastTransitionTime: '2026-11-21T10:00:00Z',
    });
    const flipped = setCondition(
      first,
      { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'bad' },
      t1,
    );
    expect(findCondition(flipped, 'Ready')?.lastTransitionTime).toBe('2026-11-21T10:05:00Z');
  });

  it('replaces in place and leaves other conditions alone', () => {
    const start: Condition[] = [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Evaluating',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
      {
        type: 'Firing',
        status: 'False',
        reason: 'BelowThreshold',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ];
    const next = setCondition(
      start,
      { type: 'Firing', status: 'True', reason: 'CPUThresholdExceeded', message: 'x' },
      t1,
    );
    expect(next.map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=True', 'Firing=True']);
    expect(next[0]).toBe(start[0]);
    expect(start[1]?.status).toBe('False');
  });
});
