import { describe, expect, it } from '@jest/globals';
import { labelKeyProblem, labelSelectorMatches, validateLabelSelector } from '../../../api/v1alpha1/index.js';

describe('labelSelectorMatches', () => {
  const labels = { app: 'web', tier: 'frontend', 'app.kubernetes.io/part-of': 'shop' };

  it.each([
    ['the empty selector', {}, true],
    ['matching labels', { matchLabels: { app: 'web', tier: 'frontend' } }, true],
    ['a different value', { matchLabels: { app: 'api' } }, false],
    ['a missing label', { matchLabels: { team: 'a' } }, false],
    [
      'In with the value',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend', 'frontend'] }] },
      true,
    ],
    [
      'In without the value',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend'] }] },
      false,
    ],
    ['In on a missing key', { matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }] }, false],
    [
      'NotIn with the value',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['frontend'] }] },
      false,
    ],
    [
      'NotIn on a missing key',
      { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a'] }] },
      true,
    ],
    ['Exists', { matchExpressions: [{ key: 'app.kubernetes.io/part-of', operator: 'Exists' }] }, true],
    ['Exists on a missing key', { matchExpressions: [{ key: 'team', operator: 'Exists' }] }, false],
    ['DoesNotExist', { matchExpressions: [{ key: 'job-name', operator: 'DoesNotExist' }] }, true],
    [
      'DoesNotExist on a present key',
      { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] },
      false,
    ],
    [
      'labels and expressions together',
      {
        matchLabels: { app: 'web' },
        matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['frontend'] }],
      },
      false,
    ],
  ] as const)('%s: %p', (_name, selector, expected) => {
    expect(labelSelectorMatches(structuredClone(selector) as never, labels)).toBe(expected);
  });

  it('treats a pod without labels as having none', () => {
    expect(labelSelectorMatches({}, undefined)).toBe(true);
    expect(
      labelSelectorMatches({ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, undefined),
    ).toBe(true);
    expect(labelSelectorMatches({ matchLabels: { a: 'b' } }, undefined)).toBe(false);
  });

  it('does not match inherited properties', () => {
    expect(labelSelectorMatches({ matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, {})).toBe(
      false,
    );
  });
});

describe('label keys', () => {
  it.each(['app', 'app.kubernetes.io/name', 'a_b-c.d', 'example.com/X'])('%p is valid', (key) => {
    expect(labelKeyProblem(key)).toBeUndefined();
  });

  it.each([
    ['a b', /the name must be/],
    ['-app', /the name must be/],
    ['Example.com/app', /the prefix must be a DNS subdomain/],
    ['/app', /the prefix must be/],
    ['a/', /the name must be/],
    ['x'.repeat(64), /the name must be 1-63/],
  ])('%p is invalid', (key, reason) => {
    expect(labelKeyProblem(key)).toMatch(reason);
  });

  it('names the field of each bad key and requirement', () => {
    expect(
      validateLabelSelector(
        {
          matchLabels: { 'bad key': 'x', good: 'y' },
          matchExpressions: [
            { key: 'ok', operator: 'Exists' },
            { key: 'no good', operator: 'In', values: [] },
          ],
        },
        'spec.selector',
      ),
    ).toEqual([
      { field: 'spec.selector.matchLabels', message: expect.stringContaining('"bad key"') },
      { field: 'spec.selector.matchExpressions[1].key', message: expect.stringContaining('"no good"') },
      {
        field: 'spec.selector.matchExpressions[1].values',
        message: expect.stringContaining('non-empty for In'),
      },
    ]);
  });
});
