import type { FastifyInstance } from 'fastify';
import type { AgentView } from '../sources/agent/agent-readings.js';
import { podPermission, type AccessControl } from './auth.js';
import type { ResourceAttributes } from './auth-types.js';
import { containerName, NO_AGENTS, presentHost, presentProcess } from './agent-present.js';
import { ApiError } from './errors.js';
import { parseCurrentQuery, parseNodeRef, parsePodRef } from './validation.js';

/*
 * The node agents' readings (the latest, at most a few read intervals old):
 *
 *   GET /api/v1/nodes/{node}/usage                        get nodes {node}
 *   GET /api/v1/namespaces/{ns}/pods/{pod}/processes      get pods in ns
 *
 * A node's host statistics are the node's, so they need what `kubectl get node` needs; a pod's
 * processes are the pod's, so they need what its usage needs. Without a reading (no agents, the
 * node's agent absent or unreadable): 404 with the reason.
 */

export interface AgentRoutesDeps {
  access: AccessControl;
  /** Absent: the operator reads no agents. */
  agents?: AgentView;
}

export function nodePermission(node: string): ResourceAttributes {
  return { verb: 'get', resource: 'nodes', name: node };
}

export function registerAgentRoutes(app: FastifyInstance, deps: AgentRoutesDeps): void {
  const { access, agents } = deps;

  app.get('/api/v1/nodes/:node/usage', async (request) => {
    const user = await access.authenticate(request.headers.authorization);
    const { node } = parseNodeRef(request.params);
    parseCurrentQuery(request.query);
    await access.authorize(user, nodePermission(node));
    const found = agents ? agents.node(node) : { absent: NO_AGENTS };
    if ('absent' in found)
      throw new ApiError(404, `no host statistics of the node "${node}": ${found.absent}`);
    return presentHost(node, found.report.host, found.report);
  });

  app.get('/api/v1/namespaces/:namespace/pods/:pod/processes', async (request) => {
    const user = await access.authenticate(request.headers.authorization);
    const { namespace, pod } = parsePodRef(request.params);
    parseCurrentQuery(request.query);
    await access.authorize(user, podPermission(namespace));
    const found = agents ? agents.pod(namespace, pod) : { absent: NO_AGENTS };
    if ('absent' in found)
      throw new ApiError(404, `no processes of the pod "${namespace}/${pod}": ${found.absent}`);
    return {
      namespace,
      pod,
      node: found.report.node,
      containers: found.pod.containers.map((c) => ({
        container: containerName(c),
        containerId: c.id,
        time: new Date(c.time).toISOString(),
        count: c.processes.count,
        top: c.processes.top.map(presentProcess),
      })),
    };
  });
}
