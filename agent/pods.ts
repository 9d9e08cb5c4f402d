/** The pods of this node as the agent needs them, from the API's JSON. */
import type { KnownPod } from './collect.js';

/** The fields of a core/v1 Pod the agent reads (plain JSON, as the informer serves it). */
export interface AgentPod {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  spec?: { hostNetwork?: boolean; containers?: { name: string }[]; initContainers?: { name: string }[] };
  status?: {
    phase?: string;
    containerStatuses?: { name: string; containerID?: string }[];
    initContainerStatuses?: { name: string; containerID?: string }[];
    ephemeralContainerStatuses?: { name: string; containerID?: string }[];
  };
}

type Status = { name: string; containerID?: string };
const statuses = (list: Status[] | undefined): Status[] | undefined =>
  list?.map(({ name, containerID }) => (containerID === undefined ? { name } : { name, containerID }));

/**
 * The pod informer's transform: only the fields above are kept of a pod as it arrives (not its
 * managedFields, volumes, env, probes, conditions...).
 */
export function podFields(pod: AgentPod): AgentPod {
  const { name, namespace, uid, resourceVersion } = pod.metadata ?? {};
  const { spec, status } = pod;
  return {
    metadata: { name, namespace, uid, resourceVersion },
    spec: {
      ...(spec?.hostNetwork !== undefined && { hostNetwork: spec.hostNetwork }),
      containers: spec?.containers?.map(({ name }) => ({ name })),
      initContainers: spec?.initContainers?.map(({ name }) => ({ name })),
    },
    status: {
      phase: status?.phase,
      containerStatuses: statuses(status?.containerStatuses),
      initContainerStatuses: statuses(status?.initContainerStatuses),
      ephemeralContainerStatuses: statuses(status?.ephemeralContainerStatuses),
    },
  };
}

/** A pod that can have cgroups: scheduled here and not finished. */
export function knownPod(pod: AgentPod): KnownPod | undefined {
  const { name, namespace, uid } = pod.metadata ?? {};
  if (!name || !namespace || !uid) return undefined;
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return undefined;
  const statuses = [
    ...(pod.status?.containerStatuses ?? []),
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.ephemeralContainerStatuses ?? []),
  ];
  const containers = statuses.map((s) =>
    s.containerID ? { name: s.name, containerID: s.containerID } : { name: s.name },
  );
  for (const c of pod.spec?.containers ?? [])
    if (!containers.some((k) => k.name === c.name)) containers.push({ name: c.name });
  return { namespace, name, uid, hostNetwork: pod.spec?.hostNetwork === true, containers };
}
