/**
 * What a tenant's ResourceAlert can make the operator do with its notifications, through the
 * real apiserver, kwok, metrics-server and FerretDB and real receivers on 127.0.0.1: a
 * receiver streaming a 300 MB error body leaves the operator's memory alone, a redirect is
 * not followed, private and in-cluster destinations are refused with DestinationForbidden,
 * and Secrets are used only when they carry the opt-in label.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import {
  apply,
  conditionOf,
  createPod,
  deleteNamespace,
  getObject,
  kubectlOk,
  newNamespace,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import {
  processMemory,
  resetPeakRss,
  startHugeBodyReceiver,
  startRedirectingReceiver,
  startSilentReceiver,
  type HostileReceiver,
} from '../harness/hostile-receivers.js';
import { spawnOperator, startTestOperator, type OperatorProcess } from '../harness/operator.js';
import { Receiver } from '../harness/receiver.js';

const MB = 1024 * 1024;

const POLICY = `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: apps}
spec:
  selector: {}
  interval: 10s
`;

function alertYaml(name: string, webhook: string, extra = ''): string {
  return `apiVersion: usage.kubeusage.dev/v1alpha1
kind: ResourceAlert
metadata: {name: ${name}}
spec:
  policyRef: {name: apps}
  cpu: {above: 100m}
  for: 1
  notify:
    events: false
    webhook: ${webhook}
${extra}`;
}

const alertOf = (ns: string, name: string) => getObject('resourcealert', ns, name);

async function waitForCondition(ns: string, name: string, type: string, status: string, timeoutMs = 120_000) {
  return waitFor(
    `${ns}/${name} ${type}=${status}`,
    async () => {
      const c = conditionOf(await alertOf(ns, name), type);
      return c?.status === status ? c : undefined;
    },
    { timeoutMs },
  );
}

describe('a hostile receiver (operator in its own process)', () => {
  let operatorNamespace: string;
  let ns: string;
  let operator: OperatorProcess | undefined;
  let huge: HostileReceiver | undefined;

  beforeAll(async () => {
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('hostile');
    huge = await startHugeBodyReceiver(300 * MB);
    operator = spawnOperator({ namespace: operatorNamespace, database: uniqueName('hostile') });
    await apply(POLICY, ns);
    await createPod(ns, { name: 'busy', usage: { cpu: '500m' } });
  });
  afterAll(async () => {
    await operator?.terminate();
    await huge?.stop();
    await deleteNamespace(ns);
    await deleteNamespace(operatorNamespace);
  });

  it('reads only a few KiB of a 300 MB error body: the memory of the operator stays bounded', async () => {
    const pid = operator!.child.pid!;
    // Ready (the policy collects), before any delivery: the baseline.
    await apply(
      alertYaml('huge-body', `{url: "${huge!.url}/hook"}`).replace('cpu: {above: 100m}', 'cpu: {above: 10}'),
      ns,
    );
    await waitForCondition(ns, 'huge-body', 'Ready', 'True');
    const reset = await resetPeakRss(pid);
    const before = await processMemory(pid);
    // Now it fires; every attempt gets HTTP 500 and a 300 MB body.
    await apply(alertYaml('huge-body', `{url: "${huge!.url}/hook"}`), ns);
    const failing = await waitForCondition(ns, 'huge-body', 'NotificationsFailing', 'True', 240_000);
    const after = await processMemory(pid);
    const growth = after.peakRss - before.peakRss;
    const written = Math.max(...huge!.bytesWritten);
    process.stdout.write(
      `[notification-safety] 300 MB error body x${huge!.requests} attempts: operator peak RSS ` +
        `${(before.peakRss / MB).toFixed(1)} MB -> ${(after.peakRss / MB).toFixed(1)} MB ` +
        `(growth ${(growth / MB).toFixed(1)} MB; peak ${reset ? 'reset' : 'not reset'} before the deliveries), ` +
        `at most ${(written / MB).toFixed(1)} MB left the receiver per attempt\n`,
    );
    expect(huge!.requests).toBeGreaterThanOrEqual(1);
    // Without the cap the whole body was read into memory (about 970 MB of growth).
    expect(growth).toBeLessThan(64 * MB);
    // The connection was closed early: the receiver could not push its 300 MB.
    expect(written).toBeLessThan(64 * MB);
    // The condition tells the class of failure, not the receiver's text.
    expect(failing.message).toContain('HTTP 500');
    expect(failing.message).not.toContain('xxxx');
  });
});

describe('tenant webhook destinations (operator in this process, loopback not allowed)', () => {
  let operatorNamespace: string;
  let ns: string;
  let operator: OperatorHandle | undefined;
  const target = new Receiver();

  beforeAll(async () => {
    await target.start();
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('tenant');
    operator = await startTestOperator({
      namespace: operatorNamespace,
      database: uniqueName('destinations'),
      // An allow-list without this machine's receivers (the harness allows 127.0.0.0/8 otherwise).
      args: [
        '--webhook-allow',
        '192.0.2.1/32',
        '--cluster-pod-cidrs',
        '11.0.0.0/16',
        '--cluster-service-cidrs',
        '11.1.0.0/16',
      ],
    });
    await apply(POLICY, ns);
    await createPod(ns, { name: 'busy', usage: { cpu: '500m' } });
  });
  afterAll(async () => {
    await operator?.stop();
    await target.stop();
    await deleteNamespace(ns);
    await deleteNamespace(operatorNamespace);
  });

  it('refuses every private, local and in-cluster class of destination with DestinationForbidden', async () => {
    const cases: [string, string, string][] = [
      ['loopback', 'http://127.0.0.5:9/hook', 'loopback'],
      ['loopback-v6', 'http://[::1]:9/hook', 'loopback'],
      ['localhost', 'http://localhost:9/hook', 'loopback'],
      ['mapped-v6', 'http://[::ffff:127.0.0.1]:9/hook', 'loopback'],
      ['metadata', 'http://169.254.169.254/latest/meta-data/', 'link-local'],
      ['link-local-v6', 'http://[fe80::1]/hook', 'link-local'],
      ['private-10', 'http://10.2.3.4/hook', 'private'],
      ['private-172', 'http://172.20.0.1/hook', 'private'],
      ['private-192', 'http://192.168.1.1/hook', 'private'],
      ['unique-local-v6', 'http://[fd00::1]/hook', 'private'],
      ['cgnat', 'http://100.64.1.1/hook', 'private'],
      ['unspecified', 'http://0.0.0.0:9/hook', 'unspecified'],
      ['multicast', 'http://224.0.0.1/hook', 'multicast'],
      ['pod-range', 'http://11.0.3.4/hook', 'cluster pod range'],
      ['service-range', 'http://11.1.0.10/hook', 'cluster service range'],
      ['service-name', 'http://kubernetes.default.svc/hook', 'in-cluster name'],
      ['service-fqdn', 'http://alertmanager.monitoring.svc.cluster.local:9093/hook', 'in-cluster name'],
      ['short-name', 'http://alertmanager:9093/hook', 'in-cluster name'],
      ['cloud-metadata-name', 'http://metadata.google.internal/hook', 'in-cluster name'],
    ];
    for (const [name, url] of cases) await apply(alertYaml(`to-${name}`, `{url: "${url}"}`), ns);
    for (const [name, , addressClass] of cases) {
      const ready = await waitForCondition(ns, `to-${name}`, 'Ready', 'False');
      expect({ name, reason: ready.reason }).toEqual({ name, reason: 'DestinationForbidden' });
      const what = addressClass === 'in-cluster name' ? 'an in-cluster name' : `a ${addressClass} address`;
      expect({ name, message: ready.message }).toEqual({
        name,
        message: expect.stringContaining(`the webhook's destination is ${what}`),
      });
      expect(ready.message).toContain('--webhook-allow');
    }
  });

  it('sends nothing to a real receiver on a refused address, even when the alert fires', async () => {
    await apply(alertYaml('to-real-loopback', `{url: "${target.url}/hook"}`), ns);
    const ready = await waitForCondition(ns, 'to-real-loopback', 'Ready', 'False');
    expect(ready.reason).toBe('DestinationForbidden');
    // The firing was handed to the notifier and refused at connect time, without a request.
    const failing = await waitForCondition(ns, 'to-real-loopback', 'NotificationsFailing', 'True');
    expect(failing.message).toContain('destination forbidden (loopback)');
    expect(target.requests).toEqual([]);
  });
});

describe('redirects and Secrets (operator in this process, receivers on 127.0.0.1 allowed)', () => {
  let operatorNamespace: string;
  let ns: string;
  let operator: OperatorHandle | undefined;
  const target = new Receiver();
  let redirecting: HostileReceiver | undefined;

  beforeAll(async () => {
    await target.start();
    redirecting = await startRedirectingReceiver(`${target.url}/stolen`);
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('tenant');
    operator = await startTestOperator({ namespace: operatorNamespace, database: uniqueName('redirects') });
    await apply(POLICY, ns);
    await createPod(ns, { name: 'busy', usage: { cpu: '500m' } });
  });
  afterAll(async () => {
    await operator?.stop();
    await redirecting?.stop();
    await target.stop();
    await deleteNamespace(ns);
    await deleteNamespace(operatorNamespace);
  });

  it('refuses a redirect instead of following it, and says so by class', async () => {
    await apply(alertYaml('redirected', `{url: "${redirecting!.url}/hook"}`), ns);
    const failing = await waitForCondition(ns, 'redirected', 'NotificationsFailing', 'True', 180_000);
    expect(failing.message).toContain('HTTP 302 (redirects are not followed)');
    expect(failing.message).not.toContain('moved to');
    expect(redirecting!.requests).toBe(1); // not retried: a redirect will not change
    expect(target.to('/stolen')).toEqual([]);
  });

  it('uses a Secret only when it carries the opt-in label, with one message whatever is missing', async () => {
    const webhook = (secret: string) =>
      `{urlSecretRef: {name: ${secret}, key: url}, secretRef: {name: ${secret}, key: token}}`;
    // A Secret that exists without the label, and one that does not exist.
    await kubectlOk([
      '-n',
      ns,
      'create',
      'secret',
      'generic',
      'hook',
      `--from-literal=url=${target.url}/from-secret`,
      '--from-literal=token=t0ken',
    ]);
    await apply(alertYaml('from-unlabelled', webhook('hook')), ns);
    await apply(alertYaml('from-absent', webhook('absent')), ns);
    const unlabelled = await waitForCondition(ns, 'from-unlabelled', 'Ready', 'False');
    const absent = await waitForCondition(ns, 'from-absent', 'Ready', 'False');
    expect(unlabelled.reason).toBe('WebhookSecretUnavailable');
    expect(absent.reason).toBe('WebhookSecretUnavailable');
    expect(unlabelled.message).toContain('usage.kubeusage.dev/notification-secret=true');
    // Nothing tells whether the Secret exists: the messages differ only by the name the alert gave.
    expect(unlabelled.message?.replaceAll('"hook"', '"absent"')).toBe(absent.message);

    await kubectlOk(['-n', ns, 'label', 'secret', 'hook', 'usage.kubeusage.dev/notification-secret=true']);
    // The Secret reader keeps answers briefly; the alert is reconciled again on its resync at the latest.
    await kubectlOk(['-n', ns, 'annotate', 'resourcealert', 'from-unlabelled', `poke=${Date.now()}`]);
    await waitForCondition(ns, 'from-unlabelled', 'Ready', 'True');
    const delivered = await waitFor(
      'the firing at the URL from the Secret',
      () => target.to('/from-secret')[0],
      {
        timeoutMs: 120_000,
      },
    );
    expect(delivered.headers.authorization).toBe('Bearer t0ken');
  });
});

describe('fair delivery between tenants (operator in this process)', () => {
  let operatorNamespace: string;
  let starving: string;
  let healthy: string;
  let operator: OperatorHandle | undefined;
  let silent: HostileReceiver | undefined;
  const receiver = new Receiver();

  beforeAll(async () => {
    await receiver.start();
    silent = await startSilentReceiver();
    operatorNamespace = await newNamespace('kuo-system');
    starving = await newNamespace('starving');
    healthy = await newNamespace('healthy');
    operator = await startTestOperator({ namespace: operatorNamespace, database: uniqueName('fairness') });
  });
  afterAll(async () => {
    await operator?.stop();
    await silent?.stop();
    await receiver.stop();
    await deleteNamespace(starving);
    await deleteNamespace(healthy);
    await deleteNamespace(operatorNamespace);
  });

  it("delivers a healthy tenant's notification while another tenant's receiver never answers", async () => {
    // The starving tenant: 30 busy pods, two alerts on each, all to a receiver that hangs.
    await apply(POLICY, starving);
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        createPod(starving, { name: `busy-${i}`, usage: { cpu: '500m' } }),
      ),
    );
    await apply(alertYaml('hang-a', `{url: "${silent!.url}/a"}`), starving);
    await apply(alertYaml('hang-b', `{url: "${silent!.url}/b"}`), starving);
    await waitFor('the hanging receiver is being tried', () => silent!.requests >= 2, { timeoutMs: 180_000 });

    // The healthy tenant's alert fires afterwards; its notification arrives all the same.
    await apply(POLICY, healthy);
    await createPod(healthy, { name: 'busy', usage: { cpu: '500m' } });
    await apply(alertYaml('fine', `{url: "${receiver.url}/fine"}`), healthy);
    const firing = await waitForCondition(healthy, 'fine', 'Firing', 'True', 180_000);
    expect(firing.status).toBe('True');
    const delivered = await waitFor('the healthy tenant notification', () => receiver.to('/fine')[0], {
      timeoutMs: 60_000,
    });
    expect((delivered.body as { alert: { namespace: string } }).alert.namespace).toBe(healthy);
  });
});
