/**
 * GET of a kubelet endpoint over HTTPS with the operator's credentials (a bearer token or a
 * client certificate), as metrics-server does it: one keep-alive connection pool, a deadline
 * per request, a bound on the answer's size, and failures sorted into classes a person can act
 * on ("timeout", "connection refused", "TLS", "HTTP 403", ...).
 */
import http from 'node:http';
import https from 'node:https';

/** How to authenticate to kubelets and verify them. Taken from the operator's kubeconfig. */
export interface KubeletCredentials {
  /** CA bundle (PEM) that signs the kubelets' serving certificates; the system CAs when absent. */
  ca?: string | Buffer;
  /** Client certificate and key (PEM). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The `Authorization` header, e.g. `Bearer <token>`. */
  authorization?: string;
  /** Do not verify the kubelets' serving certificates (metrics-server's `--kubelet-insecure-tls`). */
  insecureSkipTLSVerify?: boolean;
}

/** An endpoint's answer and when it was asked and answered (ms since epoch). */
export interface KubeletAnswer {
  body: string;
  requestedAt: number;
  receivedAt: number;
}

/** Failure classes; `detail` says the rest. */
export type KubeletFailure =
  | 'timeout'
  | 'connection refused'
  | 'connection reset'
  | 'unreachable'
  | 'DNS'
  | 'TLS'
  | 'network error'
  | 'response too large'
  | `HTTP ${number}`;

export class KubeletRequestError extends Error {
  constructor(
    readonly reason: KubeletFailure,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'KubeletRequestError';
  }
}

/** The seam the source reads through (a fake in unit tests). */
export interface KubeletHttp {
  get(
    url: URL,
    credentials: KubeletCredentials,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<KubeletAnswer>;
  close(): void;
}

export interface KubeletHttpOptions {
  /** Connections kept open per endpoint (kwok serves every node on one port). */
  maxSockets?: number;
  /** Answers larger than this are refused. Default 64 MiB (a kubelet with 1,000 containers writes ~0.5 MiB). */
  maxBodyBytes?: number;
  clock?: () => number;
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_OSSL_)/;

/** The class of a socket or TLS error from node's http(s). */
export function failureOf(err: unknown): { reason: KubeletFailure; detail: string } {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string') {
    if (code === 'ECONNREFUSED') return { reason: 'connection refused', detail: message };
    if (code === 'ECONNRESET' || code === 'EPIPE') return { reason: 'connection reset', detail: message };
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { reason: 'DNS', detail: message };
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL')
      return { reason: 'unreachable', detail: message };
    if (code === 'ETIMEDOUT') return { reason: 'timeout', detail: message };
    if (TLS_CODE.test(code)) return { reason: 'TLS', detail: `${code}: ${message}` };
    return { reason: 'network error', detail: `${code}: ${message}` };
  }
  return { reason: 'network error', detail: message };
}

function sameBytes(a: string | Buffer | undefined, b: string | Buffer | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Node's http(s) with keep-alive pools; a new pool when the TLS material changes. */
export class NodeKubeletHttp implements KubeletHttp {
  private readonly maxSockets: number;
  private readonly maxBodyBytes: number;
  private readonly clock: () => number;
  private httpsAgent: https.Agent | undefined;
  private agentCredentials: KubeletCredentials | undefined;
  private readonly httpAgent: http.Agent;

  constructor(options: KubeletHttpOptions = {}) {
    this.maxSockets = options.maxSockets ?? 16;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 2 ** 20;
    this.clock = options.clock ?? Date.now;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: this.maxSockets });
  }

  private agentFor(credentials: KubeletCredentials): https.Agent {
    const current = this.agentCredentials;
    if (
      this.httpsAgent === undefined ||
      current === undefined ||
      !sameBytes(current.ca, credentials.ca) ||
      !sameBytes(current.cert, credentials.cert) ||
      !sameBytes(current.key, credentials.key) ||
      Boolean(current.insecureSkipTLSVerify) !== Boolean(credentials.insecureSkipTLSVerify)
    ) {
      this.httpsAgent?.destroy();
      this.httpsAgent = new https.Agent({
        keepAlive: true,
        maxSockets: this.maxSockets,
        ca: credentials.ca,
        cert: credentials.cert,
        key: credentials.key,
        rejectUnauthorized: !credentials.insecureSkipTLSVerify,
      });
      this.agentCredentials = { ...credentials };
    }
    return this.httpsAgent;
  }

  get(
    url: URL,
    credentials: KubeletCredentials,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<KubeletAnswer> {
    const secure = url.protocol === 'https:';
    const deadline = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    const headers: Record<string, string> = {
      // The text format (what metrics-server gets by asking for nothing); `*/*` because some
      // servers (kwok's) refuse an Accept list they have no exact match for.
      Accept: 'text/plain;version=0.0.4, */*;q=0.1',
      'User-Agent': 'kube-usage-operator',
    };
    if (credentials.authorization !== undefined) headers.Authorization = credentials.authorization;
    const requestedAt = this.clock();
    return new Promise<KubeletAnswer>((resolve, reject) => {
      let settled = false;
      const fail = (err: KubeletRequestError) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        request.destroy();
        reject(err);
      };
      const onAbort = (): void => {
        if (deadline.aborted)
          fail(new KubeletRequestError('timeout', `no answer within ${options.timeoutMs} ms`));
        else fail(new KubeletRequestError('network error', 'the read was cancelled'));
      };
      const request = (secure ? https : http).request(
        url,
        { method: 'GET', headers, agent: secure ? this.agentFor(credentials) : this.httpAgent },
        (response) => {
          const status = response.statusCode ?? 0;
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.maxBodyBytes) {
              fail(new KubeletRequestError('response too large', `more than ${this.maxBodyBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          response.on('error', (err) => {
            const { reason, detail } = failureOf(err);
            fail(new KubeletRequestError(reason, detail));
          });
          response.on('end', () => {
            if (settled) return;
            settled = true;
            signal.removeEventListener('abort', onAbort);
            const body = Buffer.concat(chunks).toString('utf8');
            if (status !== 200) {
              const excerpt = body.trim().slice(0, 200);
              reject(
                new KubeletRequestError(
                  `HTTP ${status}`,
                  `${status} ${response.statusMessage ?? ''}`.trim() + (excerpt ? `: ${excerpt}` : ''),
                ),
              );
              return;
            }
            resolve({ body, requestedAt, receivedAt: this.clock() });
          });
        },
      );
      request.on('error', (err) => {
        if (signal.aborted) return onAbort();
        const { reason, detail } = failureOf(err);
        fail(new KubeletRequestError(reason, detail));
      });
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      request.end();
    });
  }

  close(): void {
    this.httpsAgent?.destroy();
    this.httpAgent.destroy();
  }
}
