/**
 * The operator's HTTP API, called with the user's own token. Every failure becomes an
 * ApiError carrying the status and the API's JSON message, so views can say why.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Query = Record<string, string | number | undefined>;

export class Api {
  constructor(
    private readonly token: string,
    private readonly onUnauthorized: (message: string) => void,
    private readonly base = '',
  ) {}

  url(path: string, query: Query = {}): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const qs = params.toString();
    return `${this.base}${path}${qs ? `?${qs}` : ''}`;
  }

  async get<T>(path: string, query: Query = {}, signal?: AbortSignal): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url(path, query), {
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json' },
        cache: 'no-store',
        signal: signal ?? null,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiError(
        0,
        `The operator could not be reached: ${err instanceof Error ? err.message : String(err)}`,
        'NetworkError',
      );
    }
    const body = (await response.json().catch(() => undefined)) as
      (T & { error?: string; message?: string }) | undefined;
    if (!response.ok) {
      const message = body?.message ?? `${response.status} ${response.statusText}`;
      if (response.status === 401) this.onUnauthorized(message);
      throw new ApiError(response.status, message, body?.error ?? response.statusText);
    }
    if (body === undefined)
      throw new ApiError(response.status, 'The operator answered something that is not JSON', 'BadResponse');
    return body;
  }

  get bearer(): string {
    return this.token;
  }
}

/** Shapes of the answers the dashboard reads; extra fields from newer operators pass through. */
export interface NamespacesAnswer {
  clusterWide: boolean;
  truncated?: boolean;
  items: { name: string }[];
}

export interface TopItem {
  namespace: string;
  pod: string;
  container: string;
  /** Core-hours or GiB-hours over the window: what the items are ranked by. */
  usage?: number;
  /** Average over the whole window (millicores or bytes). */
  windowAvg?: number;
  /** Average over the time the container was measured (millicores or bytes). */
  avg: number;
  measuredMs?: number;
  max: number;
  samples: number;
}

export interface TopAnswer {
  metric: 'cpu' | 'memory';
  unit: string;
  from: string;
  to: string;
  items: TopItem[];
}

export interface Aggregate {
  min: number;
  avg: number;
  max: number;
}

export interface HistoryPoint {
  time: string;
  count: number;
  cpuMillicores: Aggregate | null;
  memoryBytes: Aggregate | null;
  [field: string]: unknown;
}

export interface HistoryAnswer {
  namespace: string;
  pod: string;
  from: string;
  to: string;
  granularity: string;
  containers: { container: string; points: HistoryPoint[] }[];
}

export interface CurrentContainer {
  container: string;
  /** `container`, `init` or `sidecar` (an init container that keeps running); null without a sample. */
  containerType?: 'container' | 'init' | 'sidecar' | null;
  node?: string;
  policy?: string;
  time: string;
  cpuMillicores: number | null;
  memoryBytes: number | null;
  cpuRequestMillicores?: number;
  cpuLimitMillicores?: number;
  memoryRequestBytes?: number;
  memoryLimitBytes?: number;
  uptimeSeconds?: number;
  labels?: Record<string, string>;
  [field: string]: unknown;
}

export interface CurrentAnswer {
  namespace: string;
  pod: string;
  containers: CurrentContainer[];
}

export interface AlertTarget {
  namespace?: string;
  pod: string;
  container?: string;
  metric: string;
  value?: string;
  threshold?: string;
  breaches: number;
  healthy: number;
  state: string;
  since?: string;
}

export interface AlertItem {
  name: string;
  namespace: string;
  spec: Record<string, unknown>;
  status: {
    state?: string;
    firingTargets?: number;
    pendingTargets?: number;
    cpuConsecutiveBreaches?: number;
    memConsecutiveBreaches?: number;
    lastEvaluationTime?: string;
    lastAlertedAt?: string;
    targets?: AlertTarget[];
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface AlertsAnswer {
  namespace: string;
  items: AlertItem[];
}

/**
 * Signals for a view's successive loads of one answer: each new load aborts the one before (its
 * answer would be stale, e.g. a window the user has changed since), and the end of the view
 * aborts them all.
 */
export function supersedingLoads(view: AbortSignal): () => AbortSignal {
  let current: AbortController | undefined;
  view.addEventListener('abort', () => current?.abort(), { once: true });
  return () => {
    current?.abort();
    current = new AbortController();
    if (view.aborted) current.abort();
    return current.signal;
  };
}
