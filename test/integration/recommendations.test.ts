/**
 * Right-sizing through the real pieces: a Deployment (kube-controller-manager makes its
 * ReplicaSet and pods) and a bare pod of simulated containers with known usage (kwok) ->
 * the operator's collector -> FerretDB (histograms in the raw readings and rollups) -> the
 * recommendations API, read with a tenant's token. The expected figures are computed here from
 * the simulated usage and the bucket edges built the plain way, not from the operator's code.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import {
  apply,
  createDeployment,
  getObject,
  kubectlOk,
  createPod,
  deleteNamespace,
  namespaceViewerToken,
  newNamespace,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { startTestOperator } from '../harness/operator.js';
import { endOfBucketHolding } from '../support/bucket-ends.js';

const MIB = 2 ** 20;

interface Item {
  workload: { kind: string; name: string };
  container: string;
  containerType: string;
  strategy: string;
  history: { seconds: number; samples: number; pods: number };
  confidence: number;
  cpu: {
    request: number | null;
    limit: number | null;
    target: number;
    lowerBound: number;
    upperBound: number;
  };
  memory: {
    request: number | null;
    limit: number | null;
    target: number;
    lowerBound: number;
    upperBound: number;
  };
  cost: { differencePerHour: number; replicas: number };
}

describe('recommendations API over collected usage', () => {
  let operatorNamespace: string;
  let ns: string;
  let operator: OperatorHandle;
  let token: string;

  const get = async (path: string, auth = true) => {
    const response = await fetch(
      operator.url + path,
      auth ? { headers: { authorization: `Bearer ${token}` } } : {},
    );
    return { status: response.status, body: (await response.json()) as { items?: Item[]; error?: string } };
  };

  beforeAll(async () => {
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('reco');
    operator = await startTestOperator({
      namespace: operatorNamespace,
      database: uniqueName('recotest'),
      args: ['--rightsizing-interval', '5s'],
    });
    token = await namespaceViewerToken(ns);
    await createDeployment(ns, {
      name: 'web',
      replicas: 2,
      labels: { tier: 'x' },
      containers: [
        {
          name: 'app',
          requests: { cpu: '500m', memory: '512Mi' },
          limits: { cpu: '1', memory: '512Mi' },
          usage: { cpu: '200m', memory: '300Mi' },
        },
      ],
    });
    await createPod(ns, {
      name: 'solo',
      labels: { tier: 'x' },
      containers: [{ name: 'main', usage: { cpu: '50m', memory: '40Mi' } }],
    });
    await apply(
      `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: all}
spec: {selector: {matchLabels: {tier: x}}, interval: 10s}
`,
      ns,
    );
  });
  afterAll(async () => {
    await operator?.stop();
    await deleteNamespace(ns);
    await deleteNamespace(operatorNamespace);
  });

  it('recommends per workload and container from the stored distributions, for the tenant only', async () => {
    const items = await waitFor(
      'recommendations resting on three readings of every container',
      async () => {
        const r = await get(`/api/v1/namespaces/${ns}/recommendations?window=1h`);
        const web = r.body.items?.find((i) => i.workload.name === 'web');
        const solo = r.body.items?.find((i) => i.workload.name === 'solo');
        return r.status === 200 && web && web.history.samples >= 6 && solo && solo.history.samples >= 3
          ? r.body.items
          : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 2000 },
    );
    expect(items.map((i) => [i.workload.kind, i.workload.name, i.container, i.containerType])).toEqual([
      ['Deployment', 'web', 'app', 'container'],
      ['Pod', 'solo', 'main', 'container'],
    ]);
    const web = items[0]!;
    // A real answer, as docs/rightsizing.md shows and explains it.
    console.log(`[recommendations] Deployment/web app:\n${JSON.stringify(web, null, 2)}`);
    expect(web.strategy).toBe('vpa');
    expect(web.history.pods).toBe(2);
    expect(web.history.seconds).toBeGreaterThan(0);
    expect(web.confidence).toBeGreaterThan(0);
    expect(web.confidence).toBeLessThan(0.1);
    // Requests and limits of the running pods, in cores and bytes.
    expect(web.cpu).toMatchObject({ request: 0.5, limit: 1 });
    expect(web.memory).toMatchObject({ request: 512 * MIB, limit: 512 * MIB });
    // A steady 200m: P90 is the end of its bucket, plus 15%, rounded up to a millicore.
    expect(web.cpu.target).toBe(Math.ceil(endOfBucketHolding(10, 200) * 1.15) / 1000);
    // Memory peaks all 300 MiB: P90 of the peaks is the end of their bucket, plus 15%.
    expect(web.memory.target).toBe(Math.ceil(endOfBucketHolding(1e7, 300 * MIB) * 1.15));
    expect(web.cpu.lowerBound).toBeLessThanOrEqual(web.cpu.target);
    expect(web.cpu.upperBound).toBeGreaterThanOrEqual(web.cpu.target);
    expect(web.cost.replicas).toBe(2);
    expect(web.cost.differencePerHour).toBeLessThan(0);
    const solo = items[1]!;
    expect(solo.cpu.request).toBeNull();
    // 50m is far above the pod minimum (25m); 40 MiB is below 250 MB, so the minimum wins.
    expect(solo.cpu.target).toBe(Math.ceil(endOfBucketHolding(10, 50) * 1.15) / 1000);
    expect(solo.memory.target).toBe(250e6);

    const krr = await get(
      `/api/v1/namespaces/${ns}/recommendations?window=1h&strategy=krr&workload=Deployment/web`,
    );
    expect(krr.status).toBe(200);
    expect(krr.body.items).toHaveLength(1);
    const [k] = krr.body.items!;
    expect(k!.strategy).toBe('krr');
    expect(k!.cpu.target).toBe(Math.ceil(endOfBucketHolding(10, 200)) / 1000);
    expect(k!.memory.target).toBe(Math.ceil(300 * MIB * 1.15));

    for (const bad of [
      'window=soon',
      'strategy=goldilocks',
      'workload=web',
      'workload=Thing/web',
      'limit=3',
    ]) {
      const r = await get(`/api/v1/namespaces/${ns}/recommendations?${bad}`);
      expect([bad, r.status]).toEqual([bad, 400]);
      expect(typeof r.body.error).toBe('string');
    }
    expect((await get(`/api/v1/namespaces/${ns}/recommendations`, false)).status).toBe(401);
    expect((await get(`/api/v1/namespaces/${operatorNamespace}/recommendations`)).status).toBe(403);

    // The policy's status sums it up: web requests more than recommended (a saving), solo
    // requests nothing (below its recommendation).
    const rightsizing = await waitFor(
      'the right-sizing summary on the UsagePolicy status',
      async () => {
        const policy = await getObject<{ status?: { rightsizing?: Record<string, unknown> } }>(
          'usagepolicies',
          ns,
          'all',
        );
        const r = policy?.status?.rightsizing as
          | {
              overProvisioned?: { workload: string; cpu: string }[];
              underProvisioned?: { workload: string }[];
            }
          | undefined;
        return r?.overProvisioned?.length && r.underProvisioned?.length ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    expect(rightsizing.overProvisioned?.[0]).toMatchObject({
      workload: 'Deployment/web',
      cpu: '500m -> 249m',
    });
    expect(rightsizing.underProvisioned?.[0]).toMatchObject({ workload: 'Pod/solo' });
    const table = await kubectlOk(['-n', ns, 'get', 'usagepolicy', 'all', '-o', 'wide']);
    expect(table).toMatch(/SAVINGS\/H/);
    expect(table).toMatch(/MOST OVER\s+MOST UNDER/);
    expect(table).toMatch(/Deployment\/web\s+Pod\/solo/);
  });
});
