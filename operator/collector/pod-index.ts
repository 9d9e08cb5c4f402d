/**
 * The pod cache as the collector and controllers read it: PodInfo per pod, converted once per
 * change from the pod informer's events, indexed by namespace.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../logging.js';
import { errorMessage } from '../logging.js';
import { podInfoFromV1Pod, type PodInfo, type PodLister } from './pod-cache.js';

export class PodIndex implements PodLister {
  private readonly byNamespace = new Map<string, Map<string, PodInfo>>();

  constructor(private readonly logger: Logger) {}

  /** Informer handlers: register with `informer.addHandlers(index.handlers)`. */
  readonly handlers = {
    onAdd: (pod: V1Pod): void => this.put(pod),
    onUpdate: (pod: V1Pod): void => this.put(pod),
    onDelete: (pod: V1Pod): void => {
      const { namespace = '', name = '' } = pod.metadata ?? {};
      const pods = this.byNamespace.get(namespace);
      pods?.delete(name);
      if (pods?.size === 0) this.byNamespace.delete(namespace);
    },
  };

  list(namespace?: string): readonly PodInfo[] {
    if (namespace !== undefined) return [...(this.byNamespace.get(namespace)?.values() ?? [])];
    return [...this.byNamespace.values()].flatMap((pods) => [...pods.values()]);
  }

  private put(pod: V1Pod): void {
    const { namespace = '', name = '' } = pod.metadata ?? {};
    let info: PodInfo;
    try {
      info = podInfoFromV1Pod(pod);
    } catch (err) {
      // The apiserver validates quantities, so this is a pod it accepted and we cannot read.
      this.logger.warn('pod skipped: unreadable resources', { namespace, name, error: errorMessage(err) });
      return;
    }
    let pods = this.byNamespace.get(namespace);
    if (!pods) this.byNamespace.set(namespace, (pods = new Map()));
    pods.set(name, info);
  }
}
