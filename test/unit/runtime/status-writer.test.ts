import { describe, expect, it } from '@jest/globals';
import { StatusWriter, mergePatch, type StatusPatcher } from '../../../operator/runtime/status-writer.js';
import { FakeTimers } from './fake-timers.js';

class RecordingPatcher implements StatusPatcher {
  patches: Array<{ namespace: string; name: string; patch: Record<string, unknown> }> = [];
  conflict = false;
  async patchStatus(namespace: string, name: string, patch: Record<string, unknown>): Promise<void> {
    if (this.conflict) throw Object.assign(new Error('the object has been modified'), { code: 409 });
    this.patches.push({ namespace, name, patch });
  }
}

const earlier = '2026-11-20T08:00:00Z';

function setup() {
  const clock = new FakeTimers(Date.parse('2026-11-21T10:00:30.250Z'));
  const patcher = new RecordingPatcher();
  return { patcher, writer: new StatusWriter(patcher, { clock }) };
}

const observed = {
  metadata: { namespace: 'shop', name: 'web', resourceVersion: '41' },
  status: {
    observedGeneration: 2,
    matchedPods: 14,
    conditions: [
      { type: 'Ready', status: 'True', reason: 'Collecting', message: '', lastTransitionTime: earlier },
    ],
  },
};

const ready = { type: 'Ready', status: 'True', reason: 'Collecting', message: '' } as const;

describe('StatusWriter', () => {
  it('writes nothing when the status is unchanged, whatever the time', async () => {
    const { writer, patcher } = setup();
    const written = await writer.write(observed, {
      observedGeneration: 2,
      matchedPods: 14,
      conditions: [ready],
    });
    expect(written).toBe(false);
    expect(patcher.patches).toEqual([]);
  });

  it('patches only what changed, with the observed resourceVersion, keeping an unchanged condition’s time', async () => {
    const { writer, patcher } = setup();
    const written = await writer.write(observed, {
      observedGeneration: 2,
      matchedPods: 15,
      conditions: [{ ...ready, message: 'collecting 15 pods' }],
    });
    expect(written).toBe(true);
    expect(patcher.patches).toEqual([
      {
        namespace: 'shop',
        name: 'web',
        patch: {
          metadata: { resourceVersion: '41' },
          status: {
            matchedPods: 15,
            conditions: [{ ...ready, message: 'collecting 15 pods', lastTransitionTime: earlier }],
          },
        },
      },
    ]);
  });

  it('moves lastTransitionTime to now when a condition’s status changes or it is new', async () => {
    const { writer, patcher } = setup();
    await writer.write(observed, {
      observedGeneration: 2,
      matchedPods: 14,
      conditions: [
        { type: 'Ready', status: 'False', reason: 'CrossNamespaceDenied', message: 'denied' },
        { type: 'Degraded', status: 'Unknown', reason: 'Starting', message: '' },
      ],
    });
    const status = patcher.patches[0]!.patch.status as { conditions: Array<{ lastTransitionTime: string }> };
    expect(status.conditions.map((c) => c.lastTransitionTime)).toEqual([
      '2026-11-21T10:00:30Z',
      '2026-11-21T10:00:30Z',
    ]);
  });

  it('removes fields that the desired status no longer has', async () => {
    const { writer, patcher } = setup();
    await writer.write(observed, { observedGeneration: 2, conditions: [ready] });
    expect(patcher.patches[0]!.patch.status).toEqual({ matchedPods: null });
  });

  it('writes the whole status of an object that has none yet', async () => {
    const { writer, patcher } = setup();
    await writer.write(
      { metadata: { namespace: 'shop', name: 'new' } },
      { observedGeneration: 1, conditions: [ready] },
    );
    expect(patcher.patches[0]!.patch).toEqual({
      status: {
        observedGeneration: 1,
        conditions: [{ ...ready, lastTransitionTime: '2026-11-21T10:00:30Z' }],
      },
    });
  });

  it('does not write once the caller has stopped leading', async () => {
    const { writer, patcher } = setup();
    const stopped = new AbortController();
    stopped.abort();
    expect(await writer.write(observed, { matchedPods: 99 }, stopped.signal)).toBe(false);
    expect(patcher.patches).toEqual([]);
  });

  it('passes a conflict on, so that the key is requeued', async () => {
    const { writer, patcher } = setup();
    patcher.conflict = true;
    await expect(writer.write(observed, { matchedPods: 1 })).rejects.toMatchObject({ code: 409 });
  });
});

describe('mergePatch', () => {
  it('is undefined for equal documents', () => {
    expect(
      mergePatch({ a: [1, { b: 2 }], c: { d: null } }, { c: { d: null }, a: [1, { b: 2 }] }),
    ).toBeUndefined();
  });

  it('replaces lists whole and recurses into objects', () => {
    expect(
      mergePatch(
        { list: [1, 2], nested: { keep: 1, change: 1, drop: 1 } },
        { list: [1], nested: { keep: 1, change: 2 } },
      ),
    ).toEqual({
      list: [1],
      nested: { change: 2, drop: null },
    });
  });
});

describe('StatusWriter with owned condition types', () => {
  const foreign = {
    type: 'example.com/Audited',
    status: 'True',
    reason: 'Checked',
    message: 'by another tool',
    lastTransitionTime: earlier,
  };
  const withForeign = {
    ...observed,
    status: {
      ...observed.status,
      conditions: [foreign, ...observed.status.conditions, { ...ready, type: 'Degraded', status: 'False' }],
    },
  };

  it('keeps conditions of types it does not own, in place, and writes nothing when ours are unchanged', async () => {
    const patcher = new RecordingPatcher();
    const writer = new StatusWriter(patcher, { ownedConditionTypes: ['Ready', 'Degraded'] });
    const unchanged = await writer.write(withForeign, {
      observedGeneration: 2,
      matchedPods: 14,
      conditions: [ready, { ...ready, type: 'Degraded', status: 'False' }],
    });
    expect(unchanged).toBe(false);

    await writer.write(withForeign, {
      observedGeneration: 2,
      matchedPods: 14,
      conditions: [{ ...ready, message: 'now with a message' }],
    });
    const status = patcher.patches[0]!.patch.status as { conditions: { type: string; message: string }[] };
    // Ours changed (Ready) or went away (Degraded); the foreign condition is still first.
    expect(status.conditions.map((c) => c.type)).toEqual(['example.com/Audited', 'Ready']);
    expect(status.conditions[0]).toEqual(foreign);
    expect(patcher.patches[0]!.patch.metadata).toEqual({ resourceVersion: '41' });
  });
});
