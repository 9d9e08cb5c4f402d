/**
 * Informers against the real apiserver: a re-list (the watch expired) comes in pages, keeps only
 * transformed objects, and leaves the cache equal to the apiserver's pods when pods are deleted
 * while the watch was down and added and deleted while the list runs; namespaces are served as
 * metadata only (PartialObjectMetadata) on lists and watches.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PodIndex, type CachedPod } from '../../operator/collector/pod-index.js';
import { silentLogger } from '../../operator/logging.js';
import {
  Informer,
  type KubeObject,
  type ListWatcher,
  type WatchEvent,
} from '../../operator/runtime/informer.js';
import { KubeClients } from '../../operator/runtime/kube.js';
import { identityAndLabels, type ObjectIdentity } from '../../operator/runtime/transforms.js';
import {
  coreApi,
  createPod,
  createPods,
  deleteNamespace,
  kubeConfig,
  listPods,
  newNamespace,
  uniqueName,
  waitFor,
} from '../harness/index.js';

const PODS = 25;
const PAGE = 10;

/** A served object's shape: its kind, and whether it carries a spec or managedFields. */
interface Served extends KubeObject {
  kind?: string;
  spec?: unknown;
  metadata?: KubeObject['metadata'] & { managedFields?: unknown };
}

/**
 * Wraps a source: records every page, runs `duringList` once the first page of a list is in
 * (the list ends only when it has finished), and lets the test expire the watch (410).
 */
function instrumented<T extends KubeObject>(served: ListWatcher<T>) {
  const pages: T[][] = [];
  let lists = 0;
  let beforeList: (() => Promise<void>) | undefined;
  let duringList: (() => Promise<void>) | undefined;
  let expire: (() => void) | undefined;
  const source: ListWatcher<T> = {
    async list(signal, onPage) {
      let during: Promise<void> | undefined;
      const task = duringList;
      duringList = undefined;
      await beforeList?.();
      beforeList = undefined;
      const resourceVersion = await served.list(signal, (items) => {
        pages.push(items);
        onPage(items);
        during ??= task?.();
      });
      await during;
      lists++;
      return resourceVersion;
    },
    watch(resourceVersion, onEvent, signal) {
      // An expired watch is closed and nothing more of it is delivered, as with the apiserver's 410.
      const open = new AbortController();
      signal.addEventListener('abort', () => open.abort(), { once: true });
      return new Promise((resolve, reject) => {
        expire = () => {
          open.abort();
          reject(Object.assign(new Error('too old resource version'), { code: 410 }));
        };
        const deliver = (event: WatchEvent<T>) => open.signal.aborted || onEvent(event);
        served.watch(resourceVersion, deliver, open.signal).then(resolve, reject);
      });
    },
  };
  return {
    source,
    pages,
    lists: () => lists,
    /**
     * Fails the current watch with 410; `before` runs while no watch is open and before the
     * re-list it causes, `during` while that re-list is under way.
     */
    async relist(before: () => Promise<void>, during: () => Promise<void>) {
      await waitFor('the watch', () => expire !== undefined);
      beforeList = before;
      duringList = during;
      const fire = expire!;
      expire = undefined;
      fire();
    },
  };
}

const deletePod = (namespace: string, name: string) =>
  coreApi().deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });

describe('a pod informer re-listing through the real apiserver', () => {
  let namespace: string;
  let informer: Informer<CachedPod> | undefined;

  beforeAll(async () => {
    namespace = await newNamespace('relist');
    await createPods(
      namespace,
      Array.from({ length: PODS }, (_, i) => ({ name: `p-${i}`, labels: { app: 'relist' } })),
      8,
    );
  });
  afterAll(async () => {
    await informer?.stop();
    await deleteNamespace(namespace);
  });

  it('applies the pages, keeps only transformed pods, and ends equal to the apiserver', async () => {
    const clients = new KubeClients(kubeConfig());
    const served = clients.listWatcher<CachedPod>(
      { apiVersion: 'v1', kind: 'Pod', plural: 'pods' },
      { namespace },
      { pageSize: PAGE },
    );
    const wrapped = instrumented(served);
    const index = new PodIndex(silentLogger());
    informer = new Informer<CachedPod>({
      name: 'pods',
      source: wrapped.source,
      logger: silentLogger(),
      transform: index.transform,
    });
    informer.addHandlers(index.handlers);
    informer.start();
    expect(await informer.waitForSync()).toBe(true);
    expect(wrapped.pages.map((p) => p.length)).toEqual([10, 10, 5]);

    // Deleted while the watch is down (before the re-list), then added and deleted during it.
    wrapped.pages.length = 0;
    await wrapped.relist(
      () => deletePod(namespace, 'p-0').then(() => undefined),
      async () => {
        await deletePod(namespace, 'p-1');
        await createPod(namespace, { name: 'p-new', labels: { app: 'relist' } });
      },
    );
    await waitFor('the re-list', () => wrapped.lists() === 2);
    expect(wrapped.pages.length).toBeGreaterThanOrEqual(3);

    const truth = async () =>
      (await listPods(namespace))
        .filter((p) => p.metadata?.deletionTimestamp === undefined)
        .map((p) => `${p.metadata!.name}/${p.metadata!.uid}`)
        .sort();
    const cached = () =>
      index
        .list(namespace)
        .map((p) => `${p.name}/${p.uid}`)
        .sort();
    await waitFor('the cache to match the apiserver', async () => {
      const expected = await truth();
      return JSON.stringify(cached()) === JSON.stringify(expected) && expected;
    });
    const names = cached().map((k) => k.split('/')[0]);
    expect(names).toContain('p-new');
    expect(names).not.toContain('p-0');
    expect(names).not.toContain('p-1');
    expect(names).toHaveLength(PODS - 1);

    // Only what the transform returns is cached: no pod as served (spec, status, managedFields).
    const servedObjects = new Set<unknown>(wrapped.pages.flat());
    for (const pod of informer.list()) {
      expect(servedObjects.has(pod)).toBe(false);
      expect(Object.keys(pod).sort()).toEqual(['info', 'metadata']);
      expect(Object.keys(pod.metadata).sort()).toEqual(['name', 'namespace', 'resourceVersion', 'uid']);
      expect(pod.info?.containers.map((c) => c.name)).toEqual(['app']);
    }
    // The served pods did carry managedFields and a spec: the transform is what dropped them.
    const raw = wrapped.pages.flat()[0] as Served;
    expect(raw.metadata?.managedFields).toBeDefined();
    expect(raw.spec).toBeDefined();
  });
});

describe('a namespace informer with metadata only', () => {
  const created: string[] = [];
  afterAll(async () => {
    for (const name of created) await deleteNamespace(name);
  });

  it('is served PartialObjectMetadata on its list and its watch, and caches name, uid, labels, creation', async () => {
    const label = uniqueName('meta');
    created.push(await newNamespace('meta-a', { 'kuo-test': label }));
    const clients = new KubeClients(kubeConfig());
    const wrapped = instrumented(
      clients.listWatcher<Served>(
        { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces' },
        { labelSelector: `kuo-test=${label}` },
        { metadataOnly: true },
      ),
    );
    const events: Served[] = [];
    const source: ListWatcher<Served> = {
      list: (signal, onPage) => wrapped.source.list(signal, onPage),
      watch: (rv, onEvent, signal) =>
        wrapped.source.watch(
          rv,
          (event) => {
            if (event.type !== 'BOOKMARK') events.push(event.object);
            onEvent(event);
          },
          signal,
        ),
    };
    const informer = new Informer<Served>({
      name: 'namespaces',
      source,
      logger: silentLogger(),
      transform: identityAndLabels as (o: Served) => Served,
    });
    try {
      informer.start();
      expect(await informer.waitForSync()).toBe(true);
      created.push(await newNamespace('meta-b', { 'kuo-test': label }));
      await waitFor('the watch to deliver the new namespace', () => informer.list().length === 2);
      const served = [...wrapped.pages.flat(), ...events];
      expect(served.map((o) => [o.kind, o.spec])).toEqual([
        ['PartialObjectMetadata', undefined],
        ['PartialObjectMetadata', undefined],
      ]);
      for (const name of created) {
        const truth = await coreApi().readNamespace({ name });
        const cached = informer.get(undefined, name) as ObjectIdentity | undefined;
        expect(cached).toEqual({
          metadata: {
            name,
            uid: truth.metadata!.uid,
            resourceVersion: expect.any(String),
            labels: truth.metadata!.labels,
            creationTimestamp: truth.metadata!.creationTimestamp!.toISOString().replace('.000Z', 'Z'),
          },
        });
      }
    } finally {
      await informer.stop();
    }
  });
});
