import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock, ContainerSample } from '../model.js';
import type { HistoryQuery, HistoryResult, SummaryQuery, TopQuery, UsageQueries } from '../store/types.js';
import type { AgentView } from '../sources/agent/agent-readings.js';
import { ioAbsent } from './io-absent.js';
import { agentContainerFields, agentPodFields, containerName, NO_AGENTS } from './agent-present.js';
import { listPermission, podPermission, type AccessControl } from './auth.js';
import type { ResourceAttributes } from './auth-types.js';
import { ApiError } from './errors.js';
import {
  parseCurrentQuery,
  parseHistoryQuery,
  parsePodRef,
  parseSummaryQuery,
  parseTopQuery,
  type PodRef,
  type Scoped,
} from './validation.js';
import { formatInstant } from '../../api/timestamp.js';
import type {
  CurrentAnswer,
  CurrentContainer,
  HistoryAnswer,
  SummaryAnswer,
  TopAnswer,
} from '../../api/http/v1.js';

/*
 * The read endpoints and the permission each one asks SubjectAccessReview about:
 *
 *   GET /api/v1/namespaces/{ns}/pods/{pod}/usage              get pods in ns
 *     (CPU and memory from the store; network, block I/O and process counts from the agents)
 *   GET /api/v1/namespaces/{ns}/pods/{pod}/usage/history      get pods in ns
 *   GET /api/v1/usage/top?namespace={ns}, /usage/summary?...  list pods in ns
 *   GET /api/v1/usage/top, /api/v1/usage/summary              list pods cluster-wide
 *
 * A tenant with `view` in its namespaces therefore reads its own pods and its own top and
 * chargeback (with namespace=), and nothing of other tenants; cluster-wide rankings and
 * summaries need cluster-wide `list pods`, because they name pods of every namespace.
 */

/**
 * One read endpoint: how its request is parsed, which permission it needs, and what it answers.
 * Every endpoint runs the same steps: authenticate (401), parse (400), authorize (403), answer.
 */
interface UsageRoute<P> {
  url: string;
  parse(request: FastifyRequest, now: number): P;
  permission(params: P): ResourceAttributes;
  answer(params: P): Promise<unknown>;
}

export interface UsageRoutesDeps {
  queries: UsageQueries;
  access: AccessControl;
  clock: Clock;
  /** The node agents' latest readings; absent: the operator reads no agents. */
  agents?: AgentView;
}

export function registerUsageRoutes(app: FastifyInstance, deps: UsageRoutesDeps): void {
  const add = <P>(route: UsageRoute<P>) =>
    app.get(route.url, async (request) => {
      const user = await deps.access.authenticate(request.headers.authorization);
      const params = route.parse(request, deps.clock.now());
      await deps.access.authorize(user, route.permission(params));
      return route.answer(params);
    });
  const { queries } = deps;

  add<PodRef>({
    url: '/api/v1/namespaces/:namespace/pods/:pod/usage',
    parse: (request) => {
      const pod = parsePodRef(request.params);
      parseCurrentQuery(request.query);
      return pod;
    },
    permission: (pod) => podPermission(pod.namespace),
    answer: async (pod): Promise<CurrentAnswer> => {
      const samples = await queries.latest(pod.namespace, pod.pod);
      const found = deps.agents ? deps.agents.pod(pod.namespace, pod.pod) : { absent: NO_AGENTS };
      if (samples.length === 0 && 'absent' in found) {
        throw new ApiError(404, `no usage recorded for the pod "${pod.namespace}/${pod.pod}"`);
      }
      // The agent's containers by name; those the store has no sample of yet are listed too.
      const agentContainers = new Map(
        'absent' in found ? [] : found.pod.containers.map((c) => [containerName(c), c]),
      );
      const names = [...samples.map((s) => s.container)];
      for (const name of agentContainers.keys()) if (!names.includes(name)) names.push(name);
      const bySample = new Map(samples.map((s) => [s.container, s]));
      const { agent, network, absent } = agentPodFields(found, names);
      return {
        namespace: pod.namespace,
        pod: pod.pod,
        agent,
        network,
        containers: names.map((name) => {
          const sample = bySample.get(name);
          return {
            ...(sample ? presentSample(sample) : { ...NO_SAMPLE, container: name }),
            ...agentContainerFields(agentContainers.get(name)),
          };
        }),
        absent: [
          ...names
            .filter((name) => !bySample.has(name))
            .map((name) => ({
              field: `containers[${name}].cpuMillicores`,
              reason: 'no sample of this container recorded yet (no UsagePolicy collects it, or not yet)',
            })),
          ...absent,
        ],
      };
    },
  });
  add<HistoryQuery>({
    url: '/api/v1/namespaces/:namespace/pods/:pod/usage/history',
    parse: (request, now) => parseHistoryQuery(parsePodRef(request.params), request.query, now),
    permission: (query) => podPermission(query.namespace),
    answer: async (query) => presentHistory(query, await queries.history(query)),
  });
  add<Scoped<TopQuery>>({
    url: '/api/v1/usage/top',
    parse: (request, now) => parseTopQuery(request.query, now),
    permission: (scoped) => listPermission(scoped.namespace),
    answer: async ({ namespace, query }): Promise<TopAnswer> => {
      const { items, coverage } = await queries.top(query);
      return {
        metric: query.metric,
        unit: query.metric === 'cpu' ? 'millicores' : 'bytes',
        ...(namespace === undefined ? {} : { namespace }),
        from: formatInstant(query.from),
        to: formatInstant(query.to),
        coverage,
        items: items.map((item) => ({ ...item, io: item.io ?? null })),
        absent: ioAbsent(items, (i) => `items[${i.namespace}/${i.pod}/${i.container}].io`),
      };
    },
  });
  add<Scoped<SummaryQuery>>({
    url: '/api/v1/usage/summary',
    parse: (request, now) => parseSummaryQuery(request.query, now),
    permission: (scoped) => listPermission(scoped.namespace),
    answer: async ({ namespace, query }): Promise<SummaryAnswer> => {
      const { items, coverage } = await queries.summary(query);
      return {
        groupBy: query.groupBy.kind === 'label' ? `label:${query.groupBy.key}` : query.groupBy.kind,
        ...(namespace === undefined ? {} : { namespace }),
        from: formatInstant(query.from),
        to: formatInstant(query.to),
        // How much of the window had data (docs/accounting.md): gaps show instead of passing silently.
        coverage,
        items: items.map((item) => ({ ...item, io: item.io ?? null })),
        absent: ioAbsent(items, (i) => `items[${i.group}].io`),
      };
    },
  });
}

/** The fields of a container's answer that come from its latest sample. */
type SampleFields = Omit<CurrentContainer, 'cgroupCpu' | 'blockIo' | 'processCount'>;

/** The sample fields of a container only the agents know (no UsagePolicy collects it yet). */
const NO_SAMPLE: Omit<SampleFields, 'container'> = {
  containerType: null,
  node: null,
  policy: null,
  time: null,
  cpuMillicores: null,
  memoryBytes: null,
  cpuRequestMillicores: null,
  cpuLimitMillicores: null,
  memoryRequestBytes: null,
  memoryLimitBytes: null,
  cpuPercentOfRequest: null,
  cpuPercentOfLimit: null,
  memoryPercentOfRequest: null,
  memoryPercentOfLimit: null,
  uptimeSeconds: null,
  intervalSeconds: null,
  labels: {},
};

function presentSample(sample: ContainerSample): SampleFields {
  return {
    container: sample.container,
    containerType: sample.containerType ?? 'container',
    node: sample.node,
    policy: sample.policy,
    time: formatInstant(sample.time),
    cpuMillicores: sample.cpuMillicores,
    memoryBytes: sample.memoryBytes,
    cpuRequestMillicores: sample.cpuRequestMillicores,
    cpuLimitMillicores: sample.cpuLimitMillicores,
    memoryRequestBytes: sample.memoryRequestBytes,
    memoryLimitBytes: sample.memoryLimitBytes,
    cpuPercentOfRequest: sample.cpuPercentOfRequest,
    cpuPercentOfLimit: sample.cpuPercentOfLimit,
    memoryPercentOfRequest: sample.memoryPercentOfRequest,
    memoryPercentOfLimit: sample.memoryPercentOfLimit,
    uptimeSeconds: sample.uptimeSeconds,
    intervalSeconds: sample.intervalSeconds,
    labels: Object.fromEntries(sample.labels.map((label) => [label.k, label.v])),
  };
}

function presentHistory(query: HistoryQuery, result: HistoryResult): HistoryAnswer {
  return {
    namespace: query.namespace,
    pod: query.pod,
    from: formatInstant(query.from),
    to: formatInstant(query.to),
    granularity: result.granularity,
    containers: result.containers.map((container) => ({
      container: container.container,
      points: container.points.map((point) => ({
        ...point,
        io: point.io ?? null,
        time: formatInstant(point.time),
      })),
    })),
    // A container none of whose points has I/O: no agent reported it in the range.
    absent: ioAbsent(
      result.containers.map((c) => ({ container: c.container, io: c.points.find((p) => p.io)?.io })),
      (c) => `containers[${c.container}].points[].io`,
    ),
  };
}
