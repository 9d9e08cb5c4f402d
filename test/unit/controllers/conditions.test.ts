/**
 * Every reason of the condition catalogue (api/v1alpha1/conditions.ts), reached by the real
 * reconcilers through fakes at their boundaries: a test per reason shows when it is set, and
 * the last test checks that none was left out.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { CONDITIONS } from '../../../api/v1alpha1/conditions.js';
import { CONDITION_OWNED_TYPES } from './owned.js';
import { alertSetup, collectingPolicy, RecordingEvents } from './alert-fixtures.js';
import type { CollectionControl, StoreHealth } from '../../../controllers/usagepolicy/reconcile.js';
import { UsagePolicyReconciler } from '../../../controllers/usagepolicy/reconcile.js';
import type { UsagePolicy } from '../../../api/v1alpha1/usagepolicy.js';
import type { CollectionTarget, PolicyCollectionState } from '../../../operator/collector/collector.js';
import type { PodInfo } from '../../../operator/collector/pod-cache.js';
import { silentLogger } from '../../../operator/logging.js';
import { ActivePolicyRegistry } from '../../../operator/policies/active-policies.js';
import { StatusWriter } from '../../../operator/runtime/status-writer.js';
import { FakeTimers } from '../runtime/fake-timers.js';
import { conditionOf, conditionsOf, ObjectStore, type StoredObject } from './fixtures.js';
import { waitFor } from '../../harness/wait.js';

type Kind = keyof typeof CONDITIONS;
const reached: Record<Kind, Set<string>> = { UsagePolicy: new Set(), ResourceAlert: new Set() };

/** Notes every reason the object's status shows now. */
function seen(kind: Kind, object: StoredObject | undefined): void {
  for (const c of conditionsOf(object)) reached[kind].add(`${c.type}/${c.reason}`);
}

const OPERATOR_NS = 'kube-usage-system';
const signal = new AbortController().signal;

// --- UsagePolicy ---------------------------------------------------------------------------

class FakeCollection implements CollectionControl {
  states = new Map<string, PolicyCollectionState>();
  scheduled = new Set<string>();
  targets = new Map<string, CollectionTarget>();
  onCollected(): void {}
  schedule(policy: string, _spec: unknown, target: CollectionTarget): void {
    this.scheduled.add(policy);
    this.targets.set(policy, target);
  }
  unschedule(policy: string): void {
    this.scheduled.delete(policy);
  }
  state(policy: string): PolicyCollectionState | undefined {
    return this.states.get(policy);
  }
}

function pod(namespace: string, name: string): PodInfo {
  return {
    namespace,
    name,
    uid: `${name}-uid`,
    node: 'node-1',
    labels: { app: 'web' },
    phase: 'Running',
    containers: [{ name: 'app', cpuRequestMillicores: 100 }],
  } as PodInfo;
}

function policySetup() {
  const clock = new FakeTimers();
  const objects = new ObjectStore<StoredObject>();
  const collection = new FakeCollection();
  const store = { dropped: 0, outageMessage: undefined as string | undefined };
  const health: StoreHealth = { droppedSamples: () => store.dropped, outage: () => store.outageMessage };
  const pods = [pod('shop', 'web-1'), pod('shop', 'web-2')];
  const reconciler = new UsagePolicyReconciler({
    caches: {
      policy: (ns, name) => objects.get(ns, name) as unknown as UsagePolicy | undefined,
      policies: () => objects.list() as unknown as UsagePolicy[],
      namespaces: () => [{ metadata: { name: 'shop' } }, { metadata: { name: OPERATOR_NS } }],
      pods: { list: (ns) => pods.filter((p) => ns === undefined || p.namespace === ns) },
    },
    collection,
    store: health,
    status: new StatusWriter(objects, { clock, ownedConditionTypes: CONDITION_OWNED_TYPES.UsagePolicy }),
    active: new ActivePolicyRegistry(),
    operatorNamespace: OPERATOR_NS,
    bounds: {
      maxRetention: { rawMs: 30 * 86_400_000, hourlyMs: 365 * 86_400_000, dailyMs: 800 * 86_400_000 },
      maxPoliciesPerNamespace: 2,
    },
    clock,
    logger: silentLogger(),
  });
  reconciler.startTerm();
  const reconcile = async (spec: Record<string, unknown>, namespace = 'shop') => {
    objects.put({ metadata: { namespace, name: 'web' }, spec });
    await reconciler.reconcile(`${namespace}/web`, signal);
    const object = objects.get(namespace, 'web');
    seen('UsagePolicy', object);
    return object;
  };
  return { clock, objects, collection, store, reconciler, reconcile };
}

/** A reconciler like policySetup's with a cluster-wide budget of `budget` containers. */
function budgetReconciler(
  objects: ObjectStore<StoredObject>,
  collection: FakeCollection,
  budget: number,
  requeued: string[],
): UsagePolicyReconciler {
  const pods = [pod('shop', 'web-1'), pod('shop', 'web-2')];
  const reconciler = new UsagePolicyReconciler({
    caches: {
      policy: (ns, name) => objects.get(ns, name) as unknown as UsagePolicy | undefined,
      policies: () => objects.list() as unknown as UsagePolicy[],
      namespaces: () => [{ metadata: { name: 'shop' } }],
      pods: { list: (ns) => pods.filter((p) => ns === undefined || p.namespace === ns) },
    },
    collection,
    store: { droppedSamples: () => 0, outage: () => undefined },
    status: new StatusWriter(objects, {
      clock: new FakeTimers(),
      ownedConditionTypes: CONDITION_OWNED_TYPES.UsagePolicy,
    }),
    active: new ActivePolicyRegistry(),
    operatorNamespace: OPERATOR_NS,
    bounds: {
      maxRetention: { rawMs: 30 * 86_400_000, hourlyMs: 365 * 86_400_000, dailyMs: 800 * 86_400_000 },
      maxPoliciesPerNamespace: 5,
      maxCollectedContainers: budget,
    },
    requeue: (keys) => requeued.push(...keys),
    clock: new FakeTimers(),
    logger: silentLogger(),
  });
  reconciler.startTerm();
  return reconciler;
}

const validPolicy = { selector: { matchLabels: { app: 'web' } }, interval: '30s' };

describe('UsagePolicy conditions', () => {
  it('Ready=True Collecting and Degraded=False AsExpected while a valid policy collects', async () => {
    const { reconcile, collection } = policySetup();
    const policy = await reconcile(validPolicy);
    expect(conditionOf(policy, 'Ready')).toMatchObject({ status: 'True', reason: 'Collecting' });
    expect(conditionOf(policy, 'Ready')!.message).toBe('collecting every 30s from namespace shop');
    expect(conditionOf(policy, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
    expect(policy!.status!.matchedPods).toBe(2);
    expect(collection.scheduled.has('shop/web')).toBe(true);
  });

  it('Ready=True Suspended when spec.suspend is set', async () => {
    const { reconcile } = policySetup();
    const policy = await reconcile({ ...validPolicy, suspend: true });
    expect(conditionOf(policy, 'Ready')).toMatchObject({ status: 'True', reason: 'Suspended' });
  });

  it('Ready=False InvalidSpec naming the field when the interval is out of bounds', async () => {
    const { reconcile, collection } = policySetup();
    const policy = await reconcile({ ...validPolicy, interval: '1s' });
    expect(conditionOf(policy, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(conditionOf(policy, 'Ready')!.message).toContain('spec.interval');
    expect(collection.scheduled.size).toBe(0);
  });

  it("Ready=False CrossNamespaceDenied for a namespaceSelector outside the operator's namespace", async () => {
    const { reconcile } = policySetup();
    const policy = await reconcile({ ...validPolicy, namespaceSelector: { matchNames: ['shop'] } });
    expect(conditionOf(policy, 'Ready')).toMatchObject({ status: 'False', reason: 'CrossNamespaceDenied' });
    expect(conditionOf(policy, 'Ready')!.message).toContain(OPERATOR_NS);
  });

  it("Ready=False RetentionAboveLimit when a retention level is above the admin's maximum", async () => {
    const { reconcile, collection } = policySetup();
    const policy = await reconcile({ ...validPolicy, retention: { raw: '90d' } });
    expect(conditionOf(policy, 'Ready')).toMatchObject({ status: 'False', reason: 'RetentionAboveLimit' });
    expect(conditionOf(policy, 'Ready')!.message).toContain('spec.retention.raw');
    expect(collection.scheduled.size).toBe(0);
  });

  it('Ready=False QuotaExceeded for the newest policy beyond the namespace quota', async () => {
    const { objects, reconciler } = policySetup();
    for (const [name, day] of [
      ['a', '01'],
      ['b', '02'],
      ['web', '03'],
    ] as const) {
      const metadata = { namespace: 'shop', name, creationTimestamp: `2026-11-${day}T00:00:00Z` };
      objects.put({ metadata: metadata as StoredObject['metadata'], spec: validPolicy });
    }
    await reconciler.reconcile('shop/web', signal);
    const policy = objects.get('shop', 'web');
    seen('UsagePolicy', policy);
    expect(conditionOf(policy, 'Ready')).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
    expect(conditionOf(policy, 'Ready')!.message).toContain('--max-policies-per-namespace');
  });

  it('Ready=False CollectionBudgetExceeded for the newer policy that does not fit in the cluster budget', async () => {
    const { objects, collection } = policySetup();
    const requeued: string[] = [];
    const reconciler = budgetReconciler(objects, collection, 3, requeued);
    // Two policies over the same 2 containers: the older fits (2 of 3), the newer does not (2 more).
    for (const [name, day] of [
      ['old', '01'],
      ['web', '02'],
    ] as const) {
      const metadata = { namespace: 'shop', name, creationTimestamp: `2026-11-${day}T00:00:00Z` };
      objects.put({ metadata: metadata as StoredObject['metadata'], spec: validPolicy });
    }
    await reconciler.reconcile('shop/old', signal);
    await reconciler.reconcile('shop/web', signal);
    const refused = objects.get('shop', 'web');
    seen('UsagePolicy', refused);
    expect(conditionOf(objects.get('shop', 'old'), 'Ready')).toMatchObject({ reason: 'Collecting' });
    expect(conditionOf(refused, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'CollectionBudgetExceeded',
    });
    expect(conditionOf(refused, 'Ready')!.message).toBe(
      "collecting this policy's 2 containers would exceed the cluster's collection budget: 2 of 3 containers " +
        "(--max-collected-containers) are collected by policies created earlier; narrow spec.selector, or ask the operator's admin to raise the budget; nothing is collected meanwhile",
    );
    expect([...collection.scheduled]).toEqual(['shop/old']);
    // The older one goes: its share frees, and the refused one is requeued and then collects.
    objects.delete('shop', 'old');
    await reconciler.reconcile('shop/old', signal);
    expect(requeued).toEqual(['shop/web']);
    await reconciler.reconcile('shop/web', signal);
    expect(conditionOf(objects.get('shop', 'web'), 'Ready')).toMatchObject({ reason: 'Collecting' });
  });

  it.each(['MetricsAPIUnavailable', 'MetricsListFailed'] as const)(
    'Degraded=True %s when the last cycle could not read usage',
    async (reason) => {
      const { reconcile, collection } = policySetup();
      collection.states.set('shop/web', {
        metricsSource: 'none',
        degraded: { reason, message: 'the metrics API said no' },
        lastCollectionTime: Date.parse('2026-11-21T10:00:00Z'),
        matchedPods: 2,
        matchedContainers: 2,
        podsWithoutMetrics: 2,
        duplicatePods: 0,
        skippedCycles: 0,
      });
      const policy = await reconcile(validPolicy);
      expect(conditionOf(policy, 'Degraded')).toMatchObject({
        status: 'True',
        reason,
        message: 'the metrics API said no',
      });
    },
  );

  it('Degraded=True NodesUnreadable naming the nodes, with the kubelet source in status and the retention in the target', async () => {
    const { reconcile, collection } = policySetup();
    const message = 'cannot read the resource metrics of node(s) node-2 (timeout): ...';
    collection.states.set('shop/web', {
      metricsSource: 'kubelet',
      degraded: { reason: 'NodesUnreadable', message, nodes: ['node-2'] },
      lastCollectionTime: Date.parse('2026-11-21T10:00:00Z'),
      matchedPods: 2,
      matchedContainers: 2,
      podsWithoutMetrics: 0,
      duplicatePods: 0,
      skippedCycles: 0,
    });
    const policy = await reconcile({ ...validPolicy, retention: { raw: '2h' } });
    expect(conditionOf(policy, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'NodesUnreadable',
      message,
    });
    expect(policy!.status!.metricsSource).toBe('kubelet');
    expect(collection.targets.get('shop/web')?.retention?.rawMs).toBe(7_200_000);
  });

  it('Degraded=True KubeletUnavailable naming the nodes while the cycles read metrics.k8s.io instead', async () => {
    const { reconcile, collection } = policySetup();
    const message =
      'cannot read the resource metrics of any node (node-1 (connection refused)); using metrics.k8s.io instead';
    collection.states.set('shop/web', {
      metricsSource: 'metrics.k8s.io',
      degraded: { reason: 'KubeletUnavailable', message, nodes: ['node-1'] },
      lastCollectionTime: Date.parse('2026-11-21T10:00:00Z'),
      matchedPods: 2,
      matchedContainers: 2,
      podsWithoutMetrics: 0,
      duplicatePods: 0,
      skippedCycles: 0,
    });
    const policy = await reconcile(validPolicy);
    expect(conditionOf(policy, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'KubeletUnavailable',
      message,
    });
    expect(policy!.status!.metricsSource).toBe('metrics.k8s.io');
  });

  it("gives the collection the policy's creation time (nothing before it is billed to its pods)", async () => {
    const { objects, reconciler, collection } = policySetup();
    objects.put({
      metadata: { namespace: 'shop', name: 'web', creationTimestamp: '2026-11-21T05:00:00Z' },
      spec: validPolicy,
    });
    await reconciler.reconcile('shop/web', signal);
    expect(collection.targets.get('shop/web')?.createdAt).toBe(Date.UTC(2026, 10, 21, 5, 0, 0));
  });

  it('Degraded=True StoreUnavailable while MongoDB is unreachable (outage buffer) or a write fails', async () => {
    const { reconcile, store, collection } = policySetup();
    store.outageMessage = 'MongoDB unreachable for 40s; 1200 samples wait in memory';
    let policy = await reconcile(validPolicy);
    expect(conditionOf(policy, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'StoreUnavailable',
      message: store.outageMessage,
    });
    store.outageMessage = undefined;
    collection.states.set('shop/web', {
      metricsSource: 'metrics.k8s.io',
      sinkError: 'write failed: not primary',
      matchedPods: 2,
      matchedContainers: 2,
      podsWithoutMetrics: 0,
      duplicatePods: 0,
      skippedCycles: 0,
    });
    policy = await reconcile(validPolicy);
    expect(conditionOf(policy, 'Degraded')).toMatchObject({
      reason: 'StoreUnavailable',
      message: 'write failed: not primary',
    });
  });

  it('Degraded=True SamplesDropped once the outage buffer dropped samples, with the count in status', async () => {
    const { reconcile, store } = policySetup();
    store.dropped = 12;
    const policy = await reconcile(validPolicy);
    expect(conditionOf(policy, 'Degraded')).toMatchObject({ status: 'True', reason: 'SamplesDropped' });
    expect(conditionOf(policy, 'Degraded')!.message).toContain('12 samples');
    expect(policy!.status!.droppedSamples).toBe(12);
  });

  it('a new term keeps lastCollectionTime and metricsSource until its own first cycle', async () => {
    const { objects, reconciler } = policySetup();
    objects.put({ metadata: { namespace: 'shop', name: 'web' }, spec: validPolicy });
    await objects.patchStatus('shop', 'web', {
      status: { lastCollectionTime: '2026-11-21T09:59:30Z', metricsSource: 'metrics.k8s.io' },
    });
    reconciler.startTerm(); // a new term: no cycle of this policy yet
    await reconciler.reconcile('shop/web', signal);
    expect(objects.get('shop', 'web')!.status).toMatchObject({
      lastCollectionTime: '2026-11-21T09:59:30Z',
      metricsSource: 'metrics.k8s.io',
    });
  });

  it('keeps conditions that other tools wrote', async () => {
    const { objects, reconciler } = policySetup();
    objects.put({ metadata: { namespace: 'shop', name: 'web' }, spec: validPolicy });
    const foreign = {
      type: 'example.com/Reviewed',
      status: 'True',
      reason: 'Approved',
      message: 'by the platform team',
      lastTransitionTime: '2026-11-20T08:00:00Z',
    };
    await objects.patchStatus('shop', 'web', { status: { conditions: [foreign] } });
    await reconciler.reconcile('shop/web', signal);
    const conditions = conditionsOf(objects.get('shop', 'web'));
    expect(conditions.map((c) => c.type)).toEqual(['example.com/Reviewed', 'Ready', 'Degraded']);
    expect(conditions[0]).toEqual(foreign);
  });
});

// --- ResourceAlert -------------------------------------------------------------------------

const cpuAlert = { policyRef: { name: 'web' }, cpu: { above: '800m' }, for: 2, recoverAfter: 1 };

describe('ResourceAlert conditions', () => {
  let setups: ReturnType<typeof alertSetup>[] = [];
  const setup = (options?: Parameters<typeof alertSetup>[0]) => {
    const s = alertSetup({ ...options, onStatus: (object) => seen('ResourceAlert', object) });
    setups.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(setups.map((s) => s.stopAll()));
    setups = [];
  });

  it('Ready=True Evaluating and Firing=Unknown AwaitingSamples before the first cycle', async () => {
    const { put, reconcile } = setup();
    put(cpuAlert);
    const alert = await reconcile();
    expect(conditionOf(alert, 'Ready')).toMatchObject({ status: 'True', reason: 'Evaluating' });
    expect(conditionOf(alert, 'Firing')).toMatchObject({ status: 'Unknown', reason: 'AwaitingSamples' });
  });

  it('Ready=True Suspended when spec.suspend is set', async () => {
    const { put, reconcile } = setup();
    put({ ...cpuAlert, suspend: true });
    expect(conditionOf(await reconcile(), 'Ready')).toMatchObject({ status: 'True', reason: 'Suspended' });
  });

  it('Ready=False InvalidSpec naming the field when a threshold is not a quantity', async () => {
    const { put, reconcile } = setup();
    put({ ...cpuAlert, cpu: { above: 'lots' } });
    const ready = conditionOf(await reconcile(), 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(ready!.message).toContain('spec.cpu.above');
  });

  it('Ready=False PolicyNotFound when spec.policyRef names no UsagePolicy', async () => {
    const { put, reconcile } = setup();
    put({ ...cpuAlert, policyRef: { name: 'nope' } });
    const ready = conditionOf(await reconcile(), 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'PolicyNotFound' });
    expect(ready!.message).toContain('"nope"');
  });

  it("Ready=False PolicyNotCollecting from the cached policy's own Ready (invalid, or suspended)", async () => {
    const { put, reconcile, policies } = setup();
    put(cpuAlert);
    for (const [status, reason] of [
      ['False', 'InvalidSpec'],
      ['True', 'Suspended'],
    ] as const) {
      policies.put({
        ...collectingPolicy,
        status: {
          conditions: [
            { type: 'Ready', status, reason, message: '', lastTransitionTime: '2026-11-21T09:00:00Z' },
          ],
        },
      });
      expect(conditionOf(await reconcile(), 'Ready')).toMatchObject({
        status: 'False',
        reason: 'PolicyNotCollecting',
      });
    }
    // ...and Ready again as soon as the policy reports that it collects.
    policies.put(collectingPolicy);
    expect(conditionOf(await reconcile(), 'Ready')).toMatchObject({ status: 'True', reason: 'Evaluating' });
  });

  it('Ready=False WebhookSecretUnavailable when the token Secret cannot be read', async () => {
    const { put, reconcile } = setup({
      secret: async () => {
        throw new Error('secrets "hook" not found');
      },
    });
    put({
      ...cpuAlert,
      notify: { webhook: { url: 'https://hooks.example.com/x', secretRef: { name: 'hook', key: 'token' } } },
    });
    const ready = conditionOf(await reconcile(), 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'WebhookSecretUnavailable' });
    expect(ready!.message).toContain('key "token" of Secret "hook" cannot be used');
  });

  it('Ready=False DestinationForbidden for a webhook to a private address the admin did not allow', async () => {
    const { put, reconcile } = setup();
    put({ ...cpuAlert, notify: { webhook: { url: 'https://10.20.30.40/hook' } } });
    const ready = conditionOf(await reconcile(), 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'DestinationForbidden' });
    expect(ready!.message).toContain('--webhook-allow');
  });

  it('Ready=False QuotaExceeded for the newest alert beyond the namespace quota; not evaluated, nothing sent', async () => {
    const { alerts, reconcile, reconciler, clock, cycleAt, queued } = setup({ maxAlertsPerNamespace: 1 });
    alerts.put({
      metadata: {
        namespace: 'shop',
        name: 'older',
        uid: 'u-0',
        creationTimestamp: '2026-11-01T00:00:00Z',
      } as StoredObject['metadata'],
      spec: cpuAlert,
    });
    alerts.put({
      metadata: {
        namespace: 'shop',
        name: 'web-hot',
        uid: 'u-1',
        creationTimestamp: '2026-11-02T00:00:00Z',
      } as StoredObject['metadata'],
      spec: { ...cpuAlert, for: 1 },
    });
    const alert = await reconcile();
    const ready = conditionOf(alert, 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
    expect(ready!.message).toContain("this namespace has 2 ResourceAlerts and the operator's admin allows 1");
    expect(ready!.message).toContain('--max-alerts-per-namespace');
    // A cycle far above the threshold evaluates the admitted alert only.
    await clock.advance(30_000);
    queued.length = 0;
    reconciler.pipeline.onCycle(cycleAt(clock.now(), 5_000));
    expect(queued).toEqual(['shop/older']);
    expect(conditionOf(await reconcile(), 'Firing')).toBeUndefined();
  });

  it('Ready=False AlertmanagerNotConfigured when the alert opts in but the operator has none', async () => {
    const { put, reconcile } = setup();
    put({ ...cpuAlert, notify: { alertmanager: {} } });
    const ready = conditionOf(await reconcile(), 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'AlertmanagerNotConfigured' });
    expect(ready!.message).toContain('--alertmanager-url');
  });

  it('Firing=False NoTargetsFiring below the threshold; True CPUThresholdExceeded after `for` cycles above', async () => {
    const { put, reconcile, cycles } = setup();
    put(cpuAlert);
    await reconcile();
    expect(conditionOf(await cycles([100]), 'Firing')).toMatchObject({
      status: 'False',
      reason: 'NoTargetsFiring',
    });
    expect(conditionOf(await cycles([900]), 'Firing')).toMatchObject({
      status: 'False',
      reason: 'NoTargetsFiring',
    });
    expect(conditionOf(await cycles([900]), 'Firing')).toMatchObject({
      status: 'True',
      reason: 'CPUThresholdExceeded',
    });
  });

  it('Firing=True MemoryThresholdExceeded, then BothThresholdsExceeded when CPU fires too', async () => {
    const { put, reconcile, cycles } = setup();
    put({ ...cpuAlert, memory: { above: '200Mi' } });
    await reconcile();
    const memory = await cycles([100, 100], [300, 300]);
    expect(conditionOf(memory, 'Firing')).toMatchObject({
      status: 'True',
      reason: 'MemoryThresholdExceeded',
    });
    const both = await cycles([900, 900], [300, 300]);
    expect(conditionOf(both, 'Firing')).toMatchObject({ status: 'True', reason: 'BothThresholdsExceeded' });
  });

  it('NotificationsFailing=True DeliveryFailed while Events cannot be written; False Delivered once they can', async () => {
    const events = new RecordingEvents();
    const { put, reconcile, cycles } = setup({ events });
    put(cpuAlert);
    await reconcile();
    events.failing = true;
    await cycles([900, 900]); // fires: the Event fails
    const failing = await waitForCondition(reconcile, 'NotificationsFailing', 'True');
    expect(conditionOf(failing, 'NotificationsFailing')).toMatchObject({ reason: 'DeliveryFailed' });
    expect(conditionOf(failing, 'NotificationsFailing')!.message).toContain('events are forbidden');
    events.failing = false;
    await cycles([100]); // resolves: this Event is delivered
    const delivered = await waitForCondition(reconcile, 'NotificationsFailing', 'False');
    expect(conditionOf(delivered, 'NotificationsFailing')).toMatchObject({ reason: 'Delivered' });
  });
});

/** Reconciles until the dispatcher's delivery result shows in the condition (deliveries are async). */
function waitForCondition(
  reconcile: () => Promise<StoredObject | undefined>,
  type: string,
  status: string,
): Promise<StoredObject | undefined> {
  return waitFor(
    `${type}=${status}`,
    async () => {
      const object = await reconcile();
      return conditionOf(object, type)?.status === status ? object : undefined;
    },
    { timeoutMs: 5_000, intervalMs: 1 },
  );
}

describe('the condition catalogue', () => {
  it('has every reason reached by the tests above', () => {
    for (const kind of Object.keys(CONDITIONS) as Kind[]) {
      const all = Object.entries(CONDITIONS[kind]).flatMap(([type, reasons]) =>
        Object.keys(reasons).map((reason) => `${type}/${reason}`),
      );
      expect(all.filter((r) => !reached[kind].has(r))).toEqual([]);
    }
  });

  it('holds every reason the tests above reached', () => {
    for (const kind of Object.keys(CONDITIONS) as Kind[]) {
      const all = new Set(
        Object.entries(CONDITIONS[kind]).flatMap(([type, reasons]) =>
          Object.keys(reasons).map((reason) => `${type}/${reason}`),
        ),
      );
      expect([...reached[kind]].filter((r) => !all.has(r))).toEqual([]);
    }
  });
});
