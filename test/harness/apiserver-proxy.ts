/**
 * A plain-HTTP proxy on 127.0.0.1 in front of the test cluster's apiserver, with the admin's
 * credentials. It counts the requests that pass through it (by method and resource), and it can
 * hide API groups: requests under `/apis/<group>` then answer 404 NotFound, as an apiserver does
 * for a group it does not serve (e.g. CRDs not installed). The operator is pointed at it with a
 * kubeconfig of its own, while every other test keeps the real CRDs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { kubeConfig } from './index.js';
import { selfSignedCertificate } from './serving-certificate.js';

export interface ApiserverProxy {
  /**
   * A kubeconfig whose server is this proxy (HTTPS with a self-signed certificate for
   * 127.0.0.1: client-node refuses plain HTTP), with the admin's client credentials. The proxy
   * does not ask for them (it adds the admin's to what it forwards); the operator uses them for
   * what does not go through the proxy, the kubelets' endpoints.
   */
  kubeconfig: string;
  /** The cluster CA (PEM file), for `--kubelet-certificate-authority`: the proxy's kubeconfig has none. */
  caFile: string;
  /** Requests received since the start or the last reset, by route (`GET pods`, `GET pods watch`, `PUT usagepolicies/status`). */
  countsByRoute(): Map<string, number>;
  /** Starts counting again from zero. */
  resetCounts(): void;
  close(): Promise<void>;
}

export interface ApiserverProxyOptions {
  /** API groups answered with 404 NotFound. */
  hiddenGroups?: string[];
}

/**
 * `GET pods`, `GET pods watch`, `PUT usagepolicies/status`, `GET /version`: the method and the
 * resource (with its subresource) of an API path, without namespaces, names or the query.
 */
export function routeOf(method: string, url: string): string {
  const [path = '/', query = ''] = url.split('?', 2);
  const watch = /(^|&)watch=(true|1)(&|$)/.test(query) ? ' watch' : '';
  const parts = path.split('/').filter((p) => p !== '');
  // /api/v1/... or /apis/<group>/<version>/...
  const rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : undefined;
  if (rest === undefined || rest.length === 0) return `${method} ${path}`;
  const scoped = rest[0] === 'namespaces' && rest.length > 2 ? rest.slice(2) : rest;
  const [resource, , subresource] = scoped;
  return `${method} ${resource}${subresource ? `/${subresource}` : ''}${watch}`;
}

export async function startApiserverProxy(options: ApiserverProxyOptions = {}): Promise<ApiserverProxy> {
  const kc = kubeConfig();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the test kubeconfig has no current cluster');
  const upstream = new URL(cluster.server);
  const tls: RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const hidden = (options.hiddenGroups ?? []).map((group) => `/apis/${group}`);
  let byRoute = new Map<string, number>();
  const dir = await mkdtemp(join(tmpdir(), 'kuo-proxy-'));
  const serving = await selfSignedCertificate(dir, '127.0.0.1');

  const server = createServer(serving, (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    const route = routeOf(req.method ?? 'GET', path);
    byRoute.set(route, (byRoute.get(route) ?? 0) + 1);
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
    // The caller went away (e.g. a watch closed) before the answer was complete. Not the
    // request's 'close': that comes as soon as its body has been read.
    res.on('close', () => {
      if (!res.writableFinished) proxied.destroy();
    });
    req.pipe(proxied);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const kubeconfig = join(dir, 'kubeconfig');
  const caFile = join(dir, 'ca.crt');
  await writeFile(caFile, pem(tls.ca));
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'proxy',
          cluster: {
            server: `https://127.0.0.1:${port}`,
            'certificate-authority-data': Buffer.from(serving.cert).toString('base64'),
          },
        },
      ],
      users: [
        {
          name: 'proxy',
          user: {
            ...base64Field('client-certificate-data', tls.cert),
            ...base64Field('client-key-data', tls.key),
          },
        },
      ],
      contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'proxy' } }],
      'current-context': 'proxy',
    }),
  );
  return {
    kubeconfig,
    caFile,
    countsByRoute: () => new Map(byRoute),
    resetCounts: () => {
      byRoute = new Map();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** PEM text given as a string, a Buffer or a list of them; empty when absent. */
function pem(value: unknown): string {
  if (Array.isArray(value)) return value.map(pem).join('\n');
  return typeof value === 'string' || Buffer.isBuffer(value) ? value.toString() : '';
}

/** `{ [field]: base64 }` of a PEM; nothing when absent. */
function base64Field(field: string, value: unknown): Record<string, string> {
  const text = pem(value);
  return text === '' ? {} : { [field]: Buffer.from(text).toString('base64') };
}
