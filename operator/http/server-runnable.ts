/**
 * The HTTP API as a runnable of every replica (followers serve reads too): listens on start,
 * and on stop ends the event streams and waits for the requests in flight.
 */
import type { Runnable } from '../runtime/runnable.js';
import type { HttpServer } from './server.js';

export class HttpServerRunnable implements Runnable {
  readonly name = 'http';
  readonly needsLeadership = false;
  private listeningUrl = '';

  constructor(
    private readonly server: Pick<HttpServer, 'listen' | 'close'>,
    private readonly address: { host: string; port: number },
  ) {}

  /** The base URL it listens on (empty before start). */
  get url(): string {
    return this.listeningUrl;
  }

  async start(): Promise<void> {
    this.listeningUrl = (await this.server.listen(this.address.host, this.address.port)).url;
  }

  stop(): Promise<void> {
    return this.server.close();
  }
}
