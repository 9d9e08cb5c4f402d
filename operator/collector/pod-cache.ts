/**
 * What the collector needs to know about a pod, taken from the pod cache: where it runs, its
 * labels, its containers' requests, limits and start times. Converted once per pod change.
 */
import type { ContainerResources, ContainerType } from '../model.js';
import { parseCpuMillicores, parseMemoryBytes } from '../../api/quantity.js';

export interface ContainerInfo extends ContainerResources {
  name: string;
  /** When the running container started (else when the pod started), ms since epoch. */
  startedAt?: number;
  /**
   * `init` for an init container (listed while it runs), `sidecar` for an init container with
   * `restartPolicy: Always`; absent for a regular container.
   */
  type?: Exclude<ContainerType, 'container'>;
  /** Why and when its previous instance ended (`lastState.terminated`), e.g. `OOMKilled`. */
  lastTermination?: { reason: string; finishedAt?: number };
}

/** The pod's controller (the owner reference with `controller: true`). */
export interface OwnerRef {
  kind: string;
  name: string;
}

export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  /** Node name; empty while unscheduled. */
  node: string;
  labels: Record<string, string>;
  /** `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`. */
  phase: string;
  startTime?: number;
  containers: ContainerInfo[];
  /** The controller that owns the pod; absent for a bare pod. */
  owner?: OwnerRef;
  /** When the pod cache first held the pod (this UID), ms since epoch by the operator's clock. */
  seenAt?: number;
}

/** The pod cache, read-only. Implemented over the pod informer. */
export interface PodLister {
  /** Pods of one namespace, or of all namespaces when absent. */
  list(namespace?: string): readonly PodInfo[];
}

/**
 * The fields of a core/v1 Pod that the collector reads, as the API serves them (the collector
 * does not depend on the Kubernetes client's types).
 */
export interface CollectorPod {
  metadata?: {
    namespace?: string;
    name?: string;
    uid?: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind?: string; name?: string; controller?: boolean }[];
  };
  spec?: { nodeName?: string; containers?: ContainerSpec[]; initContainers?: ContainerSpec[] };
  status?: {
    phase?: string;
    startTime?: Date | string;
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

interface ContainerSpec {
  name: string;
  restartPolicy?: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

interface ContainerStatus {
  name: string;
  state?: { running?: { startedAt?: Date | string } };
  lastState?: { terminated?: { reason?: string; finishedAt?: Date | string } };
}

/** Timestamps come as Date from list calls and as RFC 3339 strings from watch events. */
function millis(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function quantity(
  values: Record<string, string> | undefined,
  key: string,
  parse: (quantity: string) => number,
  field: string,
): number | undefined {
  const value = values?.[key];
  if (value === undefined) return undefined;
  try {
    return parse(value);
  } catch (err) {
    throw new Error(`${field}.${key}: ${(err as Error).message}`, { cause: err });
  }
}

function containerInfo(
  container: ContainerSpec,
  status: ContainerStatus | undefined,
  podStart: number | undefined,
  field: string,
): ContainerInfo {
  const { requests, limits } = container.resources ?? {};
  const info: ContainerInfo = { name: container.name };
  const cpuRequest = quantity(requests, 'cpu', parseCpuMillicores, `${field}.resources.requests`);
  const cpuLimit = quantity(limits, 'cpu', parseCpuMillicores, `${field}.resources.limits`);
  const memoryRequest = quantity(requests, 'memory', parseMemoryBytes, `${field}.resources.requests`);
  const memoryLimit = quantity(limits, 'memory', parseMemoryBytes, `${field}.resources.limits`);
  if (cpuRequest !== undefined) info.cpuRequestMillicores = cpuRequest;
  if (cpuLimit !== undefined) info.cpuLimitMillicores = cpuLimit;
  if (memoryRequest !== undefined) info.memoryRequestBytes = memoryRequest;
  if (memoryLimit !== undefined) info.memoryLimitBytes = memoryLimit;
  const startedAt = millis(status?.state?.running?.startedAt) ?? podStart;
  if (startedAt !== undefined) info.startedAt = startedAt;
  const terminated = status?.lastState?.terminated;
  if (terminated?.reason !== undefined) {
    const finishedAt = millis(terminated.finishedAt);
    info.lastTermination = { reason: terminated.reason, ...(finishedAt !== undefined && { finishedAt }) };
  }
  return info;
}

/**
 * Converts a pod from the API. Covers regular containers, sidecars (init containers with
 * `restartPolicy: Always`) and the other init containers while they run: the kubelet reports every
 * running container of a pod, and an init container is billed like any other while it runs (once
 * it has finished it is left out, so it gets no uptime-only samples).
 * Throws an error naming the field when a request or limit is not a valid quantity.
 */
export function podInfoFromV1Pod(pod: CollectorPod): PodInfo {
  const namespace = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const field = `pod ${namespace}/${name}: spec`;
  const startTime = millis(pod.status?.startTime);
  const statuses = new Map<string, ContainerStatus>();
  for (const status of [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ]) {
    statuses.set(status.name, status);
  }
  const inits = (pod.spec?.initContainers ?? []).flatMap((c, i) => {
    const status = statuses.get(c.name);
    const sidecar = c.restartPolicy === 'Always';
    if (!sidecar && status?.state?.running === undefined) return [];
    const type: Exclude<ContainerType, 'container'> = sidecar ? 'sidecar' : 'init';
    return [{ ...containerInfo(c, status, startTime, `${field}.initContainers[${i}]`), type }];
  });
  const containers = (pod.spec?.containers ?? []).map((c, i) =>
    containerInfo(c, statuses.get(c.name), startTime, `${field}.containers[${i}]`),
  );
  const info: PodInfo = {
    namespace,
    name,
    uid: pod.metadata?.uid ?? '',
    node: pod.spec?.nodeName ?? '',
    labels: pod.metadata?.labels ?? {},
    phase: pod.status?.phase ?? 'Unknown',
    containers: [...inits, ...containers],
  };
  if (startTime !== undefined) info.startTime = startTime;
  const owner = pod.metadata?.ownerReferences?.find((r) => r.controller === true);
  if (owner?.kind !== undefined && owner.name !== undefined)
    info.owner = { kind: owner.kind, name: owner.name };
  return info;
}
