import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { ResourceAlert } from '../../../api/v1alpha1/resourcealert.js';
import type { ResourceAttributes, UserInfo } from '../../../operator/http/auth-types.js';
import type { ClusterView } from '../../../operator/http/cluster-routes.js';
import { defaultUiDirectory, UI_CONTENT_SECURITY_POLICY } from '../../../operator/http/ui-routes.js';
import { FakeAccessReviewer, getJson, startTestServer, TOKENS, USERS, type TestServer } from './fixtures.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kuo-ui-'));
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><script type="module" src="./app-ABCDEFGH.js"></script>',
  );
  writeFileSync(join(dir, 'app-ABCDEFGH.js'), 'console.log(1)');
  writeFileSync(join(dir, 'app-ABCDEFGH.js.map'), '{}');
  mkdirSync(join(dir, 'img'));
  writeFileSync(join(dir, 'img', 'logo.svg'), '<svg/>');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let t: TestServer | undefined;
afterEach(async () => {
  await t?.server.close();
  t = undefined;
});

describe('the dashboard under /ui/', () => {
  it('serves index.html with a strict CSP, no-cache and an ETag that answers 304', async () => {
    t = await startTestServer({ uiDirectory: dir });
    const response = await fetch(`${t.url}/ui/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toBe(UI_CONTENT_SECURITY_POLICY);
    expect(UI_CONTENT_SECURITY_POLICY).not.toContain('unsafe');
    expect(UI_CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(await response.text()).toContain('app-ABCDEFGH.js');
    const etag = response.headers.get('etag')!;
    const again = await fetch(`${t.url}/ui/index.html`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });

  it('caches content-hashed assets for a year, and serves nested files with their type', async () => {
    t = await startTestServer({ uiDirectory: dir });
    const script = await fetch(`${t.url}/ui/app-ABCDEFGH.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const map = await fetch(`${t.url}/ui/app-ABCDEFGH.js.map`);
    expect(map.headers.get('cache-control')).toContain('immutable');
    const svg = await fetch(`${t.url}/ui/img/logo.svg`);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
  });

  it('redirects /ui to /ui/ and answers JSON 404 for unknown files and path tricks', async () => {
    t = await startTestServer({ uiDirectory: dir });
    const redirect = await fetch(`${t.url}/ui`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/ui/');
    for (const path of ['/ui/nope.js', '/ui/../package.json', '/ui/%2e%2e/%2e%2e/etc/passwd']) {
      const response = await getJson(t.url + path);
      expect(response.status).toBe(404);
    }
  });

  it('says how to build the dashboard when it is not built', async () => {
    t = await startTestServer({ uiDirectory: join(dir, 'missing') });
    const response = await getJson(`${t.url}/ui/`);
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ message: expect.stringContaining('npm run build') });
  });

  it('finds dist/ui of this package by default', () => {
    expect(defaultUiDirectory()).toMatch(/[/\\]dist[/\\]ui$/);
  });
});

/** The tenant of the fixtures may also list ResourceAlerts in team-a. */
class AlertsReviewer extends FakeAccessReviewer {
  override async canI(user: UserInfo, attrs: ResourceAttributes): Promise<boolean> {
    if (
      user.username === USERS[TOKENS.tenantA]!.username &&
      attrs.resource === 'resourcealerts' &&
      attrs.group === 'usage.kubeusage.dev' &&
      attrs.verb === 'list'
    ) {
      this.calls.push(attrs);
      return attrs.namespace === 'team-a';
    }
    return super.canI(user, attrs);
  }
}

const alert = (namespace: string, name: string, state: string): ResourceAlert => ({
  apiVersion: 'usage.kubeusage.dev/v1alpha1',
  kind: 'ResourceAlert',
  metadata: { name, namespace, generation: 1 },
  spec: { policyRef: { name: 'web' }, cpu: { above: '500m' } } as ResourceAlert['spec'],
  status: { state: state as 'Firing', firingTargets: state === 'Firing' ? 1 : 0, cpuConsecutiveBreaches: 4 },
});

const cluster: ClusterView = {
  namespaces: () => ['team-b', 'team-a', 'kube-system'],
  resourceAlerts: (ns) =>
    ns === 'team-a' ? [alert('team-a', 'web-hot', 'Firing'), alert('team-a', 'api-hot', 'Pending')] : [],
};

describe('GET /api/v1/namespaces', () => {
  it('lists every namespace for a cluster-wide reader, and only its own for a tenant', async () => {
    t = await startTestServer({ cluster, accessReviewer: new AlertsReviewer() });
    expect((await getJson(`${t.url}/api/v1/namespaces`, TOKENS.admin)).body).toEqual({
      clusterWide: true,
      items: [{ name: 'kube-system' }, { name: 'team-a' }, { name: 'team-b' }],
    });
    expect((await getJson(`${t.url}/api/v1/namespaces`, TOKENS.tenantA)).body).toEqual({
      clusterWide: false,
      items: [{ name: 'team-a' }],
    });
    expect((await getJson(`${t.url}/api/v1/namespaces`, TOKENS.nobody)).body).toEqual({
      clusterWide: false,
      items: [],
    });
  });

  it('needs a token, and rejects query parameters', async () => {
    t = await startTestServer({ cluster });
    expect((await getJson(`${t.url}/api/v1/namespaces`)).status).toBe(401);
    expect((await getJson(`${t.url}/api/v1/namespaces?x=1`, TOKENS.admin)).status).toBe(400);
  });
});

describe('GET /api/v1/namespaces/{ns}/resourcealerts', () => {
  it('serves the alerts with their status to whoever may list them there, sorted by name', async () => {
    const access = new AlertsReviewer();
    t = await startTestServer({ cluster, accessReviewer: access });
    const response = await getJson(`${t.url}/api/v1/namespaces/team-a/resourcealerts`, TOKENS.tenantA);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      namespace: 'team-a',
      items: [
        { name: 'api-hot', namespace: 'team-a', status: { state: 'Pending' } },
        { name: 'web-hot', spec: { cpu: { above: '500m' } }, status: { state: 'Firing', firingTargets: 1 } },
      ],
    });
    expect(access.calls).toContainEqual({
      verb: 'list',
      group: 'usage.kubeusage.dev',
      resource: 'resourcealerts',
      namespace: 'team-a',
    });
  });

  it('answers 403 naming the permission in another namespace, and 400 for a bad namespace', async () => {
    t = await startTestServer({ cluster, accessReviewer: new AlertsReviewer() });
    const forbidden = await getJson(`${t.url}/api/v1/namespaces/team-b/resourcealerts`, TOKENS.tenantA);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({
      message: expect.stringContaining(
        'cannot list resource "resourcealerts" in API group "usage.kubeusage.dev"',
      ),
    });
    expect((await getJson(`${t.url}/api/v1/namespaces/Team_A/resourcealerts`, TOKENS.admin)).status).toBe(
      400,
    );
  });
});
