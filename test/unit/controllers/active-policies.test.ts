/**
 * The active policies have one writer, the UsagePolicy reconciler, and readers that see only
 * the registry: retention applies each active policy's retention, right-sizing summarizes each
 * one's namespace. Real reconciler, retention loop and right-sizing loop, fakes at their
 * boundaries (cache, status subresource, store, recommender).
 */
import { describe, expect, it } from '@jest/globals';
import type { UsagePolicy } from '../../../api/v1alpha1/usagepolicy.js';
import type { CollectionControl } from '../../../controllers/usagepolicy/reconcile.js';
import { UsagePolicyReconciler } from '../../../controllers/usagepolicy/reconcile.js';
import { silentLogger } from '../../../operator/logging.js';
import type { ObjectKey } from '../../../operator/model.js';
import { ActivePolicyRegistry } from '../../../operator/policies/active-policies.js';
import { RightsizingLoop } from '../../../operator/recommend/rightsizing-loop.js';
import { RetentionLoop } from '../../../operator/retention-loop.js';
import { StatusWriter } from '../../../operator/runtime/status-writer.js';
import { MemoryReportLedger } from '../recommend/memory-report-ledger.js';
import type { Retention } from '../../../api/v1alpha1/normalize.js';
import { FakeTimers } from '../runtime/fake-timers.js';
import { ObjectStore, type StoredObject } from './fixtures.js';

const signal = new AbortController().signal;
const DAY = 86_400_000;

const collection: CollectionControl = {
  onCollected: () => undefined,
  schedule: () => undefined,
  unschedule: () => undefined,
  state: () => undefined,
};

function setup() {
  const timers = new FakeTimers();
  const objects = new ObjectStore<StoredObject>();
  const active = new ActivePolicyRegistry();
  const reconciler = new UsagePolicyReconciler({
    caches: {
      policy: (ns, name) => objects.get(ns, name) as unknown as UsagePolicy | undefined,
      policies: () => objects.list() as unknown as UsagePolicy[],
      namespaces: () => [],
      pods: { list: () => [] },
    },
    collection,
    store: { droppedSamples: () => 0, outage: () => undefined },
    status: new StatusWriter(objects, { clock: timers }),
    active,
    operatorNamespace: 'kube-usage-system',
    clock: timers,
    logger: silentLogger(),
  });
  const applied: { policy: ObjectKey; rawMs: number }[] = [];
  const retention = new RetentionLoop({
    runner: {
      applyRetention: async (policy: ObjectKey, r: Retention) => {
        applied.push({ policy, rawMs: r.rawMs });
        return { deleted: 0 };
      },
    },
    policies: active,
    timers,
    logger: silentLogger(),
  });
  const summarized: string[] = [];
  const rightsizing = new RightsizingLoop({
    recommender: {
      recommend: async (q) => {
        summarized.push(q.namespace);
        return [];
      },
    },
    policies: () => active.keys(),
    events: { record: async () => undefined },
    reports: new MemoryReportLedger(),
    timers,
    logger: silentLogger(),
  });
  const reconcile = async (namespace: string, name: string, spec?: Record<string, unknown>) => {
    if (spec) objects.put({ metadata: { namespace, name }, spec });
    else objects.delete(namespace, name);
    await reconciler.reconcile(`${namespace}/${name}`, signal);
  };
  const retentionRun = async () => {
    applied.length = 0;
    await retention.runOnce();
    return [...applied];
  };
  const rightsizingRun = async () => {
    summarized.length = 0;
    await rightsizing.runOnce();
    return [...summarized];
  };
  return { reconciler, active, reconcile, retentionRun, rightsizingRun };
}

describe('the active policies', () => {
  it('are the valid, unsuspended policies the reconciler saw; retention and right-sizing act on those only', async () => {
    const { reconciler, active, reconcile, retentionRun, rightsizingRun } = setup();
    reconciler.startTerm();
    await reconcile('shop', 'web', { selector: {}, interval: '30s', retention: { raw: '2d' } });
    await reconcile('shop', 'batch', { selector: {}, interval: '30s', suspend: true });
    await reconcile('lab', 'broken', { selector: {}, interval: 'often' });
    await reconcile('lab', 'gpu', { selector: {}, interval: '1m', retention: { raw: '3d' } });

    expect([...active.keys()].sort()).toEqual(['lab/gpu', 'shop/web']);
    expect(active.get('shop/web')?.retention.rawMs).toBe(2 * DAY);
    expect(await retentionRun()).toEqual([
      { policy: 'shop/web', rawMs: 2 * DAY },
      { policy: 'lab/gpu', rawMs: 3 * DAY },
    ]);
    expect(await rightsizingRun()).toEqual(['shop', 'lab']);

    // Suspending one, deleting the other: neither is acted on any more.
    await reconcile('shop', 'web', { selector: {}, interval: '30s', suspend: true });
    await reconcile('lab', 'gpu');
    expect([...active.keys()]).toEqual([]);
    expect(await retentionRun()).toEqual([]);
    expect(await rightsizingRun()).toEqual([]);

    // Resumed: active again, with its spec as it is now.
    await reconcile('shop', 'web', { selector: {}, interval: '30s', retention: { raw: '5d' } });
    expect(await retentionRun()).toEqual([{ policy: 'shop/web', rawMs: 5 * DAY }]);
  });

  it('are none at the end of a term and at the start of the next, until its reconciles', async () => {
    const { reconciler, active, reconcile, retentionRun } = setup();
    reconciler.startTerm();
    await reconcile('shop', 'web', { selector: {}, interval: '30s' });
    expect([...active.keys()]).toEqual(['shop/web']);
    await reconciler.stopTerm();
    expect([...active.keys()]).toEqual([]);
    expect(await retentionRun()).toEqual([]);
    reconciler.startTerm();
    expect([...active.keys()]).toEqual([]);
    await reconciler.reconcile('shop/web', signal);
    expect([...active.keys()]).toEqual(['shop/web']);
  });
});
