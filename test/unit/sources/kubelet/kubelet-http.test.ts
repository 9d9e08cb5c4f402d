import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import {
  KubeletRequestError,
  NodeKubeletHttp,
  failureOf,
} from '../../../../operator/sources/kubelet/kubelet-http.js';

/** A kubelet stand-in on 127.0.0.1: answers by path. */
let server: Server;
let base: string;
let seen: IncomingHttpHeaders[] = [];
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    switch (req.url) {
      case '/metrics/resource':
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
        res.end('container_cpu_usage_seconds_total{namespace="n",pod="p",container="c"} 1\n');
        return;
      case '/forbidden':
        res.writeHead(403, 'Forbidden');
        res.end(
          'Forbidden (user=system:serviceaccount:x:y, verb=get, resource=nodes, subresource=(metrics))',
        );
        return;
      case '/big':
        res.writeHead(200);
        res.end('x'.repeat(4096));
        return;
      case '/slow':
        return; // never answers
      default:
        res.writeHead(404);
        res.end();
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

async function failure(promise: Promise<unknown>): Promise<{ reason: string; detail: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof KubeletRequestError) return { reason: err.reason, detail: err.detail };
    throw err;
  }
  throw new Error('expected a failure');
}

describe('NodeKubeletHttp', () => {
  it('reads the answer with the bearer token and the text format asked for, and says when it asked', async () => {
    let clock = 1_000;
    const client = new NodeKubeletHttp({ clock: () => (clock += 5) });
    seen = [];
    try {
      const answer = await client.get(
        new URL(`${base}/metrics/resource`),
        { authorization: 'Bearer t0ken' },
        { timeoutMs: 5_000 },
      );
      expect(answer).toEqual({
        body: 'container_cpu_usage_seconds_total{namespace="n",pod="p",container="c"} 1\n',
        requestedAt: 1_005,
        receivedAt: 1_010,
      });
      expect(seen[0]).toMatchObject({
        authorization: 'Bearer t0ken',
        accept: 'text/plain;version=0.0.4, */*;q=0.1',
      });
    } finally {
      client.close();
    }
  });

  it('classifies an HTTP error by its status and keeps what the kubelet said', async () => {
    const client = new NodeKubeletHttp();
    try {
      expect(await failure(client.get(new URL(`${base}/forbidden`), {}, { timeoutMs: 5_000 }))).toEqual({
        reason: 'HTTP 403',
        detail:
          '403 Forbidden: Forbidden (user=system:serviceaccount:x:y, verb=get, resource=nodes, subresource=(metrics))',
      });
    } finally {
      client.close();
    }
  });

  it('gives up on a silent endpoint at the deadline', async () => {
    const client = new NodeKubeletHttp();
    try {
      expect(await failure(client.get(new URL(`${base}/slow`), {}, { timeoutMs: 200 }))).toEqual({
        reason: 'timeout',
        detail: 'no answer within 200 ms',
      });
    } finally {
      client.close();
    }
  });

  it('stops when the caller cancels', async () => {
    const client = new NodeKubeletHttp();
    const controller = new AbortController();
    try {
      const pending = client.get(
        new URL(`${base}/slow`),
        {},
        { timeoutMs: 60_000, signal: controller.signal },
      );
      setTimeout(() => controller.abort(), 50);
      expect(await failure(pending)).toEqual({ reason: 'network error', detail: 'the read was cancelled' });
    } finally {
      client.close();
    }
  });

  it('refuses an answer larger than the bound', async () => {
    const client = new NodeKubeletHttp({ maxBodyBytes: 1024 });
    try {
      expect(await failure(client.get(new URL(`${base}/big`), {}, { timeoutMs: 5_000 }))).toEqual({
        reason: 'response too large',
        detail: 'more than 1024 bytes',
      });
    } finally {
      client.close();
    }
  });

  it('names a closed port "connection refused"', async () => {
    // A port that was just free: listen, note it, close.
    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const client = new NodeKubeletHttp();
    try {
      const { reason } = await failure(
        client.get(new URL(`http://127.0.0.1:${port}/metrics/resource`), {}, { timeoutMs: 5_000 }),
      );
      expect(reason).toBe('connection refused');
    } finally {
      client.close();
    }
  });

  it('sorts socket and TLS errors into classes', () => {
    const err = (code: string) => Object.assign(new Error(`boom ${code}`), { code });
    expect(failureOf(err('ENOTFOUND')).reason).toBe('DNS');
    expect(failureOf(err('EHOSTUNREACH')).reason).toBe('unreachable');
    expect(failureOf(err('ECONNRESET')).reason).toBe('connection reset');
    expect(failureOf(err('DEPTH_ZERO_SELF_SIGNED_CERT'))).toEqual({
      reason: 'TLS',
      detail: 'DEPTH_ZERO_SELF_SIGNED_CERT: boom DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    expect(failureOf(err('ERR_TLS_CERT_ALTNAME_INVALID')).reason).toBe('TLS');
    expect(failureOf(err('EWHATEVER')).reason).toBe('network error');
  });
});
