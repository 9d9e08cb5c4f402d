/**
 * One notification per transition across a process that dies between a status write and the
 * notifications: the transitions announced after a write are exactly those that write
 * recorded, never one evaluated while the write was in flight; a firing is stored as not
 * notified until it has been delivered, so the next process announces what the last one could
 * not. (test/integration/announce-kill.test.ts does this with a real process and SIGKILL.)
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
    a.pipeline.onCycle(s.cycleAt(s.clock.now(), 900));
    s.alerts.beforePatch = () => {
      s.alerts.beforePatch = undefined;
      a.pipeline.onCycle(s.cycleAt(s.clock.now() + 1, 100));
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
    b.pipeline.onCycle(s.cycleAt(s.clock.now(), 100));
    const resolved = await s.reconcile(b);
    expect(conditionOf(resolved, 'Firing')).toMatchObject({ status: 'False' });
    await until(() => events.recorded.length >= 2);
    // More healthy cycles announce nothing more.
    await s.cycles([100, 100], undefined, b);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reasons()).toEqual(['AlertFiring', 'AlertResolved']);
  });

  it('a process killed between the status write and the notification: the restarted one announces the firing, once', async () => {
    const events = new RecordingEvents();
    const s = alertSetup({ events });
    cleanup.push(s.stopAll);
    s.put(alert);
    const a = s.reconciler;
    await s.reconcile(a);
    await s.clock.advance(30_000);
    a.pipeline.onCycle(s.cycleAt(s.clock.now(), 900));
    // The write reaches the apiserver, then the process dies before it notifies.
    const kill = new AbortController();
    s.alerts.afterPatch = () => kill.abort();
    await a.reconcile('shop/web-hot', kill.signal);
    s.alerts.afterPatch = undefined;
    const stored = s.alerts.get('shop', 'web-hot');
    expect(conditionOf(stored, 'Firing')).toMatchObject({ status: 'True' });
    // Stored as not yet notified: the firing is owed.
    expect(stored?.status?.targets).toEqual([
      expect.objectContaining({ state: 'Firing', firingNotified: false }),
    ]);
    expect(events.recorded).toEqual([]);

    // B resumes and announces it with its next evaluation; once delivered, status says so.
    const b = s.startProcess();
    await s.cycles([900], undefined, b);
    await until(() => events.recorded.length >= 1);
    await s.reconcile(b);
    expect(s.alerts.get('shop', 'web-hot')?.status?.targets).toEqual([
      expect.objectContaining({ state: 'Firing', firingNotified: true }),
    ]);
    await s.cycles([900, 100], undefined, b);
    await until(() => events.recorded.length >= 2);
    await s.cycles([100], undefined, b);
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.recorded.map((e) => e.reason)).toEqual(['AlertFiring', 'AlertResolved']);
    expect(events.recorded[0]?.message).toMatch(/announced late, after a mute or a restart/);
  });

  it('a firing stored before its delivery was confirmed is resolved at the receivers after a restart', async () => {
    // A delivers the firing and dies before the write that records the delivery: B cannot
    // know it was delivered, and announces the resolution so that no incident stays open.
    const events = new RecordingEvents();
    const s = alertSetup({ events });
    cleanup.push(s.stopAll);
    s.put(alert);
    const a = s.reconciler;
    await s.reconcile(a);
    await s.cycles([900], undefined, a);
    await until(() => events.recorded.length >= 1);
    expect(s.alerts.get('shop', 'web-hot')?.status?.targets).toEqual([
      expect.objectContaining({ state: 'Firing', firingNotified: false }),
    ]);
    const b = s.startProcess();
    await s.cycles([100], undefined, b);
    await until(() => events.recorded.length >= 2);
    await s.cycles([100], undefined, b);
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.recorded.map((e) => e.reason)).toEqual(['AlertFiring', 'AlertResolved']);
  });

  it('a process killed between writing a resolution and notifying it: the restarted one announces it, once', async () => {
    const events = new RecordingEvents();
    const s = alertSetup({ events });
    cleanup.push(s.stopAll);
    s.put(alert);
    const a = s.reconciler;
    await s.reconcile(a);
    await s.cycles([900], undefined, a);
    await until(() => events.recorded.length >= 1);
    await s.reconcile(a); // records the firing as delivered
    await s.clock.advance(30_000);
    a.pipeline.onCycle(s.cycleAt(s.clock.now(), 100));
    const kill = new AbortController();
    s.alerts.afterPatch = () => kill.abort();
    await a.reconcile('shop/web-hot', kill.signal);
    s.alerts.afterPatch = undefined;
    const stored = s.alerts.get('shop', 'web-hot');
    expect(conditionOf(stored, 'Firing')).toMatchObject({ status: 'False' });
    // Listed as owed: Normal, with when it resolved.
    expect(stored?.status?.targets).toEqual([
      expect.objectContaining({
        pod: 'web-1',
        metric: 'cpu',
        state: 'Normal',
        value: '100m',
        threshold: '800m',
        since: '2026-11-21T10:00:30Z',
        resolvedAt: '2026-11-21T10:01:00Z',
      }),
    ]);
    expect(events.recorded.map((e) => e.reason)).toEqual(['AlertFiring']);

    // B announces it when it first reconciles the alert, before any cycle; once delivered, the
    // entry is gone, and later cycles announce nothing more.
    const b = s.startProcess();
    await s.reconcile(b);
    await until(() => events.recorded.length >= 2);
    expect(events.recorded[1]).toEqual({
      reason: 'AlertResolved',
      message: expect.stringContaining('100m <= 800m (firing since 2026-11-21T10:00:30Z)'),
    });
    await s.reconcile(b);
    expect(s.alerts.get('shop', 'web-hot')?.status?.targets).toEqual([]);
    await s.cycles([100, 100], undefined, b);
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.recorded.map((e) => e.reason)).toEqual(['AlertFiring', 'AlertResolved']);
  });
});
