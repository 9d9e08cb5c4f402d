/**
 * Turns the samples of one collection cycle into the alert's targets: one per container,
 * or one per pod summing its containers.
 */
import type { ContainerResources, ContainerSample } from '../model.js';
import type { AlertRule } from './rule.js';
import type { TargetRef } from './state.js';

/** A target's values in one cycle. A value is null when the sample had none (no metrics). */
export interface ObservedTarget {
  /** A sample of the target (its first container for the pod scope); see targetRef. */
  sample: ContainerSample;
  cpuMillicores: number | null;
  memoryBytes: number | null;
  resources: ContainerResources;
}

/**
 * The rule's targets in a cycle, keyed by targetKey. For the pod scope, usage is the sum of
 * the containers' usage (null if any container has no value), and a request or limit is the
 * sum of the containers' (absent if any container has none: like Kubernetes, a pod with one
 * unlimited container has no limit, so a percent-of-limit threshold has no basis).
 * A container that appears twice in a cycle counts once (the last sample wins).
 */
export function observeTargets(
  rule: Pick<AlertRule, 'scope' | 'selector'>,
  samples: readonly ContainerSample[],
): Map<string, ObservedTarget> {
  const containers = new Map<string, ObservedTarget>();
  for (const sample of samples) {
    if (rule.selector && !rule.selector(sample.labels)) continue;
    containers.set(`${sample.namespace}/${sample.pod}/${sample.container}`, {
      sample,
      cpuMillicores: sample.cpuMillicores,
      memoryBytes: sample.memoryBytes,
      resources: sample,
    });
  }
  return rule.scope === 'pod' ? sumPods(containers) : containers;
}

/** The target a sample belongs to (built once per new target: state keeps it, not the sample). */
export function targetRef(scope: AlertRule['scope'], sample: ContainerSample): TargetRef {
  return scope === 'pod'
    ? { namespace: sample.namespace, pod: sample.pod }
    : { namespace: sample.namespace, pod: sample.pod, container: sample.container };
}

function sumPods(containers: Map<string, ObservedTarget>): Map<string, ObservedTarget> {
  const pods = new Map<string, ObservedTarget>();
  for (const c of containers.values()) {
    const key = `${c.sample.namespace}/${c.sample.pod}`;
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
