/**
 * The cluster-wide collection budget (--max-collected-containers): its decision runs over every
 * policy that would collect, at each reconcile of a policy, so a full resync costs policies^2.
 * Prints the time of one reconcile with and without a budget for 100 and 1,000 policies
 * (10 namespaces' worth of policies each over 10 pods of 2 containers).
 */
import { performance } from 'node:perf_hooks';
import type { UsagePolicy } from '../api/v1alpha1/usagepolicy.js';
import type { PodInfo } from '../operator/collector/pod-cache.js';
import { UsagePolicyReconciler } from '../controllers/usagepolicy/reconcile.js';
import { silentLogger } from '../operator/logging.js';
import { ActivePolicyRegistry } from '../operator/policies/active-policies.js';

const signal = new AbortController().signal;

function fleet(policies: number) {
  const list: UsagePolicy[] = [];
  const pods: PodInfo[] = [];
  const namespaces = Math.max(1, Math.ceil(policies / 10));
  for (let n = 0; n < namespaces; n++) {
    for (let p = 0; p < 10; p++)
      pods.push({
        namespace: `ns-${n}`,
        name: `web-${p}`,
        uid: `u-${n}-${p}`,
        node: 'node-1',
        labels: { app: 'web' },
        phase: 'Running',
        containers: [
          { name: 'a', cpuRequestMillicores: 100 },
          { name: 'b', cpuRequestMillicores: 100 },
        ],
      } as PodInfo);
  }
  for (let i = 0; i < policies; i++)
    list.push({
      apiVersion: 'usage.kubeusage.dev/v1alpha1',
      kind: 'UsagePolicy',
      metadata: {
        namespace: `ns-${i % namespaces}`,
        name: `p-${i}`,
        creationTimestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      },
      spec: { selector: { matchLabels: { app: 'web' } }, interval: '30s' },
    } as unknown as UsagePolicy);
  return { list, pods };
}

function reconciler(policies: UsagePolicy[], pods: PodInfo[], budget: number | undefined) {
  const byKey = new Map(policies.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  // Pods by namespace, as the operator's PodIndex keeps them.
  const podsOf = new Map<string, PodInfo[]>();
  for (const pod of pods) podsOf.set(pod.namespace, [...(podsOf.get(pod.namespace) ?? []), pod]);
  const r = new UsagePolicyReconciler({
    caches: {
      policy: (ns, name) => byKey.get(`${ns}/${name}`),
      policies: () => policies,
      namespaces: () => [],
      pods: { list: (ns) => (ns === undefined ? pods : (podsOf.get(ns) ?? [])) },
    },
    collection: { onCollected: () => {}, schedule: () => {}, unschedule: () => {}, state: () => undefined },
    store: { droppedSamples: () => 0, outage: () => undefined },
    status: { write: async () => false },
    active: new ActivePolicyRegistry(),
    operatorNamespace: 'kube-usage-system',
    bounds: {
      maxRetention: { rawMs: 30 * 86_400_000, hourlyMs: 400 * 86_400_000, dailyMs: 1830 * 86_400_000 },
      maxPoliciesPerNamespace: 100,
      ...(budget !== undefined && { maxCollectedContainers: budget }),
    },
    requeue: () => {},
    clock: { now: () => Date.now() },
    logger: silentLogger(),
  });
  r.startTerm();
  return r;
}

export async function run(): Promise<void> {
  for (const policies of [100, 1000]) {
    const { list, pods } = fleet(policies);
    for (const budget of [undefined, (policies * 20) / 2]) {
      const r = reconciler(list, pods, budget);
      const keys = list.map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
      const rounds = Math.min(keys.length, 200);
      for (let i = 0; i < 20; i++) await r.reconcile(keys[i % keys.length]!, signal);
      const start = performance.now();
      for (let i = 0; i < rounds; i++) await r.reconcile(keys[i]!, signal);
      const perReconcile = (performance.now() - start) / rounds;
      console.log(
        `${policies} policies, ${budget === undefined ? 'no budget' : `budget ${budget} containers`}: ` +
          `${perReconcile.toFixed(3)} ms per reconcile; a full resync ${((perReconcile * policies) / 1000).toFixed(2)} s`,
      );
    }
  }
}
