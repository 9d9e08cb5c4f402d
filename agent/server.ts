/**
 * The agent's HTTPS endpoint. Like the kubelet's: a caller presents a bearer token, the agent
 * reviews it (TokenReview) and asks whether the caller may `get nodes/stats` (for /stats) or
 * `get nodes/metrics` (for /metrics) of this node (SubjectAccessReview). /healthz is open.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessControl } from '../operator/http/auth.js';
import { ApiError, errorBody } from '../operator/http/errors.js';
import type { ResourceAttributes } from '../operator/http/auth-types.js';
import { errorMessage, type Logger } from '../operator/logging.js';
import type { AgentMetrics } from './metrics.js';
import type { NodeReport } from './types.js';

export interface AgentServerOptions {
  nodeName: string;
  address: string;
  port: number;
  cert: string;
  key: string;
  access: AccessControl;
  metrics: AgentMetrics;
  /** The latest read of the node (at most the agent's --min-interval old). */
  report: () => Promise<NodeReport>;
  logger: Logger;
}

export interface AgentServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The permission each path needs, on this node. */
function permission(path: string, node: string): ResourceAttributes | undefined {
  if (path === '/stats') return { verb: 'get', resource: 'nodes', subresource: 'stats', name: node };
  if (path === '/metrics') return { verb: 'get', resource: 'nodes', subresource: 'metrics', name: node };
  return undefined;
}

export async function startAgentServer(options: AgentServerOptions): Promise<AgentServer> {
  const { logger, metrics } = options;
  const send = (res: ServerResponse, path: string, code: number, type: string, body: string) => {
    metrics.requests.inc({
      path: ['/stats', '/metrics', '/healthz'].includes(path) ? path : 'other',
      code: String(code),
    });
    res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'https://agent').pathname;
    try {
      if (req.method !== 'GET') throw new ApiError(405, `${req.method ?? ''} is not allowed; use GET`);
      if (path === '/healthz') return send(res, path, 200, 'text/plain', 'ok\n');
      const needed = permission(path, options.nodeName);
      if (!needed)
        throw new ApiError(404, `no such path ${path}; the agent serves /stats, /metrics and /healthz`);
      const user = await options.access.authenticate(req.headers.authorization);
      await options.access.authorize(user, needed);
      if (path === '/metrics')
        return send(res, path, 200, metrics.registry.contentType, await metrics.registry.metrics());
      return send(res, path, 200, 'application/json', JSON.stringify(await options.report()));
    } catch (err) {
      if (err instanceof ApiError)
        return send(res, path, err.statusCode, 'application/json', JSON.stringify(err.toBody()));
      logger.error('request failed', { path, error: errorMessage(err) });
      return send(res, path, 500, 'application/json', JSON.stringify(errorBody(500, errorMessage(err))));
    }
  };
  const server: Server = createServer(
    { cert: options.cert, key: options.key, minVersion: 'TLSv1.2' },
    (req, res) => {
      void handle(req, res);
    },
  );
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.address.includes(':') ? `[${options.address}]` : options.address;
  return {
    url: `https://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
