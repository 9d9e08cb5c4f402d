/**
 * The whole path a tenant sees: simulated pods -> metrics-server -> the operator's collector ->
 * FerretDB -> the HTTP API, read with a real ServiceAccount token bound to `view`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import {
  apply,
  createPod,
  deleteNamespace,
  namespaceViewerToken,
  newNamespace,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { startTestOperator } from '../harness/operator.js';

interface Json {
  status: number;
  body: Record<string, unknown>;
}

describe('usage API over data the operator collected', () => {
  let operatorNamespace: string;
  let ns: string;
  let operator: OperatorHandle;
  let token: string;

  const get = async (path: string): Promise<Json> => {
    const response = await fetch(operator.url + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('tenant');
    operator = await startTestOperator({ namespace: operatorNamespace, database: uniqueName('apitest') });
    token = await namespaceViewerToken(ns);
    await createPod(ns, {
      name: 'web',
      labels: { app: 'web' },
      containers: [
        { name: 'app', requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
      ],
      usage: { cpu: '500m', memory: '100Mi' },
    });
    await apply(
      `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: web}
spec: {selector: {matchLabels: {app: web}}, interval: 10s}
`,
      ns,
    );
  });
  afterAll(async () => {
    await operator?.stop();
    await deleteNamespace(ns);
    await deleteNamespace(operatorNamespace);
  });

  it('serves current usage, history, top and chargeback of the collected samples, and streams them', async () => {
    // The current rate of a counter difference between two readings. kwok starts a container's
    // counter at its first scrape, not at the container's start (a kubelet counts from the
    // start), so the first reading's average since the start under-reports in the simulator
    // by the time kwok took to be scraped first.
    await waitFor(
      'two raw readings with CPU',
      async () => {
        const r = await get(`/api/v1/namespaces/${ns}/pods/web/usage/history?granularity=raw`);
        const points =
          (r.body.containers as { points: { cpuMillicores: unknown }[] }[] | undefined)?.[0]?.points ?? [];
        return r.status === 200 && points.filter((p) => p.cpuMillicores !== null).length >= 2;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    const currentResponse = await get(`/api/v1/namespaces/${ns}/pods/web/usage`);
    expect(currentResponse.status).toBe(200);
    const current = (currentResponse.body.containers as Record<string, number | null>[])[0]!;
    expect(current.cpuMillicores).toBeGreaterThan(475);
    expect(current.cpuMillicores).toBeLessThan(525);
    expect(current.memoryBytes).toBe(100 * 1024 * 1024);
    expect(current.cpuPercentOfLimit).toBeCloseTo((current.cpuMillicores ?? 0) / 10, 5);
    expect(current.cpuPercentOfRequest).toBeCloseTo((current.cpuMillicores ?? 0) / 2.5, 5);

    const history = await get(`/api/v1/namespaces/${ns}/pods/web/usage/history?granularity=raw`);
    expect(history.status).toBe(200);
    const points =
      (history.body.containers as { points: { cpuMillicores: { max: number } | null }[] }[])[0]?.points ?? [];
    expect(points.length).toBeGreaterThan(0);

    const top = await get(`/api/v1/usage/top?metric=memory&window=1h&namespace=${ns}`);
    expect(top.status).toBe(200);
    expect(top.body.items).toEqual([
      expect.objectContaining({ namespace: ns, pod: 'web', container: 'app', max: 100 * 1024 * 1024 }),
    ]);

    const summary = await get(`/api/v1/usage/summary?window=1h&groupBy=namespace&namespace=${ns}`);
    expect(summary.status).toBe(200);
    const [group] = summary.body.items as {
      group: string;
      cpuCoreHours: number;
      cpuCoreHoursBilled: number;
    }[];
    expect(group?.group).toBe(ns);
    expect(group?.cpuCoreHours).toBeGreaterThan(0);
    // Billed by max(request, usage): never below usage; samples taken before the pod had
    // metrics bill its 250m request.
    expect(group?.cpuCoreHoursBilled).toBeGreaterThanOrEqual(group?.cpuCoreHours ?? Infinity);

    // Another namespace is not the tenant's business; neither is the cluster-wide view.
    expect((await get(`/api/v1/namespaces/${operatorNamespace}/pods/web/usage`)).status).toBe(403);
    expect((await get('/api/v1/usage/top?metric=cpu&window=1h')).status).toBe(403);

    // The live stream delivers the next snapshot of the tenant's pod.
    const stream = await fetch(`${operator.url}/api/v1/events?namespace=${ns}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    let text = '';
    await waitFor(
      'a snapshot event',
      async () => {
        const { value } = await reader.read();
        text += new TextDecoder().decode(value);
        return text.includes('"type":"snapshot"') && text.includes('"pod":"web"');
      },
      { timeoutMs: 60_000, intervalMs: 0 },
    );
    await reader.cancel();
  });
});
