import type { FastifyInstance } from 'fastify';

export interface CorsOptions {
  /** Exact origins allowed to call the API from a browser; `*` allows any. */
  origins: string[];
}

/**
 * Cross-origin access for browser dashboards, off unless origins are configured. Only
 * GET is offered; credentials travel in the Authorization header, never in cookies.
 */
export function registerCors(app: FastifyInstance, options: CorsOptions): void {
  const anyOrigin = options.origins.includes('*');
  const allowed = new Set(options.origins);
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined || !(anyOrigin || allowed.has(origin))) return;
    reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      return reply
        .code(204)
        .header('access-control-allow-methods', 'GET')
        .header('access-control-allow-headers', 'Authorization')
        .header('access-control-max-age', '600')
        .send();
    }
  });
}
