/**
 * A plain-HTTP proxy on 127.0.0.1 in front of the test cluster's apiserver, with the admin's
 * credentials, that hides API groups: requests under `/apis/<group>` answer 404 NotFound, as
 * an apiserver does for a group it does not serve (e.g. CRDs not installed). The operator is
 * pointed at it with a kubeconfig of its own, while every other test keeps the real CRDs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { kubeConfig } from './index.js';

export interface ApiserverProxy {
  /** A kubeconfig whose server is this proxy (no credentials needed). */
  kubeconfig: string;
  close(): Promise<void>;
}

export async function startApiserverProxy(options: { hiddenGroups: string[] }): Promise<ApiserverProxy> {
  const kc = kubeConfig();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the test kubeconfig has no current cluster');
  const upstream = new URL(cluster.server);
  const tls: RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const hidden = options.hiddenGroups.map((group) => `/apis/${group}`);

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    if (
      hidden.some(
        (prefix) => path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}?`),
      )
    ) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: 'the server could not find the requested resource',
          reason: 'NotFound',
          code: 404,
        }),
      );
      return;
    }
    const headers = { ...req.headers, host: upstream.host };
    const forward = upstream.protocol === 'https:' ? httpsRequest : httpRequest;
    const proxied = forward(
      {
        ...tls,
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path,
        headers: { ...headers, ...(tls.headers as Record<string, string> | undefined) },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    proxied.on('error', () => res.destroy());
    req.on('close', () => proxied.destroy());
    req.pipe(proxied);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const dir = await mkdtemp(join(tmpdir(), 'kuo-proxy-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'proxy', cluster: { server: `http://127.0.0.1:${port}` } }],
      users: [{ name: 'proxy', user: {} }],
      contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'proxy' } }],
      'current-context': 'proxy',
    }),
  );
  return {
    kubeconfig,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
