import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeClients, loadKubeConfig } from '../../../operator/runtime/kube.js';
import type { WatchEvent } from '../../../operator/runtime/informer.js';

interface Request {
  method: string;
  url: URL;
  contentType?: string;
  accept?: string;
  authorization?: string;
  body: unknown;
}

type Handler = (req: Request, res: ServerResponse) => void;

/** A loopback HTTP server standing in for the apiserver; each test sets the handler. */
let server: Server;
let handler: Handler;
let requests: Request[];
let kubeconfigPath: string;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const request = {
        method: req.method!,
        url: new URL(req.url!, 'http://localhost'),
        contentType: req.headers['content-type'],
        accept: req.headers.accept,
        authorization: req.headers.authorization,
        body: text ? JSON.parse(text) : undefined,
      };
      requests.push(request);
      handler(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const dir = tempDir();
  kubeconfigPath = join(dir, 'config');
  writeFileSync(
    kubeconfigPath,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'test', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'test', user: { token: 'secret' } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
      'current-context': 'test',
    }),
  );
});

/** Temporary directories of the kubeconfig files, removed at the end. */
const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kuo-kube-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function clients(): KubeClients {
  requests = [];
  return new KubeClients(loadKubeConfig(kubeconfigPath, {}));
}

function podJson(name: string, rv: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', resourceVersion: rv, creationTimestamp: '2026-11-21T10:00:00Z' },
    status: { startTime: '2026-11-21T10:00:00Z' },
  };
}

describe('loadKubeConfig', () => {
  it('needs a kubeconfig or a cluster to run in', () => {
    expect(() => loadKubeConfig(undefined, {})).toThrow(
      /pass --kubeconfig, set KUBECONFIG, or run inside a cluster/,
    );
  });

  it('reads a path list like KUBECONFIG; the first file sets the context', () => {
    const other = join(tempDir(), 'config');
    writeFileSync(
      other,
      JSON.stringify({
        clusters: [{ name: 'other', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'other', user: {} }],
        contexts: [{ name: 'other', context: { cluster: 'other', user: 'other' } }],
        'current-context': 'other',
      }),
    );
    const kc = loadKubeConfig(`${kubeconfigPath}${delimiter}${other}`, {});
    expect(kc.getCurrentCluster()?.name).toBe('test');
    expect(kc.getClusters().map((c) => c.name)).toEqual(['test', 'other']);
  });
});

describe('KubeClients.listWatcher', () => {
  it('hands on each page as plain JSON as it arrives, and resolves with the list resourceVersion', async () => {
    handler = (req, res) => {
      const page2 = req.url.searchParams.get('continue') === 'p2';
      json(res, 200, {
        apiVersion: 'v1',
        kind: 'PodList',
        metadata: { resourceVersion: '100', ...(page2 ? {} : { continue: 'p2' }) },
        items: [podJson(page2 ? 'b' : 'a', page2 ? '2' : '1')],
      });
    };
    const lw = clients().listWatcher(
      { apiVersion: 'v1', kind: 'Pod', plural: 'pods' },
      { labelSelector: 'app=web' },
    );
    const pages: { names: string[]; requestsSoFar: number }[] = [];
    const resourceVersion = await lw.list(new AbortController().signal, (items) => {
      pages.push({ names: items.map((p) => p.metadata?.name ?? ''), requestsSoFar: requests.length });
      // Timestamps stay strings, as in watch events.
      expect(typeof (items[0] as { status: { startTime: unknown } }).status.startTime).toBe('string');
    });
    expect(resourceVersion).toBe('100');
    // The first page is handed on before the second is asked for.
    expect(pages).toEqual([
      { names: ['a'], requestsSoFar: 1 },
      { names: ['b'], requestsSoFar: 2 },
    ]);
    const lists = requests.filter((r) => r.url.pathname === '/api/v1/pods');
    expect(lists.map((r) => r.url.searchParams.get('labelSelector'))).toEqual(['app=web', 'app=web']);
    expect(lists.map((r) => r.url.searchParams.get('continue'))).toEqual([null, 'p2']);
    expect(lists[0]!.url.searchParams.get('limit')).toBe('500');
    expect(lists.map((r) => [r.accept, r.authorization])).toEqual([
      ['application/json', 'Bearer secret'],
      ['application/json', 'Bearer secret'],
    ]);
  });

  it('asks for metadata only (PartialObjectMetadata) when told, on lists and watches', async () => {
    handler = (req, res) => {
      if (req.url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end();
      }
      json(res, 200, { kind: 'PartialObjectMetadataList', metadata: { resourceVersion: '7' }, items: [] });
    };
    const lw = clients().listWatcher(
      { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces' },
      {},
      { metadataOnly: true },
    );
    expect(await lw.list(new AbortController().signal, () => {})).toBe('7');
    await lw.watch('7', () => {}, new AbortController().signal);
    expect(requests.map((r) => [r.url.searchParams.get('watch'), r.accept, r.authorization])).toEqual([
      [
        null,
        'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
        'Bearer secret',
      ],
      [
        'true',
        'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json',
        'Bearer secret',
      ],
    ]);
  });

  it('fails a list with the HTTP status as code (410: the continue token expired)', async () => {
    handler = (req, res) =>
      req.url.searchParams.get('continue') === 'p2'
        ? json(res, 410, { kind: 'Status', code: 410, message: 'The provided continue parameter is too old' })
        : json(res, 200, { metadata: { resourceVersion: '5', continue: 'p2' }, items: [podJson('a', '1')] });
    const lw = clients().listWatcher({ apiVersion: 'v1', kind: 'Pod', plural: 'pods' });
    const names: string[] = [];
    await expect(
      lw.list(new AbortController().signal, (items) =>
        names.push(...items.map((p) => p.metadata?.name ?? '')),
      ),
    ).rejects.toMatchObject({ code: 410, message: 'The provided continue parameter is too old' });
    expect(names).toEqual(['a']);
  });

  it('streams events and bookmarks, and fails with code 410 on an expired resourceVersion', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ type: 'ADDED', object: podJson('a', '101') }) + '\n');
      res.write(
        JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Pod', metadata: { resourceVersion: '150' } } }) +
          '\n',
      );
      res.end(
        JSON.stringify({
          type: 'ERROR',
          object: { kind: 'Status', code: 410, message: 'too old resource version' },
        }) + '\n',
      );
    };
    const lw = clients().listWatcher(
      { apiVersion: 'usage.kubeusage.dev/v1alpha1', kind: 'UsagePolicy', plural: 'usagepolicies' },
      { namespace: 'shop' },
    );
    const events: WatchEvent<unknown>[] = [];
    await expect(lw.watch('100', (e) => events.push(e), new AbortController().signal)).rejects.toMatchObject({
      code: 410,
    });
    expect(events).toEqual([
      { type: 'ADDED', object: podJson('a', '101') },
      { type: 'BOOKMARK', resourceVersion: '150' },
    ]);
    const watch = requests[0]!.url;
    expect(watch.pathname).toBe('/apis/usage.kubeusage.dev/v1alpha1/namespaces/shop/usagepolicies');
    expect(Object.fromEntries(watch.searchParams)).toMatchObject({
      watch: 'true',
      resourceVersion: '100',
      allowWatchBookmarks: 'true',
    });
    expect(Number(watch.searchParams.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300);
  });

  it('resolves when the server ends the watch', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end();
    };
    const lw = clients().listWatcher({ apiVersion: 'v1', kind: 'Pod', plural: 'pods' });
    await expect(lw.watch('1', () => {}, new AbortController().signal)).resolves.toBeUndefined();
  });

  it('rejects when the server refuses the watch', async () => {
    handler = (_req, res) => json(res, 403, { kind: 'Status', code: 403 });
    const lw = clients().listWatcher({ apiVersion: 'v1', kind: 'Pod', plural: 'pods' });
    await expect(lw.watch('1', () => {}, new AbortController().signal)).rejects.toMatchObject({
      statusCode: 403,
    });
  });
});

describe('KubeClients.leaseClient', () => {
  it('reads a missing lease as undefined, creates it, and replaces it with the resourceVersion', async () => {
    const stored: { metadata?: Record<string, unknown>; spec?: Record<string, unknown> }[] = [];
    handler = (req, res) => {
      if (req.method === 'GET') return json(res, 404, { kind: 'Status', code: 404 });
      const body = req.body as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
      stored.push(body);
      json(res, req.method === 'POST' ? 201 : 200, {
        ...body,
        metadata: { ...body.metadata, resourceVersion: String(stored.length) },
      });
    };
    const lease = clients().leaseClient('kube-usage-system', 'kube-usage-operator');
    expect(await lease.get()).toBeUndefined();
    const record = {
      holderIdentity: 'op-0',
      leaseDurationMs: 15_000,
      acquireTimeMs: Date.UTC(2026, 10, 21),
      renewTimeMs: Date.UTC(2026, 10, 21, 0, 0, 1),
      leaseTransitions: 0,
    };
    expect(await lease.create(record)).toEqual({ record, resourceVersion: '1' });
    expect(await lease.update({ ...record, holderIdentity: '' }, '1')).toMatchObject({
      record: { holderIdentity: '' },
      resourceVersion: '2',
    });
    expect(stored[0]!.spec).toEqual({
      holderIdentity: 'op-0',
      leaseDurationSeconds: 15,
      acquireTime: '2026-11-21T00:00:00.000000Z',
      renewTime: '2026-11-21T00:00:01.000000Z',
      leaseTransitions: 0,
    });
    expect(requests[2]).toMatchObject({ method: 'PUT', body: { metadata: { resourceVersion: '1' } } });
    expect(requests[2]!.url.pathname).toBe(
      '/apis/coordination.k8s.io/v1/namespaces/kube-usage-system/leases/kube-usage-operator',
    );
  });
});

describe('KubeClients.statusPatcher', () => {
  it('sends a merge patch to the status subresource with the field manager', async () => {
    handler = (_req, res) => json(res, 200, {});
    const patcher = clients().statusPatcher({
      group: 'usage.kubeusage.dev',
      version: 'v1alpha1',
      plural: 'resourcealerts',
    });
    await patcher.patchStatus('shop', 'web-hot', {
      metadata: { resourceVersion: '7' },
      status: { state: 'Firing' },
    });
    expect(requests[0]).toMatchObject({
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: { metadata: { resourceVersion: '7' }, status: { state: 'Firing' } },
    });
    expect(requests[0]!.url.pathname).toBe(
      '/apis/usage.kubeusage.dev/v1alpha1/namespaces/shop/resourcealerts/web-hot/status',
    );
    expect(requests[0]!.url.searchParams.get('fieldManager')).toBe('kube-usage-operator');
  });

  it('rejects a conflict with code 409', async () => {
    handler = (_req, res) => json(res, 409, { kind: 'Status', code: 409, reason: 'Conflict' });
    const patcher = clients().statusPatcher({
      group: 'usage.kubeusage.dev',
      version: 'v1alpha1',
      plural: 'resourcealerts',
    });
    await expect(patcher.patchStatus('shop', 'web-hot', { status: {} })).rejects.toMatchObject({ code: 409 });
  });
});

describe('KubeClients.eventSink', () => {
  it('creates core/v1 Events and patches a series', async () => {
    handler = (req, res) => json(res, 200, req.body);
    const sink = clients().eventSink();
    const event = {
      name: 'web-hot.1a2b',
      involvedObject: {
        apiVersion: 'usage.kubeusage.dev/v1alpha1',
        kind: 'ResourceAlert',
        namespace: 'shop',
        name: 'web-hot',
        uid: 'u1',
      },
      type: 'Warning' as const,
      reason: 'Firing',
      message: 'cpu high',
      count: 1,
      firstTimestampMs: Date.UTC(2026, 10, 21),
      lastTimestampMs: Date.UTC(2026, 10, 21),
      component: 'kube-usage-operator',
      instance: 'op-0',
    };
    await sink.create(event);
    await sink.updateSeries({ ...event, count: 2, lastTimestampMs: Date.UTC(2026, 10, 21, 0, 1) });
    expect(requests[0]).toMatchObject({
      method: 'POST',
      body: {
        metadata: { name: 'web-hot.1a2b', namespace: 'shop' },
        involvedObject: event.involvedObject,
        reason: 'Firing',
        type: 'Warning',
        count: 1,
        firstTimestamp: '2026-11-21T00:00:00.000Z',
        source: { component: 'kube-usage-operator' },
        reportingInstance: 'op-0',
      },
    });
    expect(requests[0]!.url.pathname).toBe('/api/v1/namespaces/shop/events');
    expect(requests[1]).toMatchObject({
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: { count: 2, lastTimestamp: '2026-11-21T00:01:00.000Z' },
    });
  });
});

describe('KubeClients reviews', () => {
  it('maps a TokenReview and a SubjectAccessReview', async () => {
    handler = (req, res) => {
      if (req.url.pathname.endsWith('/tokenreviews')) {
        return json(res, 201, {
          status: { authenticated: true, user: { username: 'alice', groups: ['dev'], uid: 'u-1' } },
        });
      }
      json(res, 201, { status: { allowed: true } });
    };
    const c = clients();
    const result = await c.tokenReviewer().review('token-a');
    expect(result).toEqual({
      authenticated: true,
      user: { username: 'alice', groups: ['dev'], uid: 'u-1', extra: undefined },
    });
    expect(
      await c.accessReviewer().canI(result.user!, { verb: 'get', resource: 'pods', namespace: 'shop' }),
    ).toBe(true);
    expect(requests[0]!.body).toMatchObject({ spec: { token: 'token-a' } });
    expect(requests[1]!.body).toMatchObject({
      spec: {
        user: 'alice',
        groups: ['dev'],
        uid: 'u-1',
        resourceAttributes: { verb: 'get', resource: 'pods', group: '', namespace: 'shop' },
      },
    });
  });

  it('reports an unauthenticated token', async () => {
    handler = (_req, res) => json(res, 201, { status: { authenticated: false, error: 'token expired' } });
    expect(await clients().tokenReviewer().review('old')).toEqual({ authenticated: false });
  });
});
