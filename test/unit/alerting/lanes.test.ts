/**
 * A lane of deliveries: which ready streams it starts, in which order, within its limits.
 */
import { describe, expect, it } from '@jest/globals';
import { Lane } from '../../../operator/alerting/notifiers/lanes.js';

interface S {
  namespace: string;
  id: string;
}
const s = (namespace: string, id: string): S => ({ namespace, id });

/** Starts what the lane lets start, counting each in flight; returns their ids. */
function startAll(lane: Lane<S>): string[] {
  const started: string[] = [];
  lane.startReady((stream) => {
    lane.flight(stream.namespace, 1);
    started.push(stream.id);
  });
  return started;
}

describe('delivery lane', () => {
  it('serves namespaces round-robin within the lane limit, a served namespace going to the back', () => {
    const lane = new Lane<S>('local', { concurrency: 3 });
    for (const id of ['a1', 'a2', 'a3', 'a4']) lane.push(s('a', id));
    lane.push(s('b', 'b1'));
    lane.push(s('c', 'c1'));
    expect(startAll(lane)).toEqual(['a1', 'b1', 'c1']);
    lane.flight('b', -1);
    lane.flight('c', -1);
    // a is next in turn (b and c have nothing left).
    expect(startAll(lane)).toEqual(['a2', 'a3']);
  });

  it('skips a namespace at its own limit (it keeps its turn) and starts the others', () => {
    const lane = new Lane<S>('http', { concurrency: 10, concurrencyPerNamespace: 2 });
    for (const id of ['a1', 'a2', 'a3', 'a4']) lane.push(s('a', id));
    for (const id of ['b1', 'b2']) lane.push(s('b', id));
    expect(startAll(lane)).toEqual(['a1', 'b1', 'a2', 'b2']);
    // a has 2 in flight: nothing of a starts until one is done.
    expect(startAll(lane)).toEqual([]);
    lane.flight('a', -1);
    expect(startAll(lane)).toEqual(['a3']);
  });

  it('gives the next turn to another namespace when one delivery at a time is allowed', () => {
    const lane = new Lane<S>('http', { concurrency: 1 });
    for (const id of ['a1', 'a2', 'a3']) lane.push(s('a', id));
    for (const id of ['b1', 'b2']) lane.push(s('b', id));
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      const started = startAll(lane);
      expect(started).toHaveLength(1);
      order.push(...started);
      lane.flight(started[0]!.slice(0, 1), -1);
    }
    expect(order).toEqual(['a1', 'b1', 'a2', 'b2', 'a3']);
  });

  it('starts nothing once cleared', () => {
    const lane = new Lane<S>('http', { concurrency: 2 });
    lane.push(s('a', 'a1'));
    lane.clear();
    expect(startAll(lane)).toEqual([]);
  });
});
