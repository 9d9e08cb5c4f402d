import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface ReceivedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  at: number;
}

/**
 * A notification receiver on 127.0.0.1 (a free port): records every request. `failNext(n)`
 * answers the next n requests with 503 (a receiver that fails, then recovers).
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  private server?: Server;
  private failures = 0;
  private alwaysFail = false;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        if (this.alwaysFail || this.failures > 0) {
          if (this.failures > 0) this.failures--;
          res.writeHead(503).end('unavailable');
          return;
        }
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // kept as text
        }
        this.requests.push({ path: req.url ?? '', headers: req.headers, body, at: Date.now() });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return this;
  }

  failNext(count: number): void {
    this.failures = count;
  }

  failAlways(fail: boolean): void {
    this.alwaysFail = fail;
  }

  to(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
