import { afterEach, describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../operator/logging.js';
import { Informer, type KubeObject, type ListWatcher } from '../../../operator/runtime/informer.js';
import { NamespaceLedger, type CurrentNamespace } from '../../../operator/tenancy/namespace-ledger.js';
import { NamespacePurger } from '../../../operator/tenancy/namespace-purger.js';
import { FakeTimers, settle } from '../runtime/fake-timers.js';
import { FakeNamespaceData, type FakeDoc } from './fake-namespace-data.js';

const HOUR = 3_600_000;

function setup(options: { held?: () => boolean } = {}) {
  const timers = new FakeTimers();
  const data = new FakeNamespaceData();
  const current = new Map<string, CurrentNamespace>();
  const ledger = new NamespaceLedger({ current: (name) => current.get(name), data, clock: timers });
  const purger = new NamespacePurger({
    data,
    ledger,
    namespaces: () => current,
    synced: () => true,
    timers,
    logger: silentLogger(),
    intervalMs: 60_000,
    sweepIntervalMs: HOUR,
    settleMs: 2 * HOUR,
    limits: { batchSize: 2, maxBatches: 1 },
    ...options,
  });
  const docs = (namespace: string, times: number[], collection: FakeDoc['collection'] = 'snapshots') =>
    data.docs.push(...times.map((time) => ({ collection, namespace, time })));
  return { timers, data, current, ledger, purger, docs };
}

let running: NamespacePurger[] = [];
afterEach(async () => {
  await Promise.all(running.map((p) => p.stop()));
  running = [];
});
const start = (purger: NamespacePurger) => {
  running.push(purger);
  purger.start();
};

describe('the purge of deleted namespaces', () => {
  it('records a deleted namespace and removes its data up to the deletion in bounded passes, keeping newer data and other namespaces', async () => {
    const { timers, data, purger, docs, current } = setup();
    current.set('blog', { uid: 'b1', createdMs: 0 });
    const now = timers.now();
    docs('shop', [now - 3000, now - 2000, now - 1000, now]);
    docs('shop', [now - HOUR], 'rollups_1h');
    docs('blog', [now - 1000]);
    start(purger);
    await timers.advance(0);
    purger.onDeleted('shop', 'u1');
    await timers.advance(0);
    expect([...data.stones.values()]).toEqual([
      { _id: 'shop|u1', namespace: 'shop', uid: 'u1', deletedAt: new Date(now) },
    ]);
    // Two per collection and pass; a pass that left some starts the next one at once.
    await timers.advanceUntil(() => data.docs.filter((d) => d.namespace === 'shop').length === 0, 1000);
    expect(data.docs).toEqual([{ collection: 'snapshots', namespace: 'blog', time: now - 1000 }]);
    expect(data.purgeCalls).toBeGreaterThanOrEqual(2);
    // A late write of the old namespace (a rollup bucket closing) within the settle time goes too.
    docs('shop', [now - 500], 'rollups_1h');
    await timers.advance(60_000);
    expect(data.docs.filter((d) => d.namespace === 'shop')).toEqual([]);
    expect(data.stones.size).toBe(1);
    // Data of the name written after the deletion (a new namespace) stays; the tombstone settles.
    current.set('shop', { uid: 'u2', createdMs: now + 5000 });
    docs('shop', [now + 6000]);
    await timers.advance(2 * HOUR);
    expect(data.stones.size).toBe(0);
    expect(data.docs.filter((d) => d.namespace === 'shop')).toEqual([
      { collection: 'snapshots', namespace: 'shop', time: now + 6000 },
    ]);
  });

  it('purges by the namespace UID: a re-created namespace keeps its data from before the deletion, the old one loses its data from after it', async () => {
    const { timers, data, purger, current } = setup();
    const now = timers.now();
    const day = now - (now % (24 * HOUR));
    const doc = (time: number, namespaceUid?: string): FakeDoc => ({
      collection: 'rollups_1h',
      namespace: 'shop',
      time,
      ...(namespaceUid !== undefined && { namespaceUid }),
    });
    data.docs.push(
      doc(day, 'old'), // the old namespace's day
      doc(now + HOUR, 'old'), // a late bucket of the old namespace, after the deletion
      doc(now - HOUR), // without a UID, before the deletion: the old namespace's
      doc(day, 'new'), // the new namespace's day and hour, begun before the deletion
      doc(now - (now % HOUR), 'new'),
      doc(now + HOUR), // without a UID, after the deletion
    );
    current.set('shop', { uid: 'new', createdMs: now + 30_000 });
    start(purger);
    purger.onDeleted('shop', 'old');
    await timers.advance(3 * HOUR);
    expect(data.docs).toEqual([doc(day, 'new'), doc(now - (now % HOUR), 'new'), doc(now + HOUR)]);
  });

  it('on a replica that does not lead, restricts readers at once and records nothing', async () => {
    const { data, purger, ledger, current } = setup();
    current.set('shop', { uid: 'u2', createdMs: Date.now() });
    purger.onDeleted('shop', 'u1');
    await Promise.resolve();
    expect(data.stones.size).toBe(0);
    expect((await ledger.incarnation('shop')).kind).toBe('since');
  });

  it('finds deletions no event announced: a name absent in two sweeps, and raw data older than the namespace of the name', async () => {
    const { timers, data, purger, docs, current } = setup();
    const now = timers.now();
    docs('gone', [now - 1000]);
    docs('again', [now - HOUR, now + 10 * 60_000]);
    current.set('again', { uid: 'a2', createdMs: now });
    // A bucket of the namespace that has the name, begun before it was created (its day).
    data.docs.push({ collection: 'rollups_1h', namespace: 'again', time: now - HOUR, namespaceUid: 'a2' });
    start(purger);
    await timers.advance(0);
    expect([...data.stones.keys()]).toEqual(['again|before-a2']);
    expect(data.docs.filter((d) => d.namespace === 'again')).toEqual([
      { collection: 'snapshots', namespace: 'again', time: now + 10 * 60_000 },
      { collection: 'rollups_1h', namespace: 'again', time: now - HOUR, namespaceUid: 'a2' },
    ]);
    expect(data.docs.filter((d) => d.namespace === 'gone')).toHaveLength(1);
    await timers.advance(HOUR);
    expect(data.stones.has('gone|unknown')).toBe(true);
    expect(data.docs.filter((d) => d.namespace === 'gone')).toEqual([]);
  });

  it('deletes nothing while held, and catches up once released', async () => {
    let held = true;
    const { timers, data, purger, docs } = setup({ held: () => held });
    docs('shop', [timers.now() - 1000]);
    start(purger);
    purger.onDeleted('shop', 'u1');
    await timers.advance(120_000);
    expect(data.stones.size).toBe(1);
    expect(data.docs).toHaveLength(1);
    held = false;
    await timers.advance(60_000);
    expect(data.docs).toEqual([]);
  });

  it('takes a namespace that a re-list finds with another UID for the deletion of the old UID, and purges only its data', async () => {
    const { timers, data, purger, ledger, current } = setup();
    type Namespace = KubeObject & { metadata: { name: string; uid: string; resourceVersion: string } };
    const ns = (uid: string, resourceVersion: string): Namespace => ({
      metadata: { name: 'shop', uid, resourceVersion },
    });
    // The namespace informer: a list, then a watch that expires (410) and a list that finds the
    // name re-created (the deletion and the creation happened while the watch was down).
    const lists = [
      { items: [ns('u1', '1')], resourceVersion: '1' },
      { items: [ns('u2', '9')], resourceVersion: '9' },
    ];
    let watches = 0;
    const source: ListWatcher<Namespace> = {
      list: async (_signal, onPage) => {
        const list = lists.shift();
        if (!list) return new Promise(() => {});
        onPage(list.items);
        return list.resourceVersion;
      },
      watch: () =>
        watches++ === 0
          ? Promise.reject(Object.assign(new Error('too old resource version'), { code: 410 }))
          : new Promise(() => {}),
    };
    const informer = new Informer<Namespace>({ name: 'namespaces', source, logger: silentLogger(), timers });
    informer.addHandlers(purger.handlers);
    informer.addHandlers({
      onAdd: (n) => current.set(n.metadata.name, { uid: n.metadata.uid, createdMs: timers.now() }),
    });
    const now = timers.now();
    data.docs.push(
      { collection: 'rollups_1h', namespace: 'shop', time: now - HOUR, namespaceUid: 'u1' },
      { collection: 'rollups_1h', namespace: 'shop', time: now - HOUR, namespaceUid: 'u2' },
    );
    start(purger);
    informer.start();
    await settle();
    await timers.advance(0);
    expect([...data.stones.keys()]).toEqual(['shop|u1']);
    expect(await ledger.incarnation('shop')).toMatchObject({ kind: 'since', deletedMs: now });
    await timers.advance(60_000);
    expect(data.docs.map((d) => d.namespaceUid)).toEqual(['u2']);
    await informer.stop();
  });
});
