/**
 * The operator's pod informer alone (its list/watch, the PodIndex transform and handlers), as a
 * process of its own (bundled by relist.bench.ts, run with plain node and --expose-gc). It syncs,
 * measures the heap after GC, then forces two re-lists through the path an expired watch takes
 * (the watch fails with 410): one where no pod changed, one where every pod changed (each listed
 * pod is handed on with a new resourceVersion, so that every one is transformed again and its old
 * cached form becomes garbage). The heap is sampled at every page and every 10 ms; a third re-list
 * (every pod changed) collects garbage at each page to measure what the re-list holds. Prints JSON.
 * Arguments: the kubeconfig path; `gather` to hand the list on whole once its last page is in
 * (every page held at once, as a list that is not applied page by page), for comparison.
 */
import { getHeapStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { PodIndex, type CachedPod } from '../operator/collector/pod-index.js';
import { silentLogger } from '../operator/logging.js';
import { Informer, type ListWatcher } from '../operator/runtime/informer.js';
import { KubeClients, loadKubeConfig } from '../operator/runtime/kube.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

interface Peak {
  heapUsed: number;
  heapTotal: number;
  rss: number;
  pages: number;
  /** The largest heap after a full GC at the page boundaries (only when `collectAtPages`). */
  live: number;
}
let peak: Peak = { heapUsed: 0, heapTotal: 0, rss: 0, pages: 0, live: 0 };
/** Collects garbage at each page, before and after it is applied, to measure what is held. */
let collectAtPages = false;
const sampleLive = (): void => {
  if (!collectAtPages) return;
  gc();
  peak.live = Math.max(peak.live, process.memoryUsage().heapUsed);
};
const sample = (): void => {
  const heap = getHeapStatistics();
  peak.heapUsed = Math.max(peak.heapUsed, heap.used_heap_size);
  peak.heapTotal = Math.max(peak.heapTotal, heap.total_heap_size);
  peak.rss = Math.max(peak.rss, process.memoryUsage.rss());
};
const resetPeak = (): void => {
  peak = { heapUsed: 0, heapTotal: 0, rss: 0, pages: 0, live: 0 };
  sample();
};
const settled = async (): Promise<{ heapUsed: number; heapTotal: number; rss: number }> => {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(200);
  }
  const { heapUsed, heapTotal, rss } = process.memoryUsage();
  return { heapUsed, heapTotal, rss };
};

const clients = new KubeClients(loadKubeConfig(process.argv[2]));
const gather = process.argv[3] === 'gather';
const served = clients.listWatcher<CachedPod>({ apiVersion: 'v1', kind: 'Pod', plural: 'pods' });
let lists = 0;
let changeEveryPod = false;
let expire: (() => void) | undefined;
const source: ListWatcher<CachedPod> = {
  async list(signal, onPage) {
    const gathered: CachedPod[] = [];
    const resourceVersion = await served.list(signal, (items) => {
      peak.pages++;
      sample(); // the page as served, parsed
      if (changeEveryPod)
        for (const pod of items)
          pod.metadata.resourceVersion = `${pod.metadata.resourceVersion ?? ''}.changed`;
      sampleLive();
      if (gather) gathered.push(...items);
      else onPage(items);
      sample(); // and its transformed pods
      sampleLive();
    });
    if (gather) {
      onPage(gathered);
      sample();
      sampleLive();
    }
    lists++;
    return resourceVersion;
  },
  watch(resourceVersion, onEvent, signal) {
    return new Promise((resolve, reject) => {
      expire = () => reject(Object.assign(new Error('too old resource version'), { code: 410 }));
      served.watch(resourceVersion, onEvent, signal).then(resolve, reject);
    });
  },
};
const index = new PodIndex(silentLogger());
const informer = new Informer<CachedPod>({
  name: 'pods',
  source,
  logger: silentLogger(),
  resyncPeriodMs: 0,
  transform: index.transform,
});
informer.addHandlers(index.handlers);
const sampler = setInterval(sample, 10);

const baseline = await settled();
resetPeak();
let t = performance.now();
informer.start();
await informer.waitForSync();
const initial = { ms: performance.now() - t, ...peak };
const pods = informer.list().length;
const steady = await settled();

/** Expires the watch, waits for the re-list to finish, and returns its figures. */
async function relist(): Promise<Peak & { ms: number; after: Awaited<ReturnType<typeof settled>> }> {
  const before = lists;
  while (!expire) await sleep(10);
  resetPeak();
  t = performance.now();
  const fire = expire;
  expire = undefined;
  fire();
  while (lists === before) await sleep(5);
  const ms = performance.now() - t;
  const figures = { ...peak, ms };
  return { ...figures, after: await settled() };
}
const unchanged = await relist();
changeEveryPod = true;
const changed = await relist();
collectAtPages = true;
const held = await relist();
clearInterval(sampler);
const cached = index.list().length;
await informer.stop();
process.stdout.write(
  JSON.stringify({ pods, cached, baseline, initial, steady, unchanged, changed, held }) + '\n',
);
