/**
 * Which workload a pod belongs to, by owner references: a pod owned by a ReplicaSet belongs to
 * the ReplicaSet's Deployment (when one owns it), a pod owned by a Job to the Job's CronJob (when
 * one owns it), a StatefulSet's or DaemonSet's pod to it, and a pod without a controller to
 * itself. Pods that no longer exist (replaced replicas: their history still counts) are matched
 * by name to the controllers the namespace has: `<replicaset>-<5 characters>`,
 * `<statefulset>-<ordinal>`, `<daemonset or job>-<5 characters>`; a pod matching none is its own
 * workload.
 */
import type { WorkloadRef } from '../../api/http/v1.js';
import type { OwnerRef } from '../collector/pod-cache.js';

export type { WorkloadRef };

/** The namespace's ReplicaSets and Jobs with their own controllers, read from the API. */
export interface OwnerLookup {
  /** Controllers of ReplicaSets and Jobs: `kind/name` -> its controller (absent: none). */
  controllers(namespace: string): Promise<ControllerIndex>;
}

export interface ControllerIndex {
  /** ReplicaSet and Job names with their controller (undefined: none). */
  owners: Map<string, WorkloadRef | undefined>;
}

const GENERATED_SUFFIX = /^[bcdfghjklmnpqrstvwxz2456789]{5}$/;

export function workloadKey(ref: WorkloadRef): string {
  return `${ref.kind}/${ref.name}`;
}

export class WorkloadResolver {
  /** Controllers seen owning live pods: StatefulSets, DaemonSets, ReplicaSets, Jobs. */
  private readonly known: OwnerRef[] = [];

  constructor(private readonly index: ControllerIndex) {
    for (const key of index.owners.keys()) {
      const slash = key.indexOf('/');
      this.known.push({ kind: key.slice(0, slash), name: key.slice(slash + 1) });
    }
  }

  /** Registers the controller of a live pod (so its deleted siblings are matched by name). */
  learn(owner: OwnerRef): void {
    if (!this.known.some((k) => k.kind === owner.kind && k.name === owner.name)) this.known.push(owner);
  }

  /** The workload of a live pod, from its controller reference. */
  ofOwner(pod: string, owner: OwnerRef | undefined): WorkloadRef {
    if (owner === undefined) return { kind: 'Pod', name: pod };
    if (owner.kind === 'ReplicaSet' || owner.kind === 'Job') {
      const parent = this.index.owners.get(workloadKey(owner));
      if (parent !== undefined) return parent;
    }
    return { kind: owner.kind, name: owner.name };
  }

  /** The workload of a pod that is gone, by its name; the longest matching controller wins. */
  ofName(pod: string): WorkloadRef {
    let best: OwnerRef | undefined;
    for (const owner of this.known) {
      if (!pod.startsWith(`${owner.name}-`)) continue;
      const rest = pod.slice(owner.name.length + 1);
      const matches = owner.kind === 'StatefulSet' ? /^\d+$/.test(rest) : GENERATED_SUFFIX.test(rest);
      if (matches && (best === undefined || owner.name.length > best.name.length)) best = owner;
    }
    return best === undefined ? { kind: 'Pod', name: pod } : this.ofOwner(pod, best);
  }
}

/** An OwnerLookup over a lister of the namespace's ReplicaSets and Jobs (KubeClients.controllerLister). */
export function ownerLookupOf(lister: {
  list(namespace: string): Promise<{ kind: string; name: string; owner: WorkloadRef | undefined }[]>;
}): OwnerLookup {
  return {
    async controllers(namespace) {
      const owners = new Map<string, WorkloadRef | undefined>();
      for (const c of await lister.list(namespace)) owners.set(workloadKey(c), c.owner);
      return { owners };
    },
  };
}
