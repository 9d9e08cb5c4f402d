/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard in a real browser (Debian's Chromium, headless, through puppeteer-core) against
 * the real operator, apiserver, kwok, metrics-server and FerretDB: a tenant signs in with its own
 * token and sees its namespace only, opens a pod's charts, watches an alert go from Pending to
 * Firing without a reload, exports the chargeback as CSV (checked against the API), and every
 * view passes an axe-core scan. Screenshots of each view go to test-artifacts/ui/.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ConsoleMessage, HTTPRequest, Page } from 'puppeteer-core';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import { buildUi } from '../../scripts/build-ui.js';
import { CSV_COLUMNS, parseCsv } from '../../ui/src/chargeback.js';
import { launchBrowser, type TestBrowser } from '../harness/browser.js';
import {
  apply,
  createPod,
  deleteNamespace,
  kubectlOk,
  namespaceViewerToken,
  newNamespace,
  setPodUsage,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { startTestOperator } from '../harness/operator.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'ui');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface SummaryItem {
  group: string;
  cpuCoreHours: number;
  cpuCoreHoursBilled: number;
  memoryGiBHours: number;
  memoryGiBHoursBilled: number;
}

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
}

const policy = `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: apps}
spec: {selector: {}, interval: 10s}
`;

describe('the dashboard in Chromium', () => {
  let operatorNamespace: string;
  let tenant: string;
  let other: string;
  let uiDir: string;
  let operator: OperatorHandle | undefined;
  let token: string;
  let chromium: TestBrowser | undefined;
  let page: Page;
  const consoleErrors: string[] = [];
  const requests: string[] = [];

  const api = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const response = await fetch(operator!.url + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json()) as T };
  };
  const shot = async (name: string, fullPage = false) => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
  };
  const text = (selector: string) => page.$eval(selector, (el) => el.textContent ?? '');
  const goto = async (hash: string) => {
    await page.evaluate((h) => {
      location.hash = h;
    }, hash);
  };
  /** Serious and critical accessibility problems axe-core finds on the page as it is. */
  const axe = async (): Promise<string[]> => {
    // DevTools evaluation is not subject to the page's CSP, which (rightly) forbids injected scripts.
    await page.evaluate(AXE_SOURCE);
    const result = (await page.evaluate(() =>
      (window as unknown as { axe: { run(ctx: Document, o: object): Promise<unknown> } }).axe.run(document, {
        resultTypes: ['violations'],
      }),
    )) as AxeResult;
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    uiDir = join(mkdtempSync(join(tmpdir(), 'kuo-ui-build-')), 'ui');
    await buildUi(uiDir);
    operatorNamespace = await newNamespace('kuo-system');
    tenant = await newNamespace('tenant');
    other = await newNamespace('other');
    operator = await startTestOperator({
      namespace: operatorNamespace,
      database: uniqueName('uitest'),
      args: ['--ui-dir', uiDir],
    });
    token = await namespaceViewerToken(tenant);
    // The tenant may read its ResourceAlerts (the install aggregates this into `view`).
    await kubectlOk([
      '-n',
      tenant,
      'create',
      'role',
      'alerts-reader',
      '--verb=get,list,watch',
      '--resource=resourcealerts.usage.kubeusage.dev',
    ]);
    await kubectlOk([
      '-n',
      tenant,
      'create',
      'rolebinding',
      'alerts-reader',
      '--role=alerts-reader',
      `--serviceaccount=${tenant}:reader`,
    ]);
    await createPod(tenant, {
      name: 'web',
      labels: { app: 'web', team: 'shop' },
      containers: [
        { name: 'app', requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
        {
          name: 'sidecar',
          requests: { cpu: '50m', memory: '32Mi' },
          limits: { cpu: '100m', memory: '64Mi' },
        },
      ],
      usage: { cpu: '400m', memory: '120Mi' },
    });
    await createPod(tenant, {
      name: 'hot',
      labels: { app: 'hot', team: 'shop' },
      containers: [{ name: 'app', requests: { cpu: '500m' }, limits: { cpu: '1', memory: '1Gi' } }],
      usage: { cpu: '200m', memory: '100Mi' },
    });
    await createPod(other, { name: 'secret-app', usage: { cpu: '100m', memory: '10Mi' } });
    await apply(policy, tenant);
    await apply(policy, other);
    await apply(
      `apiVersion: usage.kubeusage.dev/v1alpha1
kind: ResourceAlert
metadata: {name: hot-cpu}
spec:
  policyRef: {name: apps}
  selector: {matchLabels: {app: hot}}
  cpu: {above: "80%", of: limit}
  for: 4
  recoverAfter: 2
  notify: {events: false}
`,
      tenant,
    );
    // Wait for usage with CPU values from metrics-server before the browser looks.
    await waitFor(
      'history of web/app with CPU values',
      async () => {
        const r = await api<{ containers?: { container: string; points: { cpuMillicores: unknown }[] }[] }>(
          `/api/v1/namespaces/${tenant}/pods/web/usage/history?granularity=raw`,
        );
        const points = r.body.containers?.find((c) => c.container === 'app')?.points ?? [];
        if (points.filter((p) => p.cpuMillicores !== null).length >= 2) return true;
        throw new Error(`${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      },
      { timeoutMs: 150_000, intervalMs: 2000 },
    );

    chromium = await launchBrowser();
    page = await chromium.browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    page.on('console', (message: ConsoleMessage) => {
      if (message.type() === 'error') consoleErrors.push(`${message.text()} ${message.location().url ?? ''}`);
    });
    page.on('pageerror', (err) => consoleErrors.push(`page error: ${String(err)}`));
    page.on('request', (request: HTTPRequest) => requests.push(request.url()));
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: chromium.downloadDir });
  }, 300_000);

  afterAll(async () => {
    await chromium?.close();
    await operator?.stop();
    if (uiDir) rmSync(join(uiDir, '..'), { recursive: true, force: true });
    await Promise.all([tenant, other, operatorNamespace].filter(Boolean).map((ns) => deleteNamespace(ns)));
  });

  it('is served under /ui/ with a strict CSP, and signs in a tenant who sees its namespace and not another', async () => {
    const response = await page.goto(`${operator!.url}/ui/`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    await page.waitForSelector('#token');
    expect(await axe()).toEqual([]);
    await shot('login');

    // Keyboard only: the token field has focus; Enter submits.
    await page.keyboard.type(token);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`#chargeback-table tr[data-group="${tenant}"]`, { timeout: 30_000 });
    expect(await text('#scope')).toBe('You may read 1 namespace');
    const options = await page.$$eval('#namespace option', (els) =>
      els.map((o) => (o as HTMLOptionElement).value),
    );
    expect(options).toEqual([tenant]);
    expect(await page.evaluate(() => document.body.innerText)).not.toContain(other);

    // The token stays in this tab's sessionStorage; never in a URL, a cookie or localStorage.
    const stored = await page.evaluate(() => ({
      session: Object.values(sessionStorage),
      local: Object.values(localStorage).join(' '),
      cookie: document.cookie,
    }));
    expect(stored.session).toContain(token);
    expect(stored.local).not.toContain(token);
    expect(stored.cookie).toBe('');
    await shot('namespaces');
    expect(await axe()).toEqual([]);
  });

  it('says so when the token may not read a namespace, instead of showing an empty page', async () => {
    const before = consoleErrors.length;
    await goto(`#/namespaces?ns=${other}`);
    await page.waitForSelector('.notice.forbidden', { timeout: 15_000 });
    expect(await text('.notice.forbidden')).toContain(
      `cannot list resource "pods" in API group "" in the namespace "${other}"`,
    );
    await shot('forbidden');
    await goto(`#/alerts?ns=${other}`);
    await page.waitForSelector('.notice.forbidden', { timeout: 15_000 });
    expect(await text('.notice.forbidden')).toContain('cannot list resource "resourcealerts"');
    // Chrome logs every non-2xx response as a console error: these two 403s are the only ones.
    const provoked = consoleErrors.splice(before);
    expect(provoked).toHaveLength(2);
    for (const line of provoked) expect(line).toContain('status of 403');
  });

  it('opens a pod from the chargeback by pod and shows CPU and memory charts with points, requests and limits', async () => {
    await goto(`#/namespaces?ns=${tenant}`);
    await page.waitForSelector('#group-by');
    await page.select('#group-by', 'pod');
    const link = await page.waitForSelector(`#chargeback-table tr[data-group="${tenant}/web"] a`, {
      timeout: 15_000,
    });
    await link!.click();
    await page.waitForSelector('#current-table tr[data-container="app"]', { timeout: 15_000 });
    await page.waitForSelector('.container-history[data-container="app"] figure.chart canvas', {
      timeout: 15_000,
    });
    const charts = await page.$$eval('.container-history[data-container="app"] figure.chart', (figures) =>
      figures.map((f) => ({
        title: f.querySelector('figcaption')?.textContent,
        points: Number(f.getAttribute('data-points')),
        legend: [...f.querySelectorAll('.u-legend .u-series th')].map((th) => th.textContent?.trim() ?? ''),
      })),
    );
    expect(charts.map((c) => c.title)).toEqual(['CPU of app', 'Memory of app']);
    for (const c of charts) {
      expect(c.points).toBeGreaterThanOrEqual(2);
      expect(c.legend.join(' ')).toMatch(/Average.*Peak.*Request.*Limit/);
    }
    expect(await text('#current-table tr[data-container="app"] [data-field="memory"]')).toBe('120 MiB');
    // The pod view starts at the last hour, which the API serves as raw samples.
    expect(await text('#granularity')).toMatch(/^Resolution raw samples/);
    await shot('pod', true);
    expect(await axe()).toEqual([]);
  });

  it('ranks the top consumers of the namespace by CPU and by memory', async () => {
    await goto(`#/top?ns=${tenant}&window=24h&metric=memory`);
    await page.waitForSelector('#top-table tbody tr', { timeout: 15_000 });
    const rows = await page.$$eval('#top-table tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td, th')].map((c) => c.textContent ?? '')),
    );
    // By memory: hot (100Mi) and web's two containers (120Mi each), largest first.
    expect(rows.map((r) => `${r[2]}/${r[3]}`)).toEqual(
      expect.arrayContaining(['web/app', 'web/sidecar', 'hot/app']),
    );
    // Usage in GiB-hours, the averages over the window and while measured, the peak.
    expect(rows[0]?.[4]).toMatch(/ GiB-hours$/);
    expect(rows[0]?.[6]).toBe('120 MiB');
    expect(rows[0]?.[7]).toBe('120 MiB');
    await page.select('#metric', 'cpu');
    await page.waitForFunction(() =>
      document.querySelector('#top-table caption')?.textContent?.includes('by CPU'),
    );
    await shot('top');
    expect(await axe()).toEqual([]);
  });

  it('shows an alert go from Pending to Firing live, without a reload', async () => {
    await goto(`#/alerts?ns=${tenant}`);
    await page.waitForSelector('#alerts-table tr[data-alert="hot-cpu"][data-state="Normal"]', {
      timeout: 90_000,
    });
    await page.waitForFunction(() => document.querySelector('#live-status')?.classList.contains('live'), {
      timeout: 15_000,
    });
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    await setPodUsage(tenant, 'hot', { cpu: '900m' });
    await page.waitForSelector('#alerts-table tr[data-alert="hot-cpu"][data-state="Pending"]', {
      timeout: 90_000,
    });
    await shot('alerts-pending');
    await page.waitForSelector('#alerts-table tr[data-alert="hot-cpu"][data-state="Firing"]', {
      timeout: 120_000,
    });
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );
    expect(Number(await text('#alerts-table tr[data-alert="hot-cpu"] [data-field="firing"]'))).toBe(1);
    const breaches = Number(
      await text('.alert-targets[data-alert="hot-cpu"] tr[data-target="hot/app"] [data-field="breaches"]'),
    );
    expect(breaches).toBeGreaterThanOrEqual(4);
    await page.waitForSelector('#transition-log li', { timeout: 30_000 });
    expect(await text('#transition-log li')).toContain('hot-cpu fired for hot/app (cpu)');
    await shot('alerts');
    expect(await axe()).toEqual([]);
    await setPodUsage(tenant, 'hot', { cpu: '200m' });
  });

  it('exports the chargeback at the prices entered as CSV whose numbers are the API figures', async () => {
    await goto(`#/namespaces?ns=${tenant}&groupBy=pod`);
    await page.waitForSelector('#chargeback-table');
    // A custom window whose figures cannot change between the export and the check:
    // - it lies inside one 5m bucket, whose edge the window cuts, so it is answered from the raw
    //   readings whether or not that bucket is written meanwhile (a stored bucket sums the same
    //   pieces in another order: equal only to rounding);
    // - every pod has a stored reading after its end: a series' readings are stored in time
    //   order, so no reading still on its way has a span in the window.
    // Wait until such a window holds CPU usage of both pods.
    const summaryOf = (from: Date, to: Date) =>
      api<{ items: SummaryItem[] }>(
        `/api/v1/usage/summary?${new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), groupBy: 'pod', namespace: tenant }).toString()}`,
      );
    const readAfter = async (pod: string, at: Date) => {
      const r = await api<{ containers?: { points: { time: string }[] }[] }>(
        `/api/v1/namespaces/${tenant}/pods/${pod}/usage/history?granularity=raw`,
      );
      return (r.body.containers ?? []).some((c) => c.points.some((p) => Date.parse(p.time) > at.getTime()));
    };
    const { from, to } = await waitFor(
      'a settled window with CPU usage of both pods',
      async () => {
        const end = new Date(Math.floor(Date.now() / 60_000) * 60_000);
        const start = new Date(Math.floor((end.getTime() - 1) / 300_000) * 300_000 + 1_000);
        if (!(await readAfter('web', end)) || !(await readAfter('hot', end))) return undefined;
        const r = await summaryOf(start, end);
        return r.body.items.length === 2 && r.body.items.every((i) => i.cpuCoreHours > 0)
          ? { from: start, to: end }
          : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 5000 },
    );
    const local = (d: Date) => d.toISOString().slice(0, 19); // the browser runs in UTC
    await page.select('#window', 'custom');
    await page.$eval('#window-from', (el, v) => ((el as HTMLInputElement).value = v), local(from));
    await page.$eval('#window-to', (el, v) => ((el as HTMLInputElement).value = v), local(to));
    await page.click('#window-apply');
    await page.waitForSelector(`.window-note[data-to="${to.toISOString()}"]`, { timeout: 15_000 });
    await page.click('details.prices summary');
    await page.$eval('#price-cpu', (el) => ((el as HTMLInputElement).value = '0.05'));
    await page.$eval('#price-cpu', (el) => el.dispatchEvent(new Event('change')));
    await page.click('#export-csv');
    const file = await waitFor(
      'the CSV download',
      () =>
        readdirSync(chromium!.downloadDir, { withFileTypes: true }).find((f) => f.name.endsWith('.csv'))
          ?.name,
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    const [header, ...records] = parseCsv(readFileSync(join(chromium!.downloadDir, file), 'utf8'));
    expect(header).toEqual([...CSV_COLUMNS]);
    const csv = records.map((r) => Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, r[i] ?? ''])));

    const truth = await summaryOf(from, to);
    expect(truth.status).toBe(200);
    expect(csv.map((r) => r.group).sort()).toEqual(truth.body.items.map((i) => i.group).sort());
    expect(csv.map((r) => r.group).sort()).toEqual([`${tenant}/hot`, `${tenant}/web`]);
    for (const item of truth.body.items) {
      const row = csv.find((r) => r.group === item.group)!;
      expect(row.from).toBe(from.toISOString());
      expect(row.to).toBe(to.toISOString());
      expect(Number(row.cpuCoreHours)).toBe(item.cpuCoreHours);
      expect(Number(row.cpuCoreHoursBilled)).toBe(item.cpuCoreHoursBilled);
      expect(Number(row.memoryGiBHours)).toBe(item.memoryGiBHours);
      expect(Number(row.memoryGiBHoursBilled)).toBe(item.memoryGiBHoursBilled);
      expect(Number(row.pricePerCoreHour)).toBe(0.05);
      expect(Number(row.pricePerGiBHour)).toBe(0.004237);
      expect(Number(row.cost)).toBeCloseTo(
        item.cpuCoreHoursBilled * 0.05 + item.memoryGiBHoursBilled * 0.004237,
        12,
      );
      expect(item.cpuCoreHours).toBeGreaterThan(0);
    }
  });

  it('works on a narrow screen and from the keyboard', async () => {
    await page.setViewport({ width: 390, height: 844 });
    await goto(`#/namespaces?ns=${tenant}&groupBy=pod&window=24h`);
    await page.waitForSelector(`#chargeback-table tr[data-group="${tenant}/web"]`, { timeout: 15_000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('namespaces-narrow', true);
    // Sort by the group name with the keyboard: focus its header button and press Enter.
    await page.focus('button[data-sort="group"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('th[aria-sort="ascending"] button[data-sort="group"]');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-sort'))).toBe('group');
    // The navigation is reachable with Tab from the skip link.
    await page.focus('a[href="#/top"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('nav a[aria-current="page"][href="#/top"]');
    await page.setViewport({ width: 1280, height: 800 });
  });

  it('logged no console errors and never put the token in a URL', () => {
    expect(consoleErrors).toEqual([]);
    expect(requests.length).toBeGreaterThan(10);
    for (const url of requests) expect(url).not.toContain(token);
  });
});
