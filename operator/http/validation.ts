import { Ajv, type ErrorObject } from 'ajv';
import {
  GRANULARITIES,
  type Granularity,
  type HistoryQuery,
  type SummaryGroupBy,
  type SummaryQuery,
  type TopQuery,
  type UsageMetric,
} from '../store/types.js';
import { badRequest, type ApiError } from './errors.js';
import { parseTimeParam } from './time-param.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Bounds on what one request may ask of the store. */
export const LIMITS = {
  /** Longest time range of any query: the longest daily retention. */
  maxRangeMs: 400 * DAY,
  defaultHistoryRangeMs: DAY,
  /** Most points per container in a history response. */
  maxPoints: 10_000,
  /** Points per container that `granularity=auto` aims for unless `maxPoints` says otherwise. */
  defaultAutoPoints: 500,
  maxTopLimit: 100,
  defaultTopLimit: 10,
} as const;

/** Step of each granularity; raw samples come at most every 10 s (the shortest policy interval). */
const STEP_MS: Record<Granularity, number> = {
  raw: 10_000,
  '1m': 60_000,
  '5m': 300_000,
  '1h': HOUR,
  '1d': DAY,
};

const WINDOWS = { '1h': HOUR, '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY } as const;
type Window = keyof typeof WINDOWS;

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const LABEL_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';

interface PropertySchema {
  type: 'string' | 'integer';
  description: string;
  [keyword: string]: unknown;
}

function oneOf(values: readonly string[]): PropertySchema {
  return { type: 'string', enum: [...values], description: `one of ${values.join(', ')}` };
}

function integer(minimum: number, maximum: number): PropertySchema {
  return { type: 'integer', minimum, maximum, description: `an integer from ${minimum} to ${maximum}` };
}

const namespaceName: PropertySchema = {
  type: 'string',
  maxLength: 63,
  pattern: `^${DNS_LABEL}$`,
  description: 'a namespace name (lowercase letters, digits and "-", at most 63 characters)',
};
const podName: PropertySchema = {
  type: 'string',
  maxLength: 253,
  pattern: `^${DNS_LABEL}(\\.${DNS_LABEL})*$`,
  description: 'a pod name (lowercase letters, digits, "-" and ".", at most 253 characters)',
};
const timeParam: PropertySchema = {
  type: 'string',
  format: 'time-param',
  description: 'an RFC 3339 time with a zone (2026-01-02T15:04:05Z) or Unix seconds',
};
const groupBy: PropertySchema = {
  type: 'string',
  maxLength: 330,
  pattern: `^(namespace|pod|label:(${DNS_LABEL}(\\.${DNS_LABEL})*/)?${LABEL_NAME})$`,
  description: 'namespace, pod, or label:<label key>',
};

const ajv = new Ajv({ coerceTypes: true, allErrors: false, strict: true });
ajv.addFormat('time-param', {
  type: 'string',
  validate: (text: string) => parseTimeParam(text) !== undefined,
});

/** A compiled schema for one flat object of parameters (a path's or a query string's). */
class ParameterSchema<T> {
  private readonly validate;

  constructor(
    private readonly kind: 'path parameter' | 'query parameter',
    private readonly properties: Record<string, PropertySchema>,
  ) {
    this.validate = ajv.compile<T>({ type: 'object', properties, additionalProperties: false });
  }

  parse(input: unknown): T {
    const data: Record<string, unknown> = { ...(input as object) };
    for (const [name, value] of Object.entries(data)) {
      if (Array.isArray(value)) throw badRequest(`${name} must be given once`, name);
    }
    if (!this.validate(data)) throw this.toError(this.validate.errors?.[0]);
    return data as T;
  }

  private toError(error: ErrorObject | undefined): ApiError {
    if (error?.keyword === 'additionalProperties') {
      const name = String(error.params['additionalProperty']);
      const known = Object.keys(this.properties);
      const expected = known.length ? `; expected ${known.join(', ')}` : '; none are accepted';
      return badRequest(`unknown ${this.kind} "${name}"${expected}`, name);
    }
    const field = error?.instancePath.slice(1) ?? '';
    const property = this.properties[field];
    return badRequest(
      property ? `${field} must be ${property.description}` : 'invalid parameters',
      field || undefined,
    );
  }
}

export interface PodRef {
  namespace: string;
  pod: string;
}

/** A store query and the namespace it is limited to (none: cluster-wide). */
export interface Scoped<Q> {
  namespace?: string;
  query: Q;
}

export interface EventStreamFilter {
  namespace?: string;
}

const podPath = new ParameterSchema<PodRef>('path parameter', { namespace: namespaceName, pod: podName });
const noQuery = new ParameterSchema<Record<string, never>>('query parameter', {});
const historyQuery = new ParameterSchema<{
  from?: string;
  to?: string;
  granularity?: Granularity | 'auto';
  maxPoints?: number;
}>('query parameter', {
  from: timeParam,
  to: timeParam,
  granularity: oneOf(['auto', ...GRANULARITIES]),
  maxPoints: integer(1, LIMITS.maxPoints),
});
const rangeProperties = {
  window: oneOf(Object.keys(WINDOWS)),
  from: timeParam,
  to: timeParam,
  namespace: namespaceName,
};
interface RangeParams {
  window?: Window;
  from?: string;
  to?: string;
  namespace?: string;
}
const topQuery = new ParameterSchema<RangeParams & { metric?: UsageMetric; limit?: number }>(
  'query parameter',
  {
    ...rangeProperties,
    metric: oneOf(['cpu', 'memory']),
    limit: integer(1, LIMITS.maxTopLimit),
  },
);
const summaryQuery = new ParameterSchema<RangeParams & { groupBy?: string }>('query parameter', {
  ...rangeProperties,
  groupBy,
});
const eventsQuery = new ParameterSchema<EventStreamFilter>('query parameter', { namespace: namespaceName });

export function parsePodRef(params: unknown): PodRef {
  return podPath.parse(params);
}

/** Current usage takes no query parameters; anything given is a mistake worth reporting. */
export function parseCurrentQuery(query: unknown): void {
  noQuery.parse(query);
}

/** History of one pod: `from`/`to` (default: the last 24 h up to now), granularity, maxPoints. */
export function parseHistoryQuery(pod: PodRef, query: unknown, now: number): HistoryQuery {
  const q = historyQuery.parse(query);
  const to = q.to === undefined ? now : toMillis(q.to);
  const from = q.from === undefined ? to - LIMITS.defaultHistoryRangeMs : toMillis(q.from);
  checkRange(from, to);
  const granularity = q.granularity ?? 'auto';
  const maxPoints = q.maxPoints ?? (granularity === 'auto' ? LIMITS.defaultAutoPoints : LIMITS.maxPoints);
  if (granularity !== 'auto') {
    const points = Math.ceil((to - from) / STEP_MS[granularity]);
    if (points > maxPoints) {
      throw badRequest(
        `granularity=${granularity} over this range gives up to ${points} points per container, more than ` +
          `maxPoints=${maxPoints}: use a coarser granularity, a shorter range, or granularity=auto`,
        'granularity',
      );
    }
  }
  return { ...pod, from, to, granularity, maxPoints };
}

/** Top consumers: metric (cpu), window (1h) or from/to, limit (10), optional namespace. */
export function parseTopQuery(query: unknown, now: number): Scoped<TopQuery> {
  const q = topQuery.parse(query);
  return scoped(q.namespace, {
    metric: q.metric ?? 'cpu',
    ...range(q, now, '1h'),
    limit: q.limit ?? LIMITS.defaultTopLimit,
  });
}

/** Chargeback: window (24h) or from/to, groupBy (namespace), optional namespace. */
export function parseSummaryQuery(query: unknown, now: number): Scoped<SummaryQuery> {
  const q = summaryQuery.parse(query);
  return scoped(q.namespace, { ...range(q, now, '24h'), groupBy: parseGroupBy(q.groupBy ?? 'namespace') });
}

export function parseEventsQuery(query: unknown): EventStreamFilter {
  return eventsQuery.parse(query);
}

function scoped<Q extends object>(
  namespace: string | undefined,
  query: Q,
): Scoped<Q & { namespaces?: string[] }> {
  return namespace === undefined ? { query } : { namespace, query: { ...query, namespaces: [namespace] } };
}

function parseGroupBy(text: string): SummaryGroupBy {
  if (text === 'namespace' || text === 'pod') return { kind: text };
  return { kind: 'label', key: text.slice('label:'.length) };
}

/** `window` counts back from `to` (default now); `from` and `window` exclude each other. */
function range(q: RangeParams, now: number, defaultWindow: Window): { from: number; to: number } {
  if (q.window !== undefined && q.from !== undefined) {
    throw badRequest('give either window or from, not both', 'window');
  }
  const to = q.to === undefined ? now : toMillis(q.to);
  const from = q.from === undefined ? to - WINDOWS[q.window ?? defaultWindow] : toMillis(q.from);
  checkRange(from, to);
  return { from, to };
}

function checkRange(from: number, to: number): void {
  if (from >= to) throw badRequest('from must be before to', 'from');
  if (to - from > LIMITS.maxRangeMs) {
    throw badRequest(`the range from..to must not exceed ${LIMITS.maxRangeMs / DAY} days`, 'from');
  }
}

/** Already checked by the schema's format. */
function toMillis(text: string): number {
  return parseTimeParam(text) as number;
}

const namespacePath = new ParameterSchema<{ namespace: string }>('path parameter', {
  namespace: namespaceName,
});

/** The `{namespace}` of a namespaced path such as `/api/v1/namespaces/{ns}/resourcealerts`. */
export function parseNamespaceRef(params: unknown): { namespace: string } {
  return namespacePath.parse(params);
}

const nodePath = new ParameterSchema<{ node: string }>('path parameter', {
  node: {
    ...podName,
    description: 'a node name (lowercase letters, digits, "-" and ".", at most 253 characters)',
  },
});

/** The `{node}` of `/api/v1/nodes/{node}/usage`. */
export function parseNodeRef(params: unknown): { node: string } {
  return nodePath.parse(params);
}
