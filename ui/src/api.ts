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

/** The answers the dashboard reads: the server's own wire types (api/http/v1.ts). */
export type {
  Aggregate,
  AlertItem,
  AlertMessage,
  AlertsAnswer,
  CurrentAnswer,
  CurrentContainer,
  HistoryAnswer,
  HistoryPoint,
  NamespacesAnswer,
  SnapshotMessage,
  SummaryAnswer,
  SummaryItem,
  TopAnswer,
  TopItem,
} from '../../api/http/v1.js';

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
