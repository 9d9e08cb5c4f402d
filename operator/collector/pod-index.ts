/**
 * The pod cache as the collector and controllers read it. The pod informer caches, per pod,
 * only its identity and its PodInfo (converted once per change by {@link PodIndex.transform},
 * without managedFields or anything else the operator never reads); the index holds the same
 * PodInfo objects by namespace, not a second copy.
 */
import type { Logger } from '../logging.js';
import { errorMessage } from '../logging.js';
import { podInfoFromV1Pod, type PodInfo, type PodLister, type CollectorPod } from './pod-cache.js';

/** What the pod informer keeps of a pod. */
export interface CachedPod {
  metadata: { namespace?: string; name?: string; resourceVersion?: string; uid?: string };
  /** Undefined for a pod whose resources cannot be read (logged). */
  info?: PodInfo;
}

export class PodIndex implements PodLister {
  private readonly byNamespace = new Map<string, Map<string, PodInfo>>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The pod informer's transform: a pod as served -> what is cached of it. */
  readonly transform = (pod: CollectorPod & CachedPod): CachedPod => {
    const { namespace = '', name = '', resourceVersion, uid } = pod.metadata ?? {};
    const metadata = {
      namespace,
      name,
      ...(resourceVersion !== undefined && { resourceVersion }),
      ...(uid !== undefined && { uid }),
    };
    try {
      return { metadata, info: podInfoFromV1Pod(pod) };
    } catch (err) {
      // The apiserver validates quantities, so this is a pod it accepted and we cannot read.
      this.logger.warn('pod skipped: unreadable resources', { namespace, name, error: errorMessage(err) });
      return { metadata };
    }
  };

  /** Informer handlers: register with `informer.addHandlers(index.handlers)`. */
  readonly handlers = {
    onAdd: (pod: CachedPod): void => this.put(pod),
    onUpdate: (pod: CachedPod): void => this.put(pod),
    onDelete: (pod: CachedPod): void => this.delete(pod.metadata.namespace ?? '', pod.metadata.name ?? ''),
  };

  list(namespace?: string): readonly PodInfo[] {
    if (namespace !== undefined) return [...(this.byNamespace.get(namespace)?.values() ?? [])];
    return [...this.byNamespace.values()].flatMap((pods) => [...pods.values()]);
  }

  private put(pod: CachedPod): void {
    const { namespace = '', name = '' } = pod.metadata;
    if (!pod.info) return this.delete(namespace, name);
    let pods = this.byNamespace.get(namespace);
    if (!pods) this.byNamespace.set(namespace, (pods = new Map()));
    const cached = pods.get(name);
    pod.info.seenAt = cached !== undefined && cached.uid === pod.info.uid ? cached.seenAt : this.now();
    pods.set(name, pod.info);
  }

  private delete(namespace: string, name: string): void {
    const pods = this.byNamespace.get(namespace);
    pods?.delete(name);
    if (pods?.size === 0) this.byNamespace.delete(namespace);
  }
}
