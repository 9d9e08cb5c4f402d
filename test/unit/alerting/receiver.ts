/** A real HTTP receiver on 127.0.0.1 (free port) that records requests and answers as told. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { waitFor } from '../../harness/wait.js';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Status for the n-th request (0-based); 200 by default. */
  respond: (n: number) => number;
  close(): Promise<void>;
}

export async function startReceiver(respond: (n: number) => number = () => 200): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const receiver: Receiver = { url: '', requests, respond, close: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const n = requests.length;
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: text ? JSON.parse(text) : null,
      });
      const status = receiver.respond(n);
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status >= 400 ? `refused request ${n}` : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  receiver.url = `http://127.0.0.1:${port}`;
  receiver.close = () =>
    new Promise((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    });
  return receiver;
}

/** Polls `check` until it returns true or the deadline passes. */
export async function eventually(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  await waitFor('the condition', check, { timeoutMs, intervalMs: 5 });
}
