/**
 * The one HTTP call the HTTP notifiers make: POST a JSON body, with a timeout, to a receiver
 * that may be hostile. The receiver decides nothing about the operator's resources:
 * - the answer's body is read to {@link MAX_RESPONSE_BYTES} at most and the connection is then
 *   closed (a 300 MB error page costs nothing);
 * - redirects are refused, not followed (a 3xx is a failed delivery);
 * - the connection goes only to addresses the destination policy allows, checked on the
 *   address actually connected to;
 * - errors are reported as a class ("connection refused", "HTTP 500", "timeout"), never with
 *   the receiver's text, the URL (it may come from a Secret, and paths often embed one) or
 *   the headers; the message is the class.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { DestinationForbiddenError, type DestinationPolicy } from './destination-policy.js';
import { DeliveryError } from './notification.js';
import { systemTimers, type Timers } from '../../runtime/clock.js';

export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;
/** Bytes of a receiver's answer read before the connection is closed. */
export const MAX_RESPONSE_BYTES = 4096;

/** TLS and credentials of a receiver the admin configured (Alertmanager). */
export interface TlsOptions {
  /** PEM CA bundle that verifies the receiver's certificate; the system's CAs when absent. */
  ca?: string;
  /** PEM client certificate and key (mutual TLS). */
  cert?: string;
  key?: string;
  /** TLS server name when it differs from the URL's host. */
  serverName?: string;
}

export interface PostOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** The timeout runs on these; the system's by default. */
  timers?: Timers;
  headers?: Record<string, string>;
  /** Where the request may connect; every destination when absent. */
  policy?: DestinationPolicy;
  tls?: TlsOptions;
}

/**
 * POSTs `body` as JSON. Throws a DeliveryError on a network error, a timeout, a refused
 * destination or a non-2xx answer; 3xx and 4xx answers other than 408 and 429 are not
 * retryable, nor is a refused destination.
 */
export async function postJson(url: string, body: unknown, options: PostOptions): Promise<void> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new DeliveryError('invalid receiver URL', false, 'invalid URL');
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    throw new DeliveryError('invalid receiver URL (http or https only)', false, 'invalid URL');
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  if (options.policy) {
    const problem = options.policy.hostProblem(host);
    if (problem !== undefined) throw forbidden(new DestinationForbiddenError(problem));
  }
  const payload = Buffer.from(JSON.stringify(body));
  const timers = options.timers ?? systemTimers;
  const timeout = new AbortController();
  const timer = timers.setTimeout(() => timeout.abort(new Error('timeout')), options.timeoutMs);
  const signal = AbortSignal.any([options.signal, timeout.signal]);
  const status = await new Promise<number>((resolve, reject) => {
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const tls = options.tls ?? {};
    const req = send(
      target,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(payload.length),
          ...options.headers,
        },
        signal,
        // No connection reuse: every delivery resolves and checks its destination again.
        agent: false,
        ...(options.policy && isIP(host) === 0 && { lookup: options.policy.lookupFor(host) }),
        ...(tls.ca !== undefined && { ca: tls.ca }),
        ...(tls.cert !== undefined && { cert: tls.cert }),
        ...(tls.key !== undefined && { key: tls.key }),
        ...(tls.serverName !== undefined && { servername: tls.serverName }),
      },
      (response: IncomingMessage) => {
        drainCapped(response, () => {
          req.destroy();
          resolve(response.statusCode ?? 0);
        });
      },
    );
    req.on('error', (err) => reject(err));
    req.end(payload);
  })
    .catch((err: unknown) => {
      if (err instanceof DestinationForbiddenError) throw forbidden(err);
      if (signal.aborted && !options.signal.aborted) throw new DeliveryError('timeout', true, 'timeout');
      const cls = errorClass(err);
      throw new DeliveryError(cls, true, cls);
    })
    .finally(() => timers.clearTimeout(timer));
  if (status >= 200 && status < 300) return;
  if (status >= 300 && status < 400)
    throw new DeliveryError(`HTTP ${status} (redirects are not followed)`, false, `HTTP ${status}`);
  const retryable = status >= 500 || status === 408 || status === 429;
  throw new DeliveryError(`HTTP ${status}`, retryable, `HTTP ${status}`);
}

function forbidden(err: DestinationForbiddenError): DeliveryError {
  return new DeliveryError(err.message, false, 'destination forbidden', err.addressClass);
}

/** Reads at most MAX_RESPONSE_BYTES of the answer, then calls `done` (the caller closes the socket). */
function drainCapped(response: IncomingMessage, done: () => void): void {
  let read = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    response.removeAllListeners('data');
    done();
  };
  response.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read >= MAX_RESPONSE_BYTES) finish();
  });
  response.on('end', finish);
  response.on('error', finish);
  response.on('aborted', finish);
}

/** A network error as a class of failure, without addresses or messages from elsewhere. */
export function errorClass(err: unknown): string {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NODATA':
    case 'EAI_NONAME':
      return 'DNS lookup failed';
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'host unreachable';
    case 'ABORT_ERR':
      return 'aborted';
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_VERSION':
    case 'HPE_INVALID_STATUS':
    case 'HPE_HEADER_OVERFLOW':
      return 'invalid HTTP response';
    default:
      if (
        code.startsWith('ERR_TLS') ||
        code.includes('CERT') ||
        code.startsWith('ERR_SSL') ||
        code.includes('SSL')
      )
        return 'TLS error';
      if (code.startsWith('HPE_')) return 'invalid HTTP response';
      return 'network error';
  }
}
