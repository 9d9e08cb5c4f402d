/**
 * Turns the samples of one collection cycle into the alert's targets: one per container,
 * or one per pod summing its containers.
 */
import type { CollectionCycle, ContainerResources, ContainerSample } from '../model.js';
import type { AlertRule } from './rule.js';
import { targetKeyOf, type TargetRef } from './state.js';

/** A target's values in one cycle. A value is null when the sample had none (no metrics). */
export interface ObservedTarget {
  /** A sample of the target (its first container for the pod scope); see targetRef. */
  sample: ContainerSample;
  cpuMillicores: number | null;
  memoryBytes: number | null;
  resources: ContainerResources;
}

/** A cycle's targets, keyed by targetKey. Shared between the alerts of a cycle: never modified. */
export type ObservedTargets = ReadonlyMap<string, ObservedTarget>;

/** What every alert of a cycle shares: each sample as a container target, and the targets without a selector. */
interface CycleTargets {
  /** One per sample, in the cycle's order (a container sampled twice appears twice). */
  samples: readonly { key: string; target: ObservedTarget }[];
  containers: ObservedTargets;
  /** Built when an alert of the pod scope without a selector first asks. */
  pods?: ObservedTargets;
}

/**
 * All alerts of a policy evaluate the same cycle object, so the work that does not depend on
 * the alert is done once per cycle. The cycle is not modified once collected; entries go with it.
 */
const cycleTargets = new WeakMap<CollectionCycle, CycleTargets>();

/**
 * The rule's targets in a cycle, keyed by targetKey. For the pod scope, usage is the sum of
 * the containers' usage (null if any container has no value), and a request or limit is the
 * sum of the containers' (absent if any container has none: like Kubernetes, a pod with one
 * unlimited container has no limit, so a percent-of-limit threshold has no basis).
 * A container that appears twice in a cycle counts once (the last sample wins).
 */
export function observeTargets(
  rule: Pick<AlertRule, 'scope' | 'selector'>,
  cycle: CollectionCycle,
): ObservedTargets {
  const shared = targetsOf(cycle);
  if (!rule.selector) {
    if (rule.scope === 'container') return shared.containers;
    shared.pods ??= sumPods(shared.containers);
    return shared.pods;
  }
  const containers = new Map<string, ObservedTarget>();
  for (const { key, target } of shared.samples) {
    if (rule.selector(target.sample.labels)) containers.set(key, target);
  }
  return rule.scope === 'pod' ? sumPods(containers) : containers;
}

/** The target a sample belongs to (built once per new target: state keeps it, not the sample). */
export function targetRef(scope: AlertRule['scope'], sample: ContainerSample): TargetRef {
  return scope === 'pod'
    ? { namespace: sample.namespace, pod: sample.pod }
    : { namespace: sample.namespace, pod: sample.pod, container: sample.container };
}

function targetsOf(cycle: CollectionCycle): CycleTargets {
  let shared = cycleTargets.get(cycle);
  if (!shared) {
    const samples: CycleTargets['samples'][number][] = [];
    const containers = new Map<string, ObservedTarget>();
    for (const sample of cycle.samples) {
      const key = targetKeyOf(sample.namespace, sample.pod, sample.container);
      const target = {
        sample,
        cpuMillicores: sample.cpuMillicores,
        memoryBytes: sample.memoryBytes,
        resources: sample,
      };
      samples.push({ key, target });
      containers.set(key, target);
    }
    shared = { samples, containers };
    cycleTargets.set(cycle, shared);
  }
  return shared;
}

function sumPods(containers: ObservedTargets): Map<string, ObservedTarget> {
  const pods = new Map<string, ObservedTarget>();
  for (const c of containers.values()) {
    const key = targetKeyOf(c.sample.namespace, c.sample.pod);
    const pod = pods.get(key);
    if (!pod) {
      pods.set(key, { ...c });
      continue;
    }
    const a = pod.resources;
    const b = c.resources;
    pod.cpuMillicores = sum(pod.cpuMillicores, c.cpuMillicores) ?? null;
    pod.memoryBytes = sum(pod.memoryBytes, c.memoryBytes) ?? null;
    pod.resources = {
      cpuRequestMillicores: sum(a.cpuRequestMillicores, b.cpuRequestMillicores),
      cpuLimitMillicores: sum(a.cpuLimitMillicores, b.cpuLimitMillicores),
      memoryRequestBytes: sum(a.memoryRequestBytes, b.memoryRequestBytes),
      memoryLimitBytes: sum(a.memoryLimitBytes, b.memoryLimitBytes),
    };
  }
  return pods;
}

/** The sum, or undefined when either side is missing. */
function sum(a: number | null | undefined, b: number | null | undefined): number | undefined {
  return a === null || a === undefined || b === null || b === undefined ? undefined : a + b;
}
