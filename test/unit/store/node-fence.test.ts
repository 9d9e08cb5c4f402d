import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  levelWatermarks,
  NODE_FENCE_KIND,
  nodeFenceId,
  NodeStaleTermError,
  type NodeFenceDoc,
} from '../../../operator/store/node-fence.js';
import { ROLLUP_RESOLUTIONS, type Resolution } from '../../../operator/store/resolutions.js';
import type { Watermarks } from '../../../operator/store/watermarks.js';

const MINUTE = 60_000;

/** The same mark at every level (the levels' own values do not matter to the rule). */
function everyLevel(mark: number): Watermarks {
  return Object.fromEntries(ROLLUP_RESOLUTIONS.map((r) => [r, mark])) as Watermarks;
}

function fence(node: string, held: boolean, mark?: number): NodeFenceDoc {
  const doc: NodeFenceDoc = { _id: nodeFenceId(node), kind: NODE_FENCE_KIND, node, term: 1, held };
  if (mark !== undefined) doc.marks = everyLevel(mark);
  return doc;
}

describe('the level watermarks readers take buckets up to', () => {
  it('is the lowest mark of the held nodes: a node whose holder is behind holds every level back', () => {
    const marks = levelWatermarks(undefined, [
      fence('a', true, 10 * MINUTE),
      fence('b', true, 4 * MINUTE),
      fence('c', true, 7 * MINUTE),
    ]);
    expect(marks).toEqual(everyLevel(4 * MINUTE));
  });

  it('leaves out a released node (it wrote every bucket it had), however far behind its mark is', () => {
    const marks = levelWatermarks(undefined, [fence('a', true, 10 * MINUTE), fence('gone', false, MINUTE)]);
    expect(marks).toEqual(everyLevel(10 * MINUTE));
  });

  it('is unknown (-Infinity) while a held node has not set its marks yet: readers use the finer levels', () => {
    const marks = levelWatermarks(undefined, [fence('a', true, 10 * MINUTE), fence('new', true)]);
    expect(marks).toEqual(everyLevel(-Infinity));
  });

  it('is the highest mark when every node is released and no single writer wrote', () => {
    const marks = levelWatermarks(undefined, [fence('a', false, 3 * MINUTE), fence('b', false, 9 * MINUTE)]);
    expect(marks).toEqual(everyLevel(9 * MINUTE));
  });

  it("never passes the single writer's own watermarks", () => {
    expect(levelWatermarks(everyLevel(5 * MINUTE), [fence('a', true, 10 * MINUTE)])).toEqual(
      everyLevel(5 * MINUTE),
    );
    expect(levelWatermarks(everyLevel(5 * MINUTE), [fence('a', false, 10 * MINUTE)])).toEqual(
      everyLevel(5 * MINUTE),
    );
  });

  it('takes each level on its own', () => {
    const a = fence('a', true);
    a.marks = { '5m': 10 * MINUTE, '1h': 0, '1d': 0 };
    const b = fence('b', true);
    b.marks = { '5m': 5 * MINUTE, '1h': 60 * MINUTE, '1d': 0 };
    expect(levelWatermarks(undefined, [a, b])).toEqual({ '5m': 5 * MINUTE, '1h': 0, '1d': 0 });
  });

  it('is never past a bucket a held node may still hold open (property)', () => {
    const node = fc.record({
      held: fc.boolean(),
      mark: fc.option(
        fc.integer({ min: 0, max: 1000 }).map((m) => m * MINUTE),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(fc.array(node, { minLength: 1, maxLength: 8 }), (nodes) => {
        const docs = nodes.map((n, i) => fence(`n${i}`, n.held, n.mark));
        const marks = levelWatermarks(undefined, docs);
        for (const resolution of ROLLUP_RESOLUTIONS as readonly Resolution[]) {
          for (const n of nodes)
            if (n.held) expect(marks[resolution]).toBeLessThanOrEqual(n.mark ?? -Infinity);
          // Released nodes alone: as far as the furthest of them (each wrote all it had).
          if (nodes.every((n) => !n.held))
            expect(marks[resolution]).toBe(Math.max(...nodes.map((n) => n.mark ?? -Infinity)));
        }
      }),
    );
  });
});

describe('a refused write', () => {
  it('names the node and both terms', () => {
    const err = new NodeStaleTermError('node-a', 3, 4);
    expect(err.message).toBe('node node-a: term 3 is over (the store has seen term 4); not writing');
    expect([err.node, err.term, err.current]).toEqual(['node-a', 3, 4]);
  });
});
