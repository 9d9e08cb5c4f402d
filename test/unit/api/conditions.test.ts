import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONDITIONS, findCondition, setCondition, type Condition } from '../../../api/v1alpha1/index.js';

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

/** Every file of the directories under the repository root, recursively, that ends in `.ts`. */
function sourceFiles(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(root, path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The condition reasons a source file writes or compares: the catalogue's constants
 * (`Reason.PolicyNotFound`) and reasons spelled as strings (`reason: 'PolicyNotFound'`,
 * `reason === 'PolicyNotFound'`). Reasons are UpperCamelCase, as the API conventions ask, so
 * other `reason` fields (a kubelet read's 'timeout', 'DNS') are not taken for them.
 */
function reasonsWritten(text: string): string[] {
  const patterns = [/\bReason\.([A-Za-z]\w*)/g, /\breason\s*(?::|===?|!==?)\s*'([A-Z][a-z]\w*)'/g];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((m) => m[1]!));
}

describe('the reason catalogue', () => {
  const root = join(import.meta.dirname, '..', '..', '..');
  const catalogue = new Set(
    Object.values(CONDITIONS).flatMap((types) =>
      Object.values(types).flatMap((reasons) => Object.keys(reasons)),
    ),
  );
  const written = new Map<string, string[]>();
  for (const file of ['operator', 'controllers', 'cmd'].flatMap((dir) => sourceFiles(root, dir)))
    for (const reason of reasonsWritten(readFileSync(join(root, file), 'utf8')))
      written.set(reason, [...(written.get(reason) ?? []), file]);

  it('finds the reasons in constants and in strings, and not other reason fields', () => {
    expect(
      reasonsWritten(
        "{ reason: Reason.PolicyNotFound }; { reason: 'NodesUnreadable' }; ready.reason === 'Collecting'; { reason: 'timeout' }; { reason: 'DNS' }",
      ),
    ).toEqual(['PolicyNotFound', 'NodesUnreadable', 'Collecting']);
    expect(written.size).toBeGreaterThan(20);
  });

  it('holds every reason the operator writes', () => {
    const missing = [...written].filter(([reason]) => !catalogue.has(reason));
    expect(missing).toEqual([]);
  });

  it('has no reason the operator never writes', () => {
    expect([...catalogue].filter((reason) => !written.has(reason))).toEqual([]);
  });
});
