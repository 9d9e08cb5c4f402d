/**
 * One notification per transition across a process that dies between a status write and the
 * notifications: the transitions announced after a write are exactly those that write
 * recorded (with their firingNotified), never one evaluated while the write was in flight.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { alertSetup, RecordingEvents } from './alert-fixtures.js';
import { conditionOf } from './fixtures.js';
import { waitFor } from '../../harness/wait.js';

const alert = { policyRef: { name: 'web' }, cpu: { above: '800m' }, for: 1, recoverAfter: 1 };

const until = (condition: () => boolean) =>
  waitFor('the notifications to be delivered', condition, { timeoutMs: 5_000, intervalMs: 1 });

describe('announcing transitions', () => {
  let cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanup.map((stop) => stop()));
    cleanup = [];
  });

  it('a process killed after writing a firing, while a resolve was evaluated during that write, announces each once', async () => {
    const events = new RecordingEvents();
    const s = alertSetup({ events });
    cleanup.push(s.stopAll);
    const reasons = () => events.recorded.map((e) => e.reason);
    s.put(alert);
    const a = s.reconciler;
    await s.reconcile(a);

    // Process A: a cycle above the threshold fires; while its status is being written, the
    // next cycle (below the threshold) is evaluated: a resolve that this write does not record.
    await s.clock.advance(30_000);
    a.evaluation.onCycle(s.cycleAt(s.clock.now(), 900));
    s.alerts.beforePatch = () => {
      s.alerts.beforePatch = undefined;
      a.evaluation.onCycle(s.cycleAt(s.clock.now() + 1, 100));
    };
    const written = await s.reconcile(a);
    expect(conditionOf(written, 'Firing')).toMatchObject({ status: 'True' });
    await until(() => events.recorded.length >= 1);
    await new Promise((resolve) => setImmediate(resolve));
    // Only the firing, whose firingNotified that write stored, was announced.
    expect(reasons()).toEqual(['AlertFiring']);

    // A is killed before its next status write. Process B resumes from the stored status:
    // the target is Firing and announced; the next cycle resolves it, announced once.
    const b = s.startProcess();
    await s.clock.advance(30_000);
    b.evaluation.onCycle(s.cycleAt(s.clock.now(), 100));
    const resolved = await s.reconcile(b);
    expect(conditionOf(resolved, 'Firing')).toMatchObject({ status: 'False' });
    await until(() => events.recorded.length >= 2);
    // More healthy cycles announce nothing more.
    await s.cycles([100, 100], undefined, b);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reasons()).toEqual(['AlertFiring', 'AlertResolved']);
  });

  it('a process killed between the status write and the notification never announces the transition twice', async () => {
    const events = new RecordingEvents();
    const s = alertSetup({ events });
    cleanup.push(s.stopAll);
    s.put(alert);
    const a = s.reconciler;
    await s.reconcile(a);
    await s.clock.advance(30_000);
    a.evaluation.onCycle(s.cycleAt(s.clock.now(), 900));
    // The write reaches the apiserver, then the process dies before it notifies.
    const kill = new AbortController();
    s.alerts.afterPatch = () => kill.abort();
    await a.reconcile('shop/web-hot', kill.signal);
    s.alerts.afterPatch = undefined;
    expect(conditionOf(s.alerts.get('shop', 'web-hot'), 'Firing')).toMatchObject({ status: 'True' });

    // B resumes: the firing is recorded as announced, so B does not repeat it (at most once;
    // Alertmanager still gets it from B's periodic re-send of firing alerts); its resolve is
    // announced once.
    const b = s.startProcess();
    await s.cycles([900], undefined, b);
    await s.cycles([100], undefined, b);
    await until(() => events.recorded.length >= 1);
    await s.cycles([100], undefined, b);
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.recorded.map((e) => e.reason)).toEqual(['AlertResolved']);
  });
});
