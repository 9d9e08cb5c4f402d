import { afterEach, describe, expect, it } from '@jest/globals';
import { createConnection, createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startTcpProxy, type TcpProxy } from '../../harness/tcp-proxy.js';

/** Sends `text` through a new connection to `port`; resolves with the echo, or the error code. */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let got = '';
    socket.on('data', (chunk) => {
      got += chunk.toString();
      if (got.length >= text.length) {
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
    socket.on('close', () => resolve(got === '' ? 'closed' : got));
    socket.write(text);
  });
}

describe('startTcpProxy', () => {
  let echo: Server | undefined;
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    await new Promise((r) => (echo ? echo.close(r) : r(undefined)));
  });

  it('forwards, resets every connection while cut, and forwards again once restored', async () => {
    echo = createServer((s) => s.on('error', () => undefined).pipe(s));
    await new Promise<void>((r) => echo!.listen(0, '127.0.0.1', r));
    const target = { host: '127.0.0.1', port: (echo.address() as AddressInfo).port };
    proxy = await startTcpProxy(target);
    expect(proxy.url(`mongodb://127.0.0.1:${target.port}/`)).toBe(`mongodb://127.0.0.1:${proxy.port}/`);
    expect(await roundTrip(proxy.port, 'hello')).toBe('hello');

    // A connection open at the cut is reset.
    const open = createConnection({ host: '127.0.0.1', port: proxy.port });
    await new Promise((r) => open.once('connect', r));
    open.write('x');
    await new Promise((r) => open.once('data', r));
    const closed = new Promise((r) => open.once('close', r));
    open.on('error', () => undefined);
    proxy.cut();
    await closed;
    expect(proxy.isCut).toBe(true);
    expect(await roundTrip(proxy.port, 'during')).toMatch(/^(error ECONNRESET|closed)$/);

    proxy.restore();
    expect(await roundTrip(proxy.port, 'after')).toBe('after');
    expect(proxy.outages).toHaveLength(1);
    expect(proxy.outages[0]!.to).toBeGreaterThanOrEqual(proxy.outages[0]!.from);
  });
});
