/**
 * `GET /api/v1/namespaces/{ns}/recommendations`: request recommendations per workload and
 * container (operator/recommend/), authorized as the other namespace reads (`get pods` in the
 * namespace). Parameters: `workload` (`Kind/name`), `window` (a duration, default 8d) and
 * `strategy` (`vpa`, default, or `krr`). Contract: docs/rightsizing.md.
 */
import type { FastifyInstance } from 'fastify';
import type { RecommendationsAnswer } from '../../api/http/v1.js';
import { formatInstant } from '../../api/timestamp.js';
import { DurationError, parseDuration } from '../../api/duration.js';
import type { Clock } from '../model.js';
import type { RecommendationQuery, Recommender } from '../recommend/recommender.js';
import { STRATEGIES, type StrategyName } from '../recommend/strategies.js';
import { podPermission, type AccessControl } from './auth.js';
import { badRequest } from './errors.js';
import { LIMITS, parseNamespaceRef } from './validation.js';

export const DEFAULT_RECOMMENDATION_WINDOW_MS = 8 * 86_400_000;
const KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicaSet', 'Pod'];
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const PARAMETERS = ['workload', 'window', 'strategy'];

export interface RecommendationRoutesDeps {
  recommender: Recommender;
  access: AccessControl;
  clock: Clock;
}

/** Parses the query string; throws a 400 ApiError naming the parameter. */
export function parseRecommendationQuery(
  namespace: string,
  input: unknown,
  now: number,
): RecommendationQuery {
  const q = { ...(input as Record<string, unknown>) };
  for (const [name, value] of Object.entries(q)) {
    if (!PARAMETERS.includes(name))
      throw badRequest(`unknown query parameter "${name}"; expected ${PARAMETERS.join(', ')}`, name);
    if (typeof value !== 'string') throw badRequest(`${name} must be given once`, name);
  }
  const strategy = (q['strategy'] ?? 'vpa') as string;
  if (!STRATEGIES.includes(strategy as StrategyName))
    throw badRequest(`strategy must be one of ${STRATEGIES.join(', ')}`, 'strategy');
  let windowMs = DEFAULT_RECOMMENDATION_WINDOW_MS;
  if (q['window'] !== undefined) {
    try {
      windowMs = parseDuration(q['window'] as string);
    } catch (err) {
      if (!(err instanceof DurationError)) throw err;
      throw badRequest(`window must be a duration such as 8d, 24h or 90m (${err.message})`, 'window');
    }
    if (windowMs <= 0 || windowMs > LIMITS.maxRangeMs)
      throw badRequest(`window must be more than 0 and at most ${LIMITS.maxRangeMs / 86_400_000}d`, 'window');
  }
  const query: RecommendationQuery = {
    namespace,
    from: now - windowMs,
    to: now,
    strategy: strategy as StrategyName,
  };
  if (q['workload'] !== undefined) {
    const text = q['workload'] as string;
    const slash = text.indexOf('/');
    const kind = text.slice(0, slash);
    const name = text.slice(slash + 1);
    if (slash < 0 || !KINDS.includes(kind) || !NAME.test(name))
      throw badRequest(`workload must be <kind>/<name> with kind one of ${KINDS.join(', ')}`, 'workload');
    query.workload = { kind, name };
  }
  return query;
}

export function registerRecommendationRoutes(app: FastifyInstance, deps: RecommendationRoutesDeps): void {
  app.get('/api/v1/namespaces/:namespace/recommendations', async (request) => {
    const user = await deps.access.authenticate(request.headers.authorization);
    const { namespace } = parseNamespaceRef(request.params);
    const query = parseRecommendationQuery(namespace, request.query, deps.clock.now());
    await deps.access.authorize(user, podPermission(namespace));
    const items = await deps.recommender.recommend(query);
    const answer: RecommendationsAnswer = {
      namespace,
      strategy: query.strategy,
      from: formatInstant(query.from),
      to: formatInstant(query.to),
      ...(query.workload && { workload: query.workload }),
      items,
    };
    return answer;
  });
}
