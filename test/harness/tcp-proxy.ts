/**
 * A TCP proxy on 127.0.0.1 in front of a server (the test store), that a test cuts and restores:
 * while cut, every open connection is reset and new ones are accepted and reset at once, as a
 * store that went away (the port stays bound, so nothing else takes it meanwhile).
 */
import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** The target's URL with this proxy's host and port (e.g. a mongodb:// URI). */
  url(target: string): string;
  cut(): void;
  restore(): void;
  readonly isCut: boolean;
  /** When it was cut and restored (ms), in order. */
  readonly outages: { from: number; to?: number }[];
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let cut = false;
  const outages: { from: number; to?: number }[] = [];
  const server = createServer((client) => {
    if (cut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection(target);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      open.delete(client);
      open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url(text) {
      const url = new URL(text);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    cut() {
      if (cut) return;
      cut = true;
      outages.push({ from: Date.now() });
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    restore() {
      if (!cut) return;
      cut = false;
      outages.at(-1)!.to = Date.now();
    },
    get isCut() {
      return cut;
    },
    outages,
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
