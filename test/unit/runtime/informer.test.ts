import { describe, expect, it } from '@jest/globals';
import { silentLogger, type Logger } from '../../../operator/logging.js';
import { Informer, type ListWatcher, type WatchEvent } from '../../../operator/runtime/informer.js';
import { captureLogger } from '../../harness/capture-logger.js';
import { FakeTimers, settle } from './fake-timers.js';

interface Pod {
  metadata: { namespace: string; name: string; resourceVersion: string; uid?: string };
  spec?: { node: string };
}

function pod(name: string, resourceVersion: string, node = 'n1'): Pod {
  return { metadata: { namespace: 'shop', name, resourceVersion }, spec: { node } };
}

interface WatchSession {
  resourceVersion: string;
  send(event: WatchEvent<Pod>): void;
  end(): void;
  fail(err: Error): void;
  signal: AbortSignal;
}

/** A list as the fake serves it: its objects, in one page. */
interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/** A list/watch source driven by the test: lists answer from `lists`, watches are opened sessions. */
class FakeSource implements ListWatcher<Pod> {
  lists: Array<ListResult<Pod> | Error> = [];
  listCalls = 0;
  readonly watches: WatchSession[] = [];

  async list(_signal: AbortSignal, onPage: (items: Pod[]) => void): Promise<string> {
    this.listCalls++;
    const next = this.lists.shift();
    if (!next) return new Promise(() => {}); // hangs
    if (next instanceof Error) throw next;
    onPage(next.items);
    return next.resourceVersion;
  }

  watch(
    resourceVersion: string,
    onEvent: (event: WatchEvent<Pod>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      this.watches.push({ resourceVersion, send: onEvent, end: resolve, fail: reject, signal });
    });
  }

  get current(): WatchSession {
    return this.watches[this.watches.length - 1]!;
  }
}

function gone(): Error {
  return Object.assign(new Error('too old resource version'), { code: 410 });
}

function setup(options: { resyncPeriodMs?: number; watchdogMs?: number; logger?: Logger } = {}) {
  const timers = new FakeTimers();
  const source = new FakeSource();
  const informer = new Informer<Pod>({
    name: 'pods',
    source,
    logger: options.logger ?? silentLogger(),
    timers,
    random: () => 0,
    resyncPeriodMs: options.resyncPeriodMs ?? 0,
    watchdogMs: options.watchdogMs ?? 60_000,
    backoff: { baseMs: 1000, maxMs: 8000 },
  });
  const seen: string[] = [];
  informer.addHandlers({
    onAdd: (p) => seen.push(`add ${p.metadata.name}@${p.metadata.resourceVersion}`),
    onUpdate: (p, old) =>
      seen.push(`update ${p.metadata.name}@${old.metadata.resourceVersion}->${p.metadata.resourceVersion}`),
    onDelete: (p) => seen.push(`delete ${p.metadata.name}`),
  });
  return { timers, source, informer, seen };
}

describe('Informer', () => {
  it('lists, delivers every object, then reports synced and watches from the list', async () => {
    const { source, informer, seen } = setup();
    source.lists.push({ items: [pod('a', '1'), pod('b', '2')], resourceVersion: '10' });
    expect(informer.hasSynced).toBe(false);
    informer.start();
    await informer.waitForSync();
    expect(informer.hasSynced).toBe(true);
    expect(seen).toEqual(['add a@1', 'add b@2']);
    expect(informer.get('shop', 'b')).toEqual(pod('b', '2'));
    expect(informer.list('shop')).toHaveLength(2);
    expect(informer.list('other')).toEqual([]);
    await settle();
    expect(source.current.resourceVersion).toBe('10');
    await informer.stop();
  });

  it('applies watch events and resumes an ended watch from the last resourceVersion', async () => {
    const { source, informer, seen, timers } = setup();
    source.lists.push({ items: [pod('a', '1')], resourceVersion: '10' });
    informer.start();
    await settle();
    source.current.send({ type: 'ADDED', object: pod('c', '11') });
    source.current.send({ type: 'MODIFIED', object: pod('a', '12', 'n2') });
    source.current.send({ type: 'DELETED', object: pod('c', '13') });
    source.current.send({ type: 'BOOKMARK', resourceVersion: '20' });
    await timers.advance(5_000);
    source.current.end();
    await settle();
    expect(seen).toEqual(['add a@1', 'add c@11', 'update a@1->12', 'delete c']);
    expect(informer.get('shop', 'a')?.spec?.node).toBe('n2');
    expect(source.watches.map((w) => w.resourceVersion)).toEqual(['10', '20']);
    expect(source.listCalls).toBe(1);
    await informer.stop();
  });

  it('lists again at once when the resourceVersion expired, delivering only the differences', async () => {
    const { source, informer, seen } = setup();
    source.lists.push({ items: [pod('a', '1'), pod('b', '2')], resourceVersion: '10' });
    source.lists.push({ items: [pod('a', '1'), pod('c', '30')], resourceVersion: '31' });
    informer.start();
    await settle();
    seen.length = 0;
    source.current.fail(gone());
    await settle();
    expect(seen).toEqual(['add c@30', 'delete b']);
    expect(source.current.resourceVersion).toBe('31');
    await informer.stop();
  });

  it('backs off when the list itself answers 410, instead of listing in a tight loop', async () => {
    const { source, informer, timers } = setup();
    source.lists.push(gone(), { items: [], resourceVersion: '5' });
    informer.start();
    await settle();
    expect(source.listCalls).toBe(1);
    await timers.advance(1000);
    expect(source.listCalls).toBe(2);
    expect(informer.hasSynced).toBe(true);
    await informer.stop();
  });

  it('restarts after errors with a growing backoff, logging the failure once and the recovery once', async () => {
    const { logger, lines } = captureLogger();
    const { source, informer, timers } = setup({ logger });
    source.lists.push(
      new Error('connection refused'),
      new Error('connection refused'),
      new Error('connection refused'),
    );
    source.lists.push({ items: [], resourceVersion: '5' });
    informer.start();
    await settle();
    expect(source.listCalls).toBe(1);
    await timers.advance(999);
    expect(source.listCalls).toBe(1);
    await timers.advance(1);
    expect(source.listCalls).toBe(2); // after 1 s
    await timers.advance(2000);
    expect(source.listCalls).toBe(3); // after 2 s more
    await timers.advance(3999);
    expect(informer.hasSynced).toBe(false);
    await timers.advance(1);
    expect(informer.hasSynced).toBe(true); // after 4 s more
    await timers.advance(1000);
    source.current.end(); // the first watch ran and ended normally: recovered
    await settle();

    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings.map((l) => l.message)).toEqual(['list/watch failed; retrying with backoff']);
    expect(lines.filter((l) => l.message === 'list/watch recovered')).toHaveLength(1);
    await informer.stop();
  });

  it('treats a watch that ends at once without events as a failure, not a tight loop', async () => {
    const { source, informer, timers } = setup();
    source.lists.push({ items: [], resourceVersion: '5' });
    informer.start();
    await settle();
    source.current.end();
    await settle();
    expect(source.watches).toHaveLength(1);
    await timers.advance(1000);
    expect(source.watches).toHaveLength(2);
    await informer.stop();
  });

  it('restarts a watch that stays silent past the watchdog bound', async () => {
    const { source, informer, timers } = setup({ watchdogMs: 60_000 });
    source.lists.push({ items: [], resourceVersion: '5' });
    informer.start();
    await settle();
    const first = source.current;
    await timers.advance(30_000);
    first.send({ type: 'BOOKMARK', resourceVersion: '6' }); // activity: the watch is alive
    await timers.advance(59_000);
    expect(source.watches).toHaveLength(1);
    await timers.advanceUntil(() => source.watches.length === 2, 30_000);
    expect(first.signal.aborted).toBe(true);
    expect(source.current.resourceVersion).toBe('6');
    await informer.stop();
  });

  it('restarts a list that hangs', async () => {
    const { source, informer, timers } = setup({ watchdogMs: 60_000 });
    informer.start(); // no list answer queued: the first list hangs
    await timers.advanceUntil(() => source.listCalls === 2, 120_000);
    await informer.stop();
  });

  it('re-delivers every cached object as an update at each resync', async () => {
    const { source, informer, seen, timers } = setup({ resyncPeriodMs: 60_000 });
    source.lists.push({ items: [pod('a', '1'), pod('b', '2')], resourceVersion: '10' });
    informer.start();
    await settle();
    seen.length = 0;
    await timers.advance(60_000);
    expect(seen).toEqual(['update a@1->1', 'update b@2->2']);
    await informer.stop();
  });

  it('stops its watch and timers, and keeps running the other handlers when one throws', async () => {
    const { source, informer, timers, seen } = setup({ resyncPeriodMs: 60_000 });
    informer.addHandlers({
      onAdd: () => {
        throw new Error('bug');
      },
    });
    source.lists.push({ items: [pod('a', '1')], resourceVersion: '10' });
    informer.start();
    await settle();
    expect(seen).toEqual(['add a@1']);
    await informer.stop();
    expect(source.current.signal.aborted).toBe(true);
    expect(timers.pendingCount).toBe(0);
  });
});

describe('Informer identity by UID', () => {
  const withUid = (name: string, resourceVersion: string, uid: string): Pod => ({
    metadata: { namespace: 'shop', name, resourceVersion, uid },
  });

  it('delivers a re-list that finds a name with a new UID as the deletion of the old object and the addition of the new', async () => {
    const { source, informer, seen } = setup();
    const deletedUids: (string | undefined)[] = [];
    informer.addHandlers({ onDelete: (p) => deletedUids.push(p.metadata.uid) });
    source.lists.push({
      items: [withUid('a', '1', 'uid-1'), withUid('b', '2', 'uid-b')],
      resourceVersion: '10',
    });
    source.lists.push({
      items: [withUid('a', '40', 'uid-2'), withUid('b', '41', 'uid-b')],
      resourceVersion: '42',
    });
    informer.start();
    await settle();
    seen.length = 0;
    source.current.fail(gone());
    await settle();
    expect(seen).toEqual(['delete a', 'add a@40', 'update b@2->41']);
    expect(deletedUids).toEqual(['uid-1']);
    expect(informer.get('shop', 'a')?.metadata.uid).toBe('uid-2');
    await informer.stop();
  });

  it('delivers a watch event of a name with a new UID as a deletion and an addition', async () => {
    const { source, informer, seen } = setup();
    source.lists.push({ items: [withUid('a', '1', 'uid-1')], resourceVersion: '10' });
    informer.start();
    await settle();
    source.current.send({ type: 'MODIFIED', object: withUid('a', '11', 'uid-1') });
    source.current.send({ type: 'ADDED', object: withUid('a', '12', 'uid-2') });
    expect(seen).toEqual(['add a@1', 'update a@1->11', 'delete a', 'add a@12']);
    await informer.stop();
  });
});

describe('Informer transform', () => {
  it('caches and delivers what the transform returns, for listed and watched objects', async () => {
    const timers = new FakeTimers();
    const source = new FakeSource();
    source.lists.push({ items: [pod('a', '1', 'n1')], resourceVersion: '1' });
    const informer = new Informer<Pod>({
      name: 'pods',
      source,
      logger: silentLogger(),
      timers,
      transform: (p) => ({ metadata: p.metadata }),
    });
    const added: Pod[] = [];
    const deleted: Pod[] = [];
    informer.addHandlers({ onAdd: (p) => added.push(p), onDelete: (p) => deleted.push(p) });
    informer.start();
    await settle();
    source.current.send({ type: 'ADDED', object: pod('b', '2', 'n2') });
    source.current.send({ type: 'DELETED', object: pod('a', '3', 'n1') });
    expect(added.map((p) => [p.metadata.name, p.spec])).toEqual([
      ['a', undefined],
      ['b', undefined],
    ]);
    expect(informer.get('shop', 'b')).toEqual({ metadata: pod('b', '2').metadata });
    expect(deleted).toEqual([{ metadata: pod('a', '1').metadata }]);
    await informer.stop();
  });
});

describe('Informer paged re-list', () => {
  it('applies each page as it arrives, keeps only transformed objects, deletes the missing at the end', async () => {
    const timers = new FakeTimers();
    // Two lists in pages, each page served when the test releases it; the first watch expires (410).
    const lists = [
      { pages: [[pod('a', '1'), pod('b', '2'), pod('c', '3')]], resourceVersion: '3' },
      { pages: [[pod('a', '1'), pod('b', '20')], [pod('d', '21')]], resourceVersion: '21' },
    ];
    const served = new Set<Pod>();
    let release: () => void = () => {};
    let watches = 0;
    const source: ListWatcher<Pod> = {
      async list(_signal, onPage) {
        const { pages, resourceVersion } = lists.shift()!;
        for (const page of pages) {
          await new Promise<void>((resolve) => (release = resolve));
          page.forEach((p) => served.add(p));
          onPage(page);
        }
        return resourceVersion;
      },
      watch: () =>
        watches++ === 0
          ? Promise.reject(Object.assign(new Error('too old resource version'), { code: 410 }))
          : new Promise(() => {}),
    };
    const transformed: string[] = [];
    const informer = new Informer<Pod>({
      name: 'pods',
      source,
      logger: silentLogger(),
      timers,
      transform: (p) => {
        transformed.push(`${p.metadata.name}@${p.metadata.resourceVersion}`);
        return { metadata: { ...p.metadata } };
      },
    });
    const seen: string[] = [];
    informer.addHandlers({
      onAdd: (p) => seen.push(`add ${p.metadata.name}`),
      onUpdate: (p) => seen.push(`update ${p.metadata.name}@${p.metadata.resourceVersion}`),
      onDelete: (p) => seen.push(`delete ${p.metadata.name}`),
    });
    informer.start();
    await settle();
    release();
    await settle();
    expect(informer.hasSynced).toBe(true);
    // The watch expired: the second list has begun; its pages come one by one.
    expect(lists).toEqual([]);
    seen.length = 0;
    transformed.length = 0;
    release();
    await settle();
    // Page 1 is in: b updated (a unchanged, not transformed again); c still cached until the end.
    expect(seen).toEqual(['update b@20']);
    expect(transformed).toEqual(['b@20']);
    expect(informer.get('shop', 'b')?.metadata.resourceVersion).toBe('20');
    expect(informer.get('shop', 'c')).toBeDefined();
    release();
    await settle();
    expect(seen).toEqual(['update b@20', 'add d', 'delete c']);
    expect(transformed).toEqual(['b@20', 'd@21']);
    expect(
      informer
        .list()
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['a', 'b', 'd']);
    // What is cached is what the transform returned, never an object as served.
    expect(informer.list().filter((p) => served.has(p) || p.spec !== undefined)).toEqual([]);
    await informer.stop();
  });
});
