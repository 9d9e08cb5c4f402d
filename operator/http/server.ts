import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { errorMessage, type Logger } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import { systemClock, type Clock } from '../model.js';
import type { Timers } from '../runtime/clock.js';
import type { UsageQueries } from '../store/types.js';
import { AccessControl } from './auth.js';
import type { AccessReviewer, TokenReviewer } from './auth-types.js';
import { registerCors, type CorsOptions } from './cors.js';
import type { EventBus } from './event-bus.js';
import { ApiError, errorBody } from './errors.js';
import {
  DEFAULT_EVENT_STREAM_OPTIONS,
  registerEventStream,
  type EventStreamOptions,
} from './event-stream.js';
import type { TlsMaterial } from './tls.js';
import { registerClusterRoutes, type ClusterView } from './cluster-routes.js';
import type { AgentView } from '../sources/agent/agent-readings.js';
import { registerAgentRoutes } from './agent-routes.js';
import { registerUi } from './ui-routes.js';
import { registerUsageRoutes } from './usage-routes.js';
import { registerRecommendationRoutes } from './recommendation-routes.js';
import type { Recommender } from '../recommend/recommender.js';

/** Liveness and readiness of the operator as a whole, decided by the lead's wiring. */
export interface HealthSource {
  /** True while the operator's main loop is alive. */
  live(): boolean;
  /** Each check is `true` when it passes, or `false` / a reason when it fails. */
  ready(): Promise<{ ready: boolean; checks: Record<string, boolean | string> }>;
}

export interface HttpServerDeps {
  queries: UsageQueries;
  tokenReviewer: TokenReviewer;
  accessReviewer: AccessReviewer;
  /** `/metrics` serves `metrics.registry`. */
  metrics: OperatorMetrics;
  health: HealthSource;
  events: EventBus;
  logger: Logger;
  clock?: Clock;
  /** Cross-origin access; off when absent. */
  cors?: CorsOptions;
  /** How long TokenReview and SubjectAccessReview results are reused (default 10 s each). */
  authCacheTtlMs?: { token: number; access: number };
  /** TokenReviews of uncached tokens: sustained per second and burst (default 20, 50). */
  tokenReviewRate?: { perSecond: number; burst: number };
  /** `/metrics` open to anyone (tests of other parts only); by default it needs `get` on the path /metrics. */
  openMetrics?: boolean;
  /** Serve HTTPS with this certificate and key; plain HTTP without. */
  tls?: TlsMaterial;
  eventStream?: Partial<EventStreamOptions>;
  /** The event streams' keep-alives, lifetimes and token re-checks run on these; the system's by default. */
  timers?: Timers;
  /** Namespaces and ResourceAlerts for the dashboard's reads; those routes are absent without it. */
  cluster?: ClusterView;
  /** The node agents' latest readings (host statistics, processes, network and block I/O); absent: no agents. */
  agents?: AgentView;
  /** Right-sizing (`/api/v1/namespaces/{ns}/recommendations`); the route is absent without it. */
  recommender?: Recommender;
  /** The built dashboard served under /ui/ (ui-routes.ts); absent: /ui/ answers 404. */
  uiDirectory?: string;
}

export interface HttpServerControl {
  /** Serves a new certificate and key from now on (a renewed certificate). */
  setCertificate?(material: TlsMaterial): void;
}

export interface HttpServer extends HttpServerControl {
  /** Resolves with the base URL once listening, e.g. `http://127.0.0.1:8080`. */
  listen(host: string, port: number): Promise<{ url: string }>;
  /** Ends open event streams, then stops accepting and waits for requests in flight. */
  close(): Promise<void>;
}

/**
 * The operator's HTTP API: usage reads, the event stream and `/metrics` behind TokenReview and
 * SubjectAccessReview, plus `/healthz` and `/readyz` without authentication.
 * Every response that is not a success is JSON `{error, message, field?}`.
 */
export function createHttpServer(deps: HttpServerDeps): HttpServer {
  const clock = deps.clock ?? systemClock;
  const { logger } = deps;
  const app = Fastify({
    ...(deps.tls && { https: { key: deps.tls.key, cert: deps.tls.cert } }),
    logger: false,
    // A pod name may be 253 characters long.
    routerOptions: { maxParamLength: 300 },
    bodyLimit: 1024,
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      void reply.code(400).send(errorBody(400, error.message));
    },
    clientErrorHandler: answerMalformedRequest,
  });

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) {
      if (error.statusCode >= 500) logger.warn('request failed', { ...where(request), error: error.message });
      if (error.headers) void reply.headers(error.headers);
      return reply.code(error.statusCode).send(error.toBody());
    }
    const status = error.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send(errorBody(status, error.message));
    }
    logger.error('request failed', { ...where(request), error: errorMessage(error) });
    return reply.code(500).send(errorBody(500, 'internal error; the operator log has the details'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(404, `no route for ${request.method} ${request.url.slice(0, 200)}`)),
  );

  if (deps.cors) registerCors(app, deps.cors);
  const access = new AccessControl(deps.tokenReviewer, deps.accessReviewer, {
    clock,
    tokenTtlMs: deps.authCacheTtlMs?.token,
    accessTtlMs: deps.authCacheTtlMs?.access,
    ...(deps.tokenReviewRate && {
      tokenReviewsPerSecond: deps.tokenReviewRate.perSecond,
      tokenReviewBurst: deps.tokenReviewRate.burst,
    }),
    onTokenReview: (result) => deps.metrics.tokenReviews.inc({ result }),
    logger,
  });
  registerUsageRoutes(app, {
    queries: deps.queries,
    access,
    clock,
    ...(deps.agents && { agents: deps.agents }),
  });
  if (deps.recommender) registerRecommendationRoutes(app, { recommender: deps.recommender, access, clock });
  registerAgentRoutes(app, { access, ...(deps.agents && { agents: deps.agents }) });
  if (deps.cluster) registerClusterRoutes(app, { cluster: deps.cluster, access });
  registerUi(app, { directory: deps.uiDirectory });
  const endEventStreams = registerEventStream(app, {
    events: deps.events,
    access,
    options: { ...DEFAULT_EVENT_STREAM_OPTIONS, ...deps.eventStream },
    onCount: (open) => deps.metrics.eventStreams.set(open),
    ...(deps.timers && { timers: deps.timers }),
  });
  app.addHook('preClose', async () => endEventStreams());

  // As kube-rbac-proxy does: the caller's token, and `get` on the non-resource URL /metrics
  // (Prometheus' ClusterRole in manifests/base/rbac-metrics-reader.yaml).
  app.get('/metrics', async (request, reply) => {
    if (!deps.openMetrics) {
      const user = await access.authenticate(request.headers.authorization);
      await access.authorize(user, { verb: 'get', path: '/metrics' });
    }
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.get('/healthz', async (_request, reply) =>
    deps.health.live()
      ? { status: 'ok' }
      : reply.code(503).send(errorBody(503, 'the operator loop is not running')),
  );
  app.get('/readyz', async (_request, reply) => {
    const { ready, checks } = await deps.health.ready().catch((err: unknown) => {
      logger.warn('readiness checks failed', { error: errorMessage(err) });
      throw new ApiError(503, 'the readiness checks failed; the operator log has the details');
    });
    if (ready) return { status: 'ready', checks };
    const failing = Object.keys(checks).filter((name) => checks[name] !== true);
    return reply
      .code(503)
      .send({ ...errorBody(503, `not ready: ${failing.join(', ') || 'starting'}`), checks });
  });

  return {
    async listen(host, port) {
      await app.listen({ host, port });
      const address = app.server.address();
      const scheme = deps.tls ? 'https' : 'http';
      if (address === null || typeof address === 'string') return { url: `${scheme}://${host}:${port}` };
      const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return { url: `${scheme}://${hostPart}:${address.port}` };
    },
    ...(deps.tls && {
      setCertificate: (material: TlsMaterial) =>
        (app.server as unknown as { setSecureContext(o: TlsMaterial): void }).setSecureContext(material),
    }),
    close: () => app.close(),
  };
}

/** Requests Node's HTTP parser rejects never reach Fastify; they still get a JSON error. */
function answerMalformedRequest(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'the request was not received in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'the request headers are too large']
        : [400, 'the request is not valid HTTP'];
  const body = JSON.stringify(errorBody(status, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function where(request: FastifyRequest): Record<string, string> {
  return { method: request.method, route: request.routeOptions.url ?? request.url.slice(0, 200) };
}
