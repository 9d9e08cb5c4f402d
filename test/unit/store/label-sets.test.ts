import { describe, expect, it } from '@jest/globals';
import { labelSetId, labelSetKey } from '../../../operator/store/label-sets.js';

describe('label sets', () => {
  it('names a set by its pairs, whatever their order, and tells sets apart', () => {
    const a = [
      { k: 'app', v: 'web' },
      { k: 'team', v: 'a' },
    ];
    const reordered = [a[1]!, a[0]!];
    expect(labelSetKey(reordered)).toBe(labelSetKey(a));
    expect(labelSetId(reordered)).toBe(labelSetId(a));
    expect(labelSetId(a)).toMatch(/^[A-Za-z0-9_-]{11}$/);
    const others = [
      [{ k: 'app', v: 'web' }],
      [
        { k: 'app', v: 'web' },
        { k: 'team', v: 'b' },
      ],
      [{ k: 'app', v: 'web\nteam=a' }],
      [],
    ];
    const all = new Set([labelSetId(a), ...others.map(labelSetId)]);
    expect(all.size).toBe(others.length + 1);
  });
});
