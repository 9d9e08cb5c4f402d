import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../operator/logging.js';
import { EventRecorder, type EventRecord, type EventSink } from '../../../operator/runtime/event-recorder.js';
import { FakeTimers } from './fake-timers.js';

/** Events as the apiserver would hold them, by name. */
class MemorySink implements EventSink {
  readonly events = new Map<string, EventRecord>();
  calls = 0;
  failing = false;
  async create(event: EventRecord): Promise<void> {
    this.calls++;
    if (this.failing) throw new Error('apiserver unavailable');
    this.events.set(event.name, event);
  }
  async updateSeries(event: EventRecord): Promise<void> {
    this.calls++;
    if (!this.events.has(event.name)) throw Object.assign(new Error('not found'), { code: 404 });
    this.events.set(event.name, event);
  }
}

const alert = {
  apiVersion: 'usage.kubeusage.dev/v1alpha1',
  kind: 'ResourceAlert',
  namespace: 'shop',
  name: 'web-hot',
  uid: 'u1',
};
const other = { ...alert, name: 'api-hot', uid: 'u2' };

function setup(options: { burst?: number; refillIntervalMs?: number } = {}) {
  const clock = new FakeTimers();
  const sink = new MemorySink();
  const recorder = new EventRecorder({
    sink,
    component: 'kube-usage-operator',
    instance: 'op-0',
    logger: silentLogger(),
    clock,
    ...options,
  });
  return { clock, sink, recorder };
}

describe('EventRecorder', () => {
  it('creates an Event with the object, reason, message and reporter', async () => {
    const { sink, recorder, clock } = setup();
    await recorder.record(alert, 'Warning', 'Firing', 'cpu 910m > 800m');
    expect([...sink.events.values()]).toEqual([
      expect.objectContaining({
        involvedObject: alert,
        type: 'Warning',
        reason: 'Firing',
        message: 'cpu 910m > 800m',
        count: 1,
        firstTimestampMs: clock.now(),
        component: 'kube-usage-operator',
        instance: 'op-0',
      }),
    ]);
  });

  it('counts a repeat on the existing Event instead of creating another', async () => {
    const { sink, recorder, clock } = setup();
    const first = clock.now();
    void recorder.record(alert, 'Warning', 'Firing', 'cpu high');
    void recorder.record(alert, 'Warning', 'Firing', 'cpu high'); // while the create is in flight
    await clock.advance(60_000);
    await recorder.record(alert, 'Warning', 'Firing', 'cpu high');
    expect(sink.events.size).toBe(1);
    expect([...sink.events.values()][0]).toMatchObject({
      count: 3,
      firstTimestampMs: first,
      lastTimestampMs: first + 60_000,
    });
  });

  it('keeps different reasons, messages, types and objects apart', async () => {
    const { sink, recorder } = setup();
    await recorder.record(alert, 'Warning', 'Firing', 'cpu high');
    await recorder.record(alert, 'Normal', 'Resolved', 'cpu back to normal');
    await recorder.record(alert, 'Warning', 'Firing', 'memory high');
    await recorder.record(other, 'Warning', 'Firing', 'cpu high');
    expect(sink.events.size).toBe(4);
    expect(new Set([...sink.events.keys()]).size).toBe(4);
  });

  it('starts a new Event when the old one expired on the server', async () => {
    const { sink, recorder } = setup();
    await recorder.record(alert, 'Warning', 'Firing', 'cpu high');
    sink.events.clear();
    await recorder.record(alert, 'Warning', 'Firing', 'cpu high');
    expect([...sink.events.values()]).toEqual([expect.objectContaining({ count: 1 })]);
  });

  it('drops events beyond the burst per object, and allows more as tokens refill', async () => {
    const { sink, recorder, clock } = setup({ burst: 3, refillIntervalMs: 60_000 });
    for (let i = 0; i < 5; i++) await recorder.record(alert, 'Normal', 'Transition', `step ${i}`);
    await recorder.record(other, 'Normal', 'Transition', 'unaffected');
    expect(sink.calls).toBe(4);

    await clock.advance(60_000);
    await recorder.record(alert, 'Normal', 'Transition', 'after refill');
    await recorder.record(alert, 'Normal', 'Transition', 'still throttled');
    expect(sink.calls).toBe(5);
    expect([...sink.events.values()].map((e) => e.message)).toContain('after refill');
  });

  it('never rejects when the apiserver fails', async () => {
    const { sink, recorder } = setup();
    sink.failing = true;
    await expect(recorder.record(alert, 'Warning', 'Firing', 'cpu high')).resolves.toBeUndefined();
  });
});
