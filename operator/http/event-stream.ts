import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../logging.js';
import { podPermission, type AccessControl } from './auth.js';
import type { EventBus, UsageEvent } from './event-bus.js';
import { ApiError, errorBody } from './errors.js';
import { parseEventsQuery } from './validation.js';
import type { EventMessage } from '../../api/http/v1.js';
import { formatInstant } from '../../api/timestamp.js';
import { systemTimers, type TimerHandle, type Timers } from '../runtime/clock.js';

export interface EventStreamOptions {
  /** Interval of the comment lines that keep proxies from closing an idle stream (default 15 s). */
  keepAliveMs: number;
  /**
   * Events waiting for a slow client before it is dropped (default 10000). A collection
   * cycle publishes one snapshot per container at once, so this must exceed the largest cycle.
   */
  maxQueuedEvents: number;
  /** Open streams of one user (username from TokenReview); more get 429 (default 5). */
  maxStreamsPerUser: number;
  /** Open streams over all users; more get 429 (default 200). */
  maxStreams: number;
  /** A stream ends with an `expired` event after this long; the client reconnects (default 1 h). */
  maxLifetimeMs: number;
  /** The caller's token is reviewed again this often; a stream whose token no longer holds ends (default 1 min). */
  recheckMs: number;
}

export const DEFAULT_EVENT_STREAM_OPTIONS: EventStreamOptions = {
  keepAliveMs: 15_000,
  maxQueuedEvents: 10_000,
  maxStreamsPerUser: 5,
  maxStreams: 200,
  maxLifetimeMs: 3_600_000,
  recheckMs: 60_000,
};

export interface EventStreamDeps {
  events: EventBus;
  access: AccessControl;
  options: EventStreamOptions;
  /** Called with the number of open streams when it changes. */
  onCount?: (open: number) => void;
  /** Keep-alives, lifetimes and token re-checks run on these; the system's by default. */
  timers?: Timers;
}

/**
 * `GET /api/v1/events[?namespace=]`: new snapshots and alert transitions as server-sent
 * events. Each event is shown only to callers who may `get pods` in its namespace; with
 * `namespace=` the stream is limited to that namespace, and a caller without access there
 * gets a 403 at once. Returns a function that ends every open stream (for shutdown).
 */
export function registerEventStream(app: FastifyInstance, deps: EventStreamDeps): () => void {
  const clients = new Set<EventStreamClient>();
  const perUser = new Map<string, number>();
  const count = (username: string, delta: number) => {
    const n = (perUser.get(username) ?? 0) + delta;
    if (n <= 0) perUser.delete(username);
    else perUser.set(username, n);
  };
  app.get('/api/v1/events', { exposeHeadRoute: false }, async (request, reply) => {
    const authorization = request.headers.authorization;
    const user = await deps.access.authenticate(authorization);
    const { namespace } = parseEventsQuery(request.query);
    if (namespace !== undefined) await deps.access.authorize(user, podPermission(namespace));
    const { maxStreams, maxStreamsPerUser } = deps.options;
    if ((perUser.get(user.username) ?? 0) >= maxStreamsPerUser)
      throw new ApiError(
        429,
        `too many event streams: at most ${maxStreamsPerUser} per user are open at once; close one first`,
        undefined,
        { 'retry-after': '10' },
      );
    if (clients.size >= maxStreams)
      throw new ApiError(429, 'too many event streams are open; retry later', undefined, {
        'retry-after': '10',
      });

    reply.hijack();
    if (reply.raw.destroyed) return; // the caller left while we were authorizing
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) reply.raw.setHeader(name, value);
    }
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const client = new EventStreamClient(
      reply.raw,
      async (event) =>
        (namespace === undefined || event.namespace === namespace) &&
        deps.access.canI(user, podPermission(event.namespace)),
      deps.options,
      deps.timers ?? systemTimers,
      () => {
        unsubscribe();
        clients.delete(client);
        count(user.username, -1);
        deps.onCount?.(clients.size);
      },
      // The token is reviewed again periodically: a revoked or expired token ends the stream.
      () => deps.access.authenticate(authorization).then(() => undefined),
    );
    clients.add(client);
    count(user.username, 1);
    deps.onCount?.(clients.size);
    const unsubscribe = deps.events.subscribe((event) => client.offer(event));
  });
  return () => {
    for (const client of clients)
      client.end('shutdown', { message: 'the operator is shutting down; reconnect' });
  };
}

/** Decides whether the stream's caller may see an event; rejects when that cannot be decided. */
type EventFilter = (event: UsageEvent) => Promise<boolean>;

/**
 * One server-sent-events response. Events are filtered and written in the order offered;
 * a client that does not keep up gets a final `dropped` event and is disconnected, and a
 * filter that cannot decide (the apiserver is unreachable) ends the stream with an `error`
 * event, so that nothing is withheld without the client knowing.
 */
class EventStreamClient {
  private readonly queue: UsageEvent[] = [];
  private pumping = false;
  private closed = false;
  private keepAlive?: TimerHandle;
  private readonly lifetime: TimerHandle;
  private recheck?: TimerHandle;

  constructor(
    private readonly response: ServerResponse,
    private readonly visible: EventFilter,
    private readonly options: EventStreamOptions,
    private readonly timers: Timers,
    private readonly onClose: () => void,
    stillAuthenticated: () => Promise<void>,
  ) {
    response.write(`retry: 5000\n: connected\n\n`);
    const keepAlive = (): void => {
      this.keepAlive = timers.setTimeout(() => {
        if (this.closed) return;
        if (!response.writableNeedDrain) response.write(': keep-alive\n\n');
        keepAlive();
      }, options.keepAliveMs);
    };
    keepAlive();
    this.lifetime = timers.setTimeout(
      () => this.end('expired', { message: 'the stream reached its maximum lifetime; reconnect' }),
      options.maxLifetimeMs,
    );
    const recheck = (): void => {
      this.recheck = timers.setTimeout(() => {
        if (this.closed) return;
        recheck();
        this.recheckToken(stillAuthenticated);
      }, options.recheckMs);
    };
    recheck();
    response.on('close', () => this.cleanUp());
  }

  private recheckToken(stillAuthenticated: () => Promise<void>): void {
    stillAuthenticated().catch((err: unknown) => {
      const status = err instanceof ApiError ? err.statusCode : 503;
      if (status === 429) return; // not reviewed this time; the next check tries again
      this.end(
        'error',
        errorBody(
          status,
          status === 401
            ? 'the token is no longer valid; reconnect with a valid one'
            : 'authentication is unavailable; reconnect later',
        ),
      );
    });
  }

  offer(event: UsageEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.options.maxQueuedEvents) {
      this.end('dropped', {
        message: `the client fell ${this.queue.length} events behind and was disconnected; reconnect to resume`,
      });
      return;
    }
    this.queue.push(event);
    void this.pump();
  }

  /** Ends the stream with a last event (the server is shutting down, or the client is dropped). */
  end(eventName: string, data: object): void {
    if (this.closed) return;
    this.response.end(frame(eventName, data));
    this.cleanUp();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let event = this.queue.shift(); event && !this.closed; event = this.queue.shift()) {
        if (!(await this.visible(event))) continue;
        const message: EventMessage = { ...event, time: formatInstant(event.time) };
        await this.write(frame(event.type, message));
      }
    } catch (err) {
      const status = err instanceof ApiError ? err.statusCode : 500;
      this.end('error', errorBody(status, `the event stream stopped: ${errorMessage(err)}`));
    } finally {
      this.pumping = false;
    }
  }

  private write(chunk: string): Promise<void> {
    if (this.closed || this.response.write(chunk)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.response.off('drain', done);
        this.response.off('close', done);
        resolve();
      };
      this.response.on('drain', done);
      this.response.on('close', done);
    });
  }

  private cleanUp(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.timers.clearTimeout(this.keepAlive);
    this.timers.clearTimeout(this.recheck);
    this.timers.clearTimeout(this.lifetime);
    this.onClose();
  }
}

function frame(eventName: string, data: object): string {
  return `event: ${eventName}\ndata: ${JSON.stringify(data)}\n\n`;
}
