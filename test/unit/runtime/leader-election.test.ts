import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../operator/logging.js';
import {
  LeaderElector,
  leaderElectionTimingProblem,
  type LeaseClient,
  type LeaseRecord,
  type ObservedLease,
} from '../../../operator/runtime/leader-election.js';
import { FakeTimers, settle } from './fake-timers.js';

const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** One Lease in memory, with optimistic concurrency like the apiserver. */
class LeaseStore {
  lease?: ObservedLease;
  private version = 0;

  write(record: LeaseRecord, expectedVersion?: string): ObservedLease {
    if (expectedVersion === undefined ? this.lease : this.lease?.resourceVersion !== expectedVersion) {
      throw Object.assign(new Error('Operation cannot be fulfilled: the object has been modified'), {
        code: 409,
      });
    }
    this.lease = { record: { ...record }, resourceVersion: String(++this.version) };
    return this.lease;
  }
}

/** A replica's connection to the store, which a test can break (reject) or hang. */
class ReplicaLeaseClient implements LeaseClient {
  mode: 'ok' | 'failing' | 'hanging' = 'ok';
  constructor(private readonly store: LeaseStore) {}

  get(): Promise<ObservedLease | undefined> {
    return this.call(() => this.store.lease);
  }
  create(record: LeaseRecord): Promise<ObservedLease> {
    return this.call(() => this.store.write(record));
  }
  update(record: LeaseRecord, resourceVersion: string): Promise<ObservedLease> {
    return this.call(() => this.store.write(record, resourceVersion));
  }
  private call<T>(action: () => T): Promise<T> {
    if (this.mode === 'hanging') return new Promise(() => {});
    if (this.mode === 'failing') return Promise.reject(new Error('connect ECONNREFUSED'));
    return Promise.resolve().then(action);
  }
}

interface Replica {
  elector: LeaderElector;
  client: ReplicaLeaseClient;
  startedAt: number[];
  stoppedAt: number[];
  signals: AbortSignal[];
  tokens: number[];
  /** Resolves the current term's work (it runs until released). */
  finishWork: () => void;
}

function replica(
  identity: string,
  store: LeaseStore,
  timers: FakeTimers,
  holdWorkUntilReleased = false,
): Replica {
  const client = new ReplicaLeaseClient(store);
  const r: Replica = {
    client,
    startedAt: [],
    stoppedAt: [],
    signals: [],
    tokens: [],
    finishWork: () => {},
  } as unknown as Replica;
  r.elector = new LeaderElector({
    ...timing,
    identity,
    lease: client,
    logger: silentLogger(),
    timers,
    random: () => 0,
    onStartedLeading: (term) => {
      r.startedAt.push(timers.now());
      r.signals.push(term.signal);
      r.tokens.push(term.fencingToken);
      if (!holdWorkUntilReleased) return;
      return new Promise<void>((resolve) => (r.finishWork = resolve));
    },
    onStoppedLeading: () => r.stoppedAt.push(timers.now()),
  });
  return r;
}

function setup() {
  const timers = new FakeTimers();
  const store = new LeaseStore();
  return { timers, store, t0: timers.now() };
}

describe('LeaderElector', () => {
  it('acquires a lease that does not exist at once', async () => {
    const { timers, store, t0 } = setup();
    const a = replica('a', store, timers);
    a.elector.start();
    await settle();
    expect(a.elector.isLeader).toBe(true);
    expect(a.startedAt).toEqual([t0]);
    expect(store.lease?.record).toMatchObject({
      holderIdentity: 'a',
      leaseDurationMs: 15_000,
      leaseTransitions: 0,
    });
    await a.elector.stop();
  });

  it('renews every retry period while leading', async () => {
    const { timers, store, t0 } = setup();
    const a = replica('a', store, timers);
    a.elector.start();
    await timers.advance(10_000);
    expect(store.lease?.record.renewTimeMs).toBe(t0 + 10_000);
    expect(store.lease?.record.acquireTimeMs).toBe(t0);
    expect(a.startedAt).toHaveLength(1);
    expect(a.stoppedAt).toHaveLength(0);
    await a.elector.stop();
  });

  it('does not take a lease that its holder keeps renewing', async () => {
    const { timers, store } = setup();
    const a = replica('a', store, timers);
    const b = replica('b', store, timers);
    a.elector.start();
    await settle();
    b.elector.start();
    await timers.advance(60_000);
    expect(b.elector.isLeader).toBe(false);
    expect(b.startedAt).toHaveLength(0);
    expect(store.lease?.record.holderIdentity).toBe('a');
    await Promise.all([a.elector.stop(), b.elector.stop()]);
  });

  it('takes an abandoned lease once it has not changed for a lease duration', async () => {
    const { timers, store, t0 } = setup();
    store.write({
      holderIdentity: 'gone',
      leaseDurationMs: 15_000,
      acquireTimeMs: 0,
      renewTimeMs: 0,
      leaseTransitions: 3,
    });
    const b = replica('b', store, timers);
    b.elector.start();
    await timers.advance(14_999);
    expect(b.elector.isLeader).toBe(false);
    const waited = await timers.advanceUntil(() => b.elector.isLeader, 10_000);
    expect(14_999 + waited).toBeLessThanOrEqual(15_000 + timing.retryPeriodMs);
    expect(b.startedAt[0]! - t0).toBeGreaterThan(15_000);
    expect(store.lease?.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 4 });
    await b.elector.stop();
  });

  it('stops leading at once when renewals keep failing until the renew deadline', async () => {
    const { timers, store } = setup();
    const a = replica('a', store, timers);
    a.elector.start();
    await timers.advance(4_000); // renewed at t0+4s
    const lastRenew = store.lease!.record.renewTimeMs;
    a.client.mode = 'failing';
    await timers.advance(9_999);
    expect(a.elector.isLeader).toBe(true);
    expect(a.signals[0]!.aborted).toBe(false);
    await timers.advance(1);
    expect(a.elector.isLeader).toBe(false);
    expect(a.signals[0]!.aborted).toBe(true);
    expect(a.stoppedAt).toEqual([lastRenew + timing.renewDeadlineMs]);
    await a.elector.stop();
  });

  it('stops leading at the deadline even while a renewal hangs', async () => {
    const { timers, store } = setup();
    const a = replica('a', store, timers);
    a.elector.start();
    await settle();
    const lastRenew = store.lease!.record.renewTimeMs;
    a.client.mode = 'hanging';
    await timers.advance(timing.renewDeadlineMs);
    expect(a.signals[0]!.aborted).toBe(true);
    expect(a.stoppedAt).toEqual([lastRenew + timing.renewDeadlineMs]);
  });

  it('stops leading when another replica has taken the lease', async () => {
    const { timers, store } = setup();
    const a = replica('a', store, timers);
    a.elector.start();
    await settle();
    const current = store.lease!;
    store.write({ ...current.record, holderIdentity: 'intruder' }, current.resourceVersion);
    await timers.advance(timing.retryPeriodMs);
    expect(a.elector.isLeader).toBe(false);
    expect(a.signals[0]!.aborted).toBe(true);
    await a.elector.stop();
    expect(store.lease?.record.holderIdentity).toBe('intruder');
  });

  it('lets a standby take over within the lease duration after the leader stops renewing, never both at once', async () => {
    const { timers, store } = setup();
    const a = replica('a', store, timers);
    const b = replica('b', store, timers);
    a.elector.start();
    await settle();
    b.elector.start();
    await timers.advance(6_000);
    const lastRenew = store.lease!.record.renewTimeMs;
    a.client.mode = 'failing'; // partitioned from the apiserver
    await timers.advanceUntil(() => b.elector.isLeader, 30_000);
    const takeover = b.startedAt[0]!;
    // b saw a's last renewal within one retry period, then waited one lease duration.
    expect(takeover - lastRenew).toBeLessThanOrEqual(timing.leaseDurationMs + timing.retryPeriodMs);
    expect(a.stoppedAt[0]!).toBeLessThan(takeover);
    await Promise.all([a.elector.stop(), b.elector.stop()]);
  });

  it('on stop, waits for the leader work, then releases the lease so a standby takes over at once', async () => {
    const { timers, store } = setup();
    const a = replica('a', store, timers, true);
    const b = replica('b', store, timers);
    a.elector.start();
    await settle();
    b.elector.start();
    await timers.advance(5_000);

    let stopped = false;
    const stopping = a.elector.stop().then(() => (stopped = true));
    await settle();
    expect(a.signals[0]!.aborted).toBe(true);
    expect(a.stoppedAt).toHaveLength(1);
    expect(stopped).toBe(false);
    expect(store.lease?.record.holderIdentity).toBe('a'); // still held while the work drains

    a.finishWork();
    await stopping;
    expect(store.lease?.record).toMatchObject({ holderIdentity: '', leaseDurationMs: 1000 });
    const waited = await timers.advanceUntil(() => b.elector.isLeader, 30_000);
    expect(waited).toBeLessThanOrEqual(timing.retryPeriodMs);
    await b.elector.stop();
  });

  it('competes again after losing, once the previous term has stopped', async () => {
    const { timers, store } = setup();
    const a = replica('a', store, timers);
    a.elector.start();
    await settle();
    a.client.mode = 'failing';
    await timers.advance(timing.renewDeadlineMs);
    expect(a.elector.isLeader).toBe(false);
    a.client.mode = 'ok';
    await timers.advanceUntil(() => a.elector.isLeader, 30_000);
    expect(a.startedAt).toHaveLength(2);
    expect(a.signals[1]!.aborted).toBe(false);
    // The lease still named a, yet the new term has its own, greater fencing token.
    expect(a.tokens).toEqual([0, 1]);
    expect(store.lease?.record.leaseTransitions).toBe(1);
    await a.elector.stop();
  });

  it('rejects unsafe timing', () => {
    expect(leaderElectionTimingProblem(timing)).toBeUndefined();
    expect(leaderElectionTimingProblem({ ...timing, renewDeadlineMs: 15_000 })).toMatch(
      /lease duration must exceed/,
    );
    expect(leaderElectionTimingProblem({ ...timing, retryPeriodMs: 9_000 })).toMatch(
      /renew deadline must exceed/,
    );
    expect(
      () =>
        new LeaderElector({
          ...timing,
          leaseDurationMs: 5_000,
          identity: 'a',
          lease: new ReplicaLeaseClient(new LeaseStore()),
          logger: silentLogger(),
          onStartedLeading: () => {},
        }),
    ).toThrow(/invalid leader election timing/);
  });
});
