/**
 * Receivers that misbehave, on 127.0.0.1 (free ports), for the notifiers' safety tests: one
 * that answers every request with an error body of any size (streamed, never allocated), one
 * that redirects, and one that accepts connections and never answers.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';

export interface HostileReceiver {
  url: string;
  /** Requests received. */
  requests: number;
  /** Bytes of error body the receiver could write before the client went away, per request. */
  bytesWritten: number[];
  /** Responses that have ended or whose connection has closed (the huge-body receiver). */
  closedResponses?: number;
  stop(): Promise<void>;
}

const CHUNK = Buffer.alloc(64 * 1024, 'x');

async function listen(server: Server | TcpServer): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** Answers HTTP `status` with a body of `bodyBytes` bytes, written in 64 KiB chunks with back-pressure. */
export async function startHugeBodyReceiver(bodyBytes: number, status = 500): Promise<HostileReceiver> {
  const receiver: HostileReceiver = { url: '', requests: 0, bytesWritten: [], stop: async () => {} };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      receiver.requests++;
      const index = receiver.bytesWritten.push(0) - 1;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(bodyBytes) });
      let left = bodyBytes;
      const pump = () => {
        while (left > 0 && !res.destroyed) {
          const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
          left -= chunk.length;
          receiver.bytesWritten[index]! += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (left === 0) res.end();
      };
      res.on('close', () => {
        left = 0;
        receiver.closedResponses = (receiver.closedResponses ?? 0) + 1;
      });
      pump();
    });
  });
  receiver.url = await listen(server);
  receiver.stop = () => stopServer(server);
  return receiver;
}

/** Answers every request with a redirect to `location`. */
export async function startRedirectingReceiver(location: string, status = 302): Promise<HostileReceiver> {
  const receiver: HostileReceiver = { url: '', requests: 0, bytesWritten: [], stop: async () => {} };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      receiver.requests++;
      res.writeHead(status, { location, 'content-type': 'text/plain' }).end(`moved to ${location}`);
    });
  });
  receiver.url = await listen(server);
  receiver.stop = () => stopServer(server);
  return receiver;
}

/** Accepts connections and never answers (a receiver that hangs). */
export async function startSilentReceiver(): Promise<HostileReceiver> {
  const sockets = new Set<Socket>();
  const receiver: HostileReceiver = { url: '', requests: 0, bytesWritten: [], stop: async () => {} };
  const server = createTcpServer((socket) => {
    receiver.requests++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.resume();
  });
  receiver.url = await listen(server);
  receiver.stop = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return receiver;
}

async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Peak resident memory of a process (VmHWM) and its current one (VmRSS), in bytes, from /proc. */
export async function processMemory(pid: number): Promise<{ peakRss: number; rss: number }> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { peakRss: kb('VmHWM'), rss: kb('VmRSS') };
}

/** Resets a process's peak RSS to its current RSS (Linux: clear_refs 5); false when not allowed. */
export async function resetPeakRss(pid: number): Promise<boolean> {
  const { writeFile } = await import('node:fs/promises');
  return writeFile(`/proc/${pid}/clear_refs`, '5').then(
    () => true,
    () => false,
  );
}
