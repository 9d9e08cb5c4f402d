/**
 * How a source joins what it reads (a container named by namespace, pod and container) with the
 * caller's pods, for the pod UID (with the container name, the identity of a series) and the
 * node. Shared by the kubelet and metrics API sources. Pure.
 */

/** What a source needs to know about a pod; implemented over the caller's pod cache. */
export interface PodLookup {
  /** The pod with this namespace and name, or undefined when the cache does not know it. */
  pod(namespace: string, name: string): { uid: string; node: string } | undefined;
}

/** A PodLookup over a list of pods (e.g. the pods a cycle selected), indexed once. */
export function podLookup(
  pods: Iterable<{ namespace: string; name: string; uid: string; node: string }>,
): PodLookup {
  const index = new Map<string, Map<string, { uid: string; node: string }>>();
  for (const p of pods) {
    let names = index.get(p.namespace);
    if (names === undefined) index.set(p.namespace, (names = new Map()));
    names.set(p.name, { uid: p.uid, node: p.node });
  }
  return { pod: (namespace, name) => index.get(namespace)?.get(name) };
}
