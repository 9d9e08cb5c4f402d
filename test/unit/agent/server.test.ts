/** The agent's HTTPS endpoint with fake TokenReview/SubjectAccessReview at the boundary. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:https';
import { AccessControl } from '../../../operator/http/auth.js';
import type {
  AccessReviewer,
  NonResourceAttributes,
  ResourceAttributes,
  TokenReviewer,
  UserInfo,
} from '../../../operator/http/auth-types.js';
import { silentLogger } from '../../../operator/logging.js';
import { AgentMetrics } from '../../../agent/metrics.js';
import { startAgentServer, type AgentServer } from '../../../agent/server.js';
import { AGENT_SERVER_NAME, selfSignedCertificate } from '../../../agent/tls.js';
import type { NodeReport } from '../../../agent/types.js';

const tokens: TokenReviewer = {
  review: async (token) =>
    token === 'operator' || token === 'tenant'
      ? { authenticated: true, user: { username: `system:serviceaccount:x:${token}`, groups: [] } }
      : { authenticated: false },
};
const asked: (ResourceAttributes | NonResourceAttributes)[] = [];
const access: AccessReviewer = {
  canI: async (user: UserInfo, attrs) => {
    asked.push(attrs);
    return user.username.endsWith(':operator');
  },
};
const report = { node: 'node-a', time: 1, pods: [] } as unknown as NodeReport;

let server: AgentServer;
let ca: string;

function get(path: string, token?: string): Promise<{ code: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      { ca, servername: AGENT_SERVER_NAME, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () =>
          resolve({ code: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  const cert = await selfSignedCertificate('node-a', '127.0.0.1');
  ca = cert.cert;
  server = await startAgentServer({
    nodeName: 'node-a',
    address: '127.0.0.1',
    port: 0,
    cert: cert.cert,
    key: cert.key,
    access: new AccessControl(tokens, access, { clock: { now: () => Date.now() } }),
    metrics: new AgentMetrics(false),
    report: async () => report,
    logger: silentLogger(),
  });
});
afterAll(() => server.close());

describe('agent endpoint', () => {
  it('serves /stats to a caller that may get nodes/stats of this node, over TLS verified by name', async () => {
    const res = await get('/stats', 'operator');
    expect(res.code).toBe(200);
    expect(JSON.parse(res.body)).toEqual(report);
    expect(asked).toContainEqual({ verb: 'get', resource: 'nodes', subresource: 'stats', name: 'node-a' });
  });

  it('401 without a valid token, 403 naming the permission otherwise', async () => {
    expect(await get('/stats')).toMatchObject({ code: 401 });
    expect(JSON.parse((await get('/stats', 'forged')).body)).toEqual({
      error: 'Unauthorized',
      message: 'a valid bearer token is required (Authorization: Bearer <token>)',
    });
    const denied = await get('/stats', 'tenant');
    expect(denied.code).toBe(403);
    expect(JSON.parse(denied.body).message).toBe(
      'User "system:serviceaccount:x:tenant" cannot get resource "nodes/stats" in API group "" at the cluster scope',
    );
  });

  it('/metrics needs nodes/metrics and is Prometheus text; /healthz is open; unknown paths are JSON 404', async () => {
    const metrics = await get('/metrics', 'operator');
    expect(metrics.code).toBe(200);
    expect(metrics.body).toContain('kube_usage_agent_http_requests_total{path="/stats",code="200"} 1');
    expect(asked).toContainEqual({ verb: 'get', resource: 'nodes', subresource: 'metrics', name: 'node-a' });
    expect(await get('/healthz')).toMatchObject({ code: 200, body: 'ok\n' });
    const missing = await get('/nope', 'operator');
    expect(missing.code).toBe(404);
    expect(JSON.parse(missing.body).error).toBe('NotFound');
  });
});
