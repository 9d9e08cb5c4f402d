import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../operator/logging.js';
import type { LeaseClient, LeaseRecord, ObservedLease } from '../../../operator/runtime/leader-election.js';
import { Manager, type Runnable, type SyncedCache, type Term } from '../../../operator/runtime/manager.js';
import { FakeTimers, settle } from './fake-timers.js';

const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** One Lease in memory with optimistic concurrency; calls can be made to hang (a dead apiserver). */
class MemoryLease implements LeaseClient {
  lease?: ObservedLease;
  hang = false;
  calls = 0;
  private version = 0;

  get(signal?: AbortSignal) {
    return this.call(signal, () => this.lease);
  }
  create(record: LeaseRecord, signal?: AbortSignal) {
    return this.call(signal, () => this.write(record));
  }
  update(record: LeaseRecord, resourceVersion: string, signal?: AbortSignal) {
    return this.call(signal, () => this.write(record, resourceVersion));
  }
  /** Another replica takes the lease (it then never renews). */
  takeBy(identity: string, now: number): void {
    const previous = this.lease!.record;
    this.write(
      {
        ...previous,
        holderIdentity: identity,
        acquireTimeMs: now,
        renewTimeMs: now,
        leaseTransitions: previous.leaseTransitions + 1,
      },
      this.lease!.resourceVersion,
    );
  }
  private write(record: LeaseRecord, expected?: string): ObservedLease {
    if (expected === undefined ? this.lease : this.lease?.resourceVersion !== expected)
      throw Object.assign(new Error('conflict'), { code: 409 });
    this.lease = { record: { ...record }, resourceVersion: String(++this.version) };
    return this.lease;
  }
  private call<T>(signal: AbortSignal | undefined, action: () => T): Promise<T> {
    this.calls++;
    if (this.hang) {
      // Hangs until aborted, as a request to an unreachable server does.
      return new Promise((_, reject) =>
        signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    }
    return Promise.resolve().then(action);
  }
}

/** A cache that syncs when the test says so (or never: its CRD is not installed). */
class FakeCache implements SyncedCache {
  hasSynced = false;
  stopped = false;
  private waiters: (() => void)[] = [];
  start(): void {}
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiters.splice(0).forEach((wake) => wake());
  }
  sync(): void {
    this.hasSynced = true;
    this.waiters.splice(0).forEach((wake) => wake());
  }
  waitForSync(signal: AbortSignal): Promise<boolean> {
    if (this.hasSynced) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.waiters.push(() => resolve(this.hasSynced));
      signal.addEventListener('abort', () => resolve(false), { once: true });
    });
  }
}

/** A leader runnable that records its starts and stops; its stop can be held open. */
class Recorder implements Runnable {
  readonly needsLeadership = true;
  readonly terms: Term[] = [];
  holdStop = false;
  private release?: () => void;
  constructor(
    readonly name: string,
    private readonly log: string[],
  ) {}
  start({ term }: { term: Term | undefined }): void {
    this.terms.push(term!);
    this.log.push(`start ${this.name} ${term!.fencingToken}`);
  }
  async stop(): Promise<void> {
    if (this.holdStop) await new Promise<void>((resolve) => (this.release = resolve));
    this.log.push(`stop ${this.name}`);
  }
  finishStop(): void {
    this.holdStop = false;
    this.release?.();
  }
}

function setup(options: { termStopTimeoutMs?: number } = {}) {
  const timers = new FakeTimers();
  const lease = new MemoryLease();
  const cache = new FakeCache();
  const log: string[] = [];
  const first = new Recorder('collection', log);
  const second = new Recorder('controller', log);
  const manager = new Manager({
    logger: silentLogger(),
    timers,
    random: () => 0,
    termStopTimeoutMs: options.termStopTimeoutMs ?? 10_000,
    leaderElection: { identity: 'a', lease, ...timing },
  });
  manager.addCache(cache).add(first).add(second);
  return { timers, lease, cache, log, first, second, manager };
}

describe('Manager', () => {
  it('does not compete for the lease before its caches have synced, and stops at once when they never do', async () => {
    const { timers, lease, cache, manager, log } = setup();
    await manager.start();
    await timers.advance(60_000);
    expect(lease.calls).toBe(0);
    expect(manager.isLeader).toBe(false);
    let stopped = false;
    const stopping = manager.stop().then(() => (stopped = true));
    await settle();
    await stopping;
    expect(stopped).toBe(true);
    expect(cache.stopped).toBe(true);
    expect(lease.lease).toBeUndefined();
    expect(log).toEqual([]);
  });

  it('starts the leader runnables in order once synced and leading, and stops them in reverse before releasing', async () => {
    const { timers, lease, cache, manager, log, first } = setup();
    await manager.start();
    cache.sync();
    await timers.advance(0);
    expect(manager.isLeader).toBe(true);
    expect(manager.term?.fencingToken).toBe(0);
    expect(log).toEqual(['start collection 0', 'start controller 0']);
    await manager.stop();
    expect(log).toEqual(['start collection 0', 'start controller 0', 'stop controller', 'stop collection']);
    expect(first.terms[0]!.signal.aborted).toBe(true);
    expect(lease.lease?.record.holderIdentity).toBe('');
    void timers;
  });

  it('starts the next term only after everything of the lost term has stopped, with a greater fencing token', async () => {
    const { timers, lease, cache, manager, log, first } = setup({ termStopTimeoutMs: 60_000 });
    await manager.start();
    cache.sync();
    await timers.advance(0);
    first.holdStop = true; // a collection in flight that takes a while to return
    lease.takeBy('b', timers.now());
    await timers.advance(timing.retryPeriodMs);
    expect(manager.isLeader).toBe(false);
    expect(first.terms[0]!.signal.aborted).toBe(true);
    // b never renews: after a lease duration this replica may take the lease again, but its
    // previous term has not stopped yet, so no new term starts.
    await timers.advance(timing.leaseDurationMs + 3 * timing.retryPeriodMs);
    expect(log.filter((l) => l.startsWith('start collection'))).toHaveLength(1);
    first.finishStop();
    await timers.advanceUntil(() => manager.isLeader, 30_000);
    expect(log).toEqual([
      'start collection 0',
      'start controller 0',
      'stop controller',
      'stop collection',
      'start collection 2',
      'start controller 2',
    ]);
    expect(manager.term!.fencingToken).toBeGreaterThan(first.terms[0]!.fencingToken);
    await manager.stop();
  });

  it('bounds a term that does not stop, and every lease call by the renew deadline, so stop always returns and releases', async () => {
    const { timers, lease, cache, manager, second } = setup({ termStopTimeoutMs: 5_000 });
    await manager.start();
    cache.sync();
    await timers.advance(0);
    second.holdStop = true; // never finishes on its own
    lease.hang = true; // the apiserver stops answering during the next renewal
    await timers.advance(timing.retryPeriodMs + 100);
    let stopped = false;
    const stopping = manager.stop().then(() => (stopped = true));
    lease.hang = false; // answering again when the release comes
    const took = await timers.advanceUntil(() => stopped, 30_000, 100);
    await stopping;
    expect(took).toBeLessThanOrEqual(5_000 + 100);
    expect(lease.lease?.record.holderIdentity).toBe('');
  });

  it('gives up a renewal that hangs at the renew deadline and stops leading', async () => {
    const { timers, lease, cache, manager, first } = setup();
    await manager.start();
    cache.sync();
    await timers.advance(0);
    lease.hang = true;
    const lostAfter = await timers.advanceUntil(() => !manager.isLeader, 30_000, 100);
    expect(lostAfter).toBeLessThanOrEqual(timing.renewDeadlineMs);
    expect(first.terms[0]!.signal.aborted).toBe(true);
    lease.hang = false;
    await manager.stop();
  });

  it('without leader election, leads at once in one term with token 0 after the caches sync', async () => {
    const timers = new FakeTimers();
    const cache = new FakeCache();
    const log: string[] = [];
    const manager = new Manager({ logger: silentLogger(), timers });
    manager.addCache(cache).add(new Recorder('collection', log));
    await manager.start();
    expect(manager.isLeader).toBe(false);
    cache.sync();
    await timers.advance(0);
    expect(manager.term?.fencingToken).toBe(0);
    await manager.stop();
    expect(log).toEqual(['start collection 0', 'stop collection']);
  });
});
