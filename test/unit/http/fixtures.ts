import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { waitFor } from '../../harness/wait.js';
import type {
  AccessReviewer,
  NonResourceAttributes,
  ResourceAttributes,
  TokenReviewer,
  TokenReviewResult,
  UserInfo,
} from '../../../operator/http/auth-types.js';
import { EventBus } from '../../../operator/http/event-bus.js';
import { createHttpServer, type HttpServer, type HttpServerDeps } from '../../../operator/http/server.js';
import { silentLogger } from '../../../operator/logging.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import type { ContainerSample } from '../../../operator/model.js';
import { FakeTimers } from '../runtime/fake-timers.js';
import type {
  HistoryQuery,
  HistoryResult,
  Coverage,
  SummaryEntry,
  SummaryResult,
  SummaryQuery,
  TopEntry,
  TopResult,
  TopQuery,
  UsageQueries,
} from '../../../operator/store/types.js';

export const T0 = Date.UTC(2026, 10, 21, 10, 0, 0);

export class FakeClock {
  constructor(public time = T0) {}
  now(): number {
    return this.time;
  }
}

/** Tokens and who they belong to. */
export const TOKENS = {
  admin: 'admin-token',
  tenantA: 'tenant-a-token',
  nobody: 'nobody-token',
} as const;

export const USERS: Record<string, UserInfo> = {
  [TOKENS.admin]: { username: 'admin', groups: ['system:masters'] },
  [TOKENS.tenantA]: { username: 'system:serviceaccount:team-a:viewer', groups: ['system:serviceaccounts'] },
  [TOKENS.nobody]: { username: 'nobody', groups: [] },
};

export class FakeTokenReviewer implements TokenReviewer {
  calls = 0;
  failure: Error | undefined;
  /** Tokens refused from now on (revoked). */
  refuse = new Set<string>();

  async review(token: string): Promise<TokenReviewResult> {
    this.calls++;
    if (this.failure) throw this.failure;
    const user = this.refuse.has(token) ? undefined : USERS[token];
    return user ? { authenticated: true, user } : { authenticated: false };
  }
}

/**
 * RBAC as a list of grants: `admin` may do anything anywhere; the tenant may `get` and
 * `list` pods in `team-a` only (like ClusterRole `view` bound in that namespace).
 */
export class FakeAccessReviewer implements AccessReviewer {
  calls: (ResourceAttributes | NonResourceAttributes)[] = [];
  failure: Error | undefined;
  /** Reviews about these namespaces wait until released (to make a stream fall behind). */
  hold = new Set<string>();
  private readonly released: (() => void)[] = [];

  async canI(user: UserInfo, attrs: ResourceAttributes | NonResourceAttributes): Promise<boolean> {
    this.calls.push(attrs);
    if (this.failure) throw this.failure;
    if ('path' in attrs) return user.username === 'admin';
    if (attrs.namespace !== undefined && this.hold.has(attrs.namespace)) {
      await new Promise<void>((resolve) => this.released.push(resolve));
    }
    if (user.username === 'admin') return true;
    if (user.username === USERS[TOKENS.tenantA]!.username) {
      return (
        attrs.resource === 'pods' && ['get', 'list'].includes(attrs.verb) && attrs.namespace === 'team-a'
      );
    }
    return false;
  }

  release(): void {
    for (const resolve of this.released.splice(0)) resolve();
  }
}

export function sample(overrides: Partial<ContainerSample> = {}): ContainerSample {
  return {
    time: T0 - 30_000,
    policy: 'team-a/web',
    namespace: 'team-a',
    pod: 'web-1',
    container: 'app',
    node: 'node-1',
    labels: [{ k: 'app.kubernetes.io/name', v: 'web' }],
    cpuMillicores: 250.5,
    memoryBytes: 128 * 1024 * 1024,
    cpuLimitMillicores: 500,
    cpuPercentOfLimit: 50.1,
    uptimeSeconds: 3600,
    intervalSeconds: 30,
    ...overrides,
  };
}

/** A known dataset; records every query it answers. */
export class FakeQueries implements UsageQueries {
  samples: ContainerSample[] = [
    sample(),
    sample({ container: 'sidecar', cpuMillicores: 10, memoryBytes: 1e6 }),
  ];
  historyResult: HistoryResult = {
    granularity: '5m',
    containers: [
      {
        container: 'app',
        points: [
          {
            time: T0 - 600_000,
            count: 10,
            cpuMillicores: { min: 100, avg: 200, max: 300 },
            memoryBytes: null,
          },
          {
            time: T0 - 300_000,
            count: 10,
            cpuMillicores: { min: 110, avg: 210, max: 310 },
            memoryBytes: { min: 1, avg: 2, max: 3 },
          },
        ],
      },
    ],
  };
  topEntries: TopEntry[] = [
    {
      namespace: 'team-a',
      pod: 'web-1',
      container: 'app',
      usage: 0.25,
      windowAvg: 250,
      avg: 250,
      measuredMs: 3_600_000,
      max: 400,
      samples: 120,
    },
  ];
  summaryEntries: SummaryEntry[] = [
    {
      group: 'team-a',
      cpuCoreHours: 1.5,
      cpuCoreHoursBilled: 2,
      memoryGiBHours: 3,
      memoryGiBHoursBilled: 4,
      containers: 2,
    },
  ];
  failure: Error | undefined;
  readonly calls: { history: HistoryQuery[]; top: TopQuery[]; summary: SummaryQuery[] } = {
    history: [],
    top: [],
    summary: [],
  };

  async latest(namespace: string, pod: string): Promise<ContainerSample[]> {
    if (this.failure) throw this.failure;
    return this.samples.filter((s) => s.namespace === namespace && s.pod === pod);
  }
  async history(query: HistoryQuery): Promise<HistoryResult> {
    if (this.failure) throw this.failure;
    this.calls.history.push(query);
    return this.historyResult;
  }
  coverage: Coverage = {
    windowMs: 3_600_000,
    coveredMs: 3_600_000,
    ratio: 1,
    memoryCoveredMs: 3_600_000,
    memoryRatio: 1,
    proratedMs: 0,
  };
  async top(query: TopQuery): Promise<TopResult> {
    if (this.failure) throw this.failure;
    this.calls.top.push(query);
    return { items: this.topEntries, coverage: this.coverage };
  }
  async summary(query: SummaryQuery): Promise<SummaryResult> {
    if (this.failure) throw this.failure;
    this.calls.summary.push(query);
    return { items: this.summaryEntries, coverage: this.coverage };
  }
}

export interface TestServer {
  url: string;
  server: HttpServer;
  tokens: FakeTokenReviewer;
  access: FakeAccessReviewer;
  queries: FakeQueries;
  clock: FakeClock;
  /** The event streams' timers (keep-alives, lifetimes, token re-checks): they move only with advance(). */
  timers: FakeTimers;
  events: EventBus;
  metrics: OperatorMetrics;
  health: { alive: boolean; checks: Record<string, boolean | string> };
}

/** An HTTP server on 127.0.0.1 with fakes at every boundary. */
export async function startTestServer(overrides: Partial<HttpServerDeps> = {}): Promise<TestServer> {
  const tokens = new FakeTokenReviewer();
  const access = new FakeAccessReviewer();
  const queries = new FakeQueries();
  const clock = new FakeClock();
  const timers = new FakeTimers();
  const events = new EventBus(silentLogger());
  const metrics = new OperatorMetrics();
  const health = {
    alive: true,
    checks: { store: true, apiserver: true, informers: true } as Record<string, boolean | string>,
  };
  const server = createHttpServer({
    queries,
    tokenReviewer: tokens,
    accessReviewer: access,
    metrics,
    events,
    logger: silentLogger(),
    clock,
    timers,
    health: {
      live: () => health.alive,
      ready: async () => ({
        ready: Object.values(health.checks).every((c) => c === true),
        checks: health.checks,
      }),
    },
    ...overrides,
  });
  const { url } = await server.listen('127.0.0.1', 0);
  return { url, server, tokens, access, queries, clock, timers, events, metrics, health };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** GET with an optional bearer token; the body parsed as JSON (throws if it is not JSON). */
export async function getJson(
  url: string,
  token?: string,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const response = await fetch(url, {
    headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as unknown };
}

/** Polls until `check` returns a value other than undefined, or fails after the deadline. */
export function eventually<T>(description: string, check: () => T | undefined, timeoutMs = 5000): Promise<T> {
  return waitFor(description, check, { timeoutMs, intervalMs: 10 });
}

export interface SseFrame {
  event: string;
  data: unknown;
}

/** A server-sent-events client that collects frames and comments as they arrive. */
export class SseReader {
  readonly frames: SseFrame[] = [];
  comments = 0;
  ended = false;
  private buffer = '';

  private constructor(
    readonly response: IncomingMessage,
    private readonly abort: () => void,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.consume(chunk));
    response.on('end', () => (this.ended = true));
    response.on('close', () => (this.ended = true));
  }

  /** Resolves once the response headers are in: the stream is subscribed by then. */
  static open(url: string, token: string): Promise<SseReader> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { headers: { authorization: `Bearer ${token}` } }, (response) =>
        resolve(new SseReader(response, () => req.destroy())),
      );
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.end();
    });
  }

  close(): void {
    this.abort();
  }

  waitFor(
    description: string,
    predicate: (frames: SseFrame[]) => boolean,
    timeoutMs = 5000,
  ): Promise<SseFrame[]> {
    return eventually(description, () => (predicate(this.frames) ? this.frames : undefined), timeoutMs);
  }

  private consume(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      let data: string | undefined;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments++;
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data = line.slice(6);
      }
      if (data !== undefined) this.frames.push({ event, data: JSON.parse(data) as unknown });
    }
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends bytes as they are (no URL normalisation) and reads the whole response; an event
 * stream is read up to its headers and then closed.
 */
export function rawRequest(url: string, request: string): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    let received = '';
    const parse = (): RawResponse | undefined => {
      const headerEnd = received.indexOf('\r\n\r\n');
      if (headerEnd < 0) return undefined;
      const [statusLine = '', ...headerLines] = received.slice(0, headerEnd).split('\r\n');
      const headers = Object.fromEntries(
        headerLines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
      );
      return { status: Number(statusLine.split(' ')[1]), headers, body: received.slice(headerEnd + 4) };
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const response = parse();
      if (response?.headers['content-type']?.startsWith('text/event-stream')) {
        socket.destroy();
        resolve(response);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const response = parse();
      if (response) resolve(response);
      else reject(new Error(`no HTTP response: ${JSON.stringify(received.slice(0, 200))}`));
    });
  });
}
