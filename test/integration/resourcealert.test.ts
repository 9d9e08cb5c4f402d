import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import {
  apply,
  conditionOf,
  createPod,
  deleteNamespace,
  getObject,
  kubectl,
  kubectlOk,
  newNamespace,
  setPodUsage,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { startTestOperator } from '../harness/operator.js';
import { Receiver } from '../harness/receiver.js';

interface AlertView {
  status?: {
    state?: string;
    alertState?: string;
    cpuConsecutiveBreaches?: number;
    firingTargets?: number;
    lastAlertedAt?: string;
    targets?: {
      pod: string;
      container?: string;
      metric: string;
      state: string;
      breaches: number;
      value?: string;
    }[];
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

interface WebhookBody {
  transition: string;
  target: { pod: string; container?: string };
  metric: string;
}

interface PostedAlert {
  labels: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

const POLICY = (interval = '10s') => `apiVersion: usage.kubeusage.dev/v1alpha1
kind: UsagePolicy
metadata: {name: apps}
spec:
  selector: {}
  interval: ${interval}
`;

describe('ResourceAlert evaluation (real apiserver, kwok, metrics-server, FerretDB, local receivers)', () => {
  let operatorNamespace: string;
  let ns: string;
  let database: string;
  let operator: OperatorHandle | undefined;
  const receiver = new Receiver();
  const alert = (name: string) => getObject<AlertView>('resourcealert', ns, name);
  const webhooks = (path: string, transition: string) =>
    receiver.to(path).filter((r) => (r.body as WebhookBody).transition === transition);

  // The cluster's Alertmanager is the admin's, configured on the operator; alerts opt in.
  const operatorOptions = () => ({
    namespace: operatorNamespace,
    database,
    args: ['--alertmanager-url', `${receiver.url}/am`],
  });

  beforeAll(async () => {
    await receiver.start();
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('alerts');
    database = uniqueName('alerttest');
    operator = await startTestOperator(operatorOptions());
    await apply(POLICY(), ns);
  });
  afterAll(async () => {
    await operator?.stop();
    await receiver.stop();
    await deleteNamespace(ns);
    await deleteNamespace(operatorNamespace);
  });

  it('goes Pending, fires after `for` breaches, notifies once, survives a restart, and resolves after `recoverAfter`', async () => {
    await createPod(ns, {
      name: 'hot',
      labels: { app: 'hot' },
      containers: [{ name: 'app', requests: { cpu: '500m' }, limits: { cpu: '1', memory: '1Gi' } }],
      usage: { cpu: '200m', memory: '100Mi' },
    });
    await apply(
      `apiVersion: usage.kubeusage.dev/v1alpha1
kind: ResourceAlert
metadata: {name: hot-cpu}
spec:
  policyRef: {name: apps}
  selector: {matchLabels: {app: hot}}
  cpu: {above: "80%", of: limit}
  for: 3
  recoverAfter: 2
  notify:
    events: true
    alertmanager: {labels: {team: payments}}
    webhook: {url: "${receiver.url}/hook"}
`,
      ns,
    );
    await waitFor(
      'alert Ready and Normal at 200m',
      async () => {
        const a = await alert('hot-cpu');
        return conditionOf(a, 'Ready')?.status === 'True' && a?.status?.state === 'Normal';
      },
      { timeoutMs: 90_000 },
    );

    await setPodUsage(ns, 'hot', { cpu: '900m' });
    const pending = await waitFor(
      'Pending',
      async () => {
        const a = await alert('hot-cpu');
        return a?.status?.state === 'Pending' ? a : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    expect(pending.status?.cpuConsecutiveBreaches).toBeLessThan(3);

    const firing = await waitFor(
      'Firing',
      async () => {
        const a = await alert('hot-cpu');
        return a?.status?.state === 'Firing' ? a : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    expect(firing.status?.cpuConsecutiveBreaches).toBe(3);
    expect(firing.status?.alertState).toBe('cpu_alert');
    expect(conditionOf(firing, 'Firing')).toMatchObject({ status: 'True', reason: 'CPUThresholdExceeded' });
    expect(conditionOf(firing, 'Ready')?.status).toBe('True');
    expect(firing.status?.targets?.[0]).toMatchObject({
      pod: 'hot',
      container: 'app',
      metric: 'cpu',
      state: 'Firing',
    });

    const waited = await kubectl([
      '-n',
      ns,
      'wait',
      '--for=condition=Firing',
      'resourcealert/hot-cpu',
      '--timeout=10s',
    ]);
    expect(waited.code).toBe(0);

    await waitFor(
      'a firing webhook and an Alertmanager post',
      () => webhooks('/hook', 'fired').length === 1 && receiver.to('/am/api/v2/alerts').length >= 1,
    );
    const events = await waitFor('an AlertFiring Event', async () => {
      const out = await kubectlOk([
        '-n',
        ns,
        'get',
        'events',
        '--field-selector',
        'involvedObject.name=hot-cpu',
        '-o',
        'json',
      ]);
      const items = (JSON.parse(out) as { items: { reason: string }[] }).items;
      return items.some((e) => e.reason === 'AlertFiring') ? items : undefined;
    });
    expect(events.filter((e) => e.reason === 'AlertFiring')).toHaveLength(1);

    // Killed while firing and started again: still Firing, no second firing notification.
    await operator?.stop();
    operator = await startTestOperator(operatorOptions());
    const breachesBefore = firing.status?.cpuConsecutiveBreaches ?? 0;
    await waitFor(
      'counting resumes from status after the restart',
      async () => {
        const a = await alert('hot-cpu');
        return a?.status?.state === 'Firing' && (a.status.cpuConsecutiveBreaches ?? 0) > breachesBefore + 1;
      },
      { timeoutMs: 90_000 },
    );
    expect(webhooks('/hook', 'fired')).toHaveLength(1);

    await setPodUsage(ns, 'hot', { cpu: '100m' });
    const resolved = await waitFor(
      'resolved',
      async () => {
        const a = await alert('hot-cpu');
        return a?.status?.state === 'Normal' ? a : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    expect(conditionOf(resolved, 'Firing')?.status).toBe('False');
    await waitFor('one resolved webhook', () => webhooks('/hook', 'resolved').length === 1);
    expect(webhooks('/hook', 'fired')).toHaveLength(1);

    // Alertmanager's posts are a stream of their own, delivered apart from the webhook's: wait for
    // the resolution there, the post whose endsAt is not after it arrived (a firing post's is
    // re-send intervals ahead of its sending).
    const amPosts = () =>
      receiver
        .to('/am/api/v2/alerts')
        .flatMap((r) => (r.body as PostedAlert[]).map((alert) => ({ ...alert, receivedAt: r.at })));
    await waitFor('the resolution posted to Alertmanager', () =>
      amPosts().some((a) => Date.parse(a.endsAt) <= a.receivedAt),
    );
    const posted = amPosts();
    expect(new Set(posted.map((a) => a.startsAt)).size).toBe(1);
    expect(posted[0]?.labels).toMatchObject({
      team: 'payments',
      alertname: 'hot-cpu',
      namespace: ns,
      pod: 'hot',
      container: 'app',
      metric: 'cpu',
    });
    // Nothing firing is posted after the resolution.
    const last = posted[posted.length - 1]!;
    expect(Date.parse(last.endsAt)).toBeLessThanOrEqual(last.receivedAt);
  });

  it('never fires on alternating usage with for: 3; reports NoBasis without a limit; sums containers for scope pod', async () => {
    await createPod(ns, {
      name: 'flappy',
      labels: { app: 'flappy' },
      containers: [{ name: 'app', limits: { cpu: '1' } }],
      usage: { cpu: '100m' },
    });
    await createPod(ns, { name: 'unlimited', labels: { app: 'unlimited' }, usage: { cpu: '900m' } });
    await createPod(ns, {
      name: 'duo',
      labels: { app: 'duo' },
      containers: [
        { name: 'a', usage: { cpu: '300m' } },
        { name: 'b', usage: { cpu: '300m' } },
      ],
    });
    const alertYaml = (
      name: string,
      selector: string,
      extra: string,
    ) => `apiVersion: usage.kubeusage.dev/v1alpha1
kind: ResourceAlert
metadata: {name: ${name}}
spec:
  policyRef: {name: apps}
  selector: {matchLabels: {app: ${selector}}}
  for: 3
  recoverAfter: 1
  notify: {events: false}
${extra}`;
    await apply(alertYaml('flappy-cpu', 'flappy', '  cpu: {above: "50%", of: limit}'), ns);
    await apply(alertYaml('unlimited-cpu', 'unlimited', '  cpu: {above: "50%", of: limit}'), ns);
    await apply(alertYaml('duo-pod', 'duo', '  scope: pod\n  cpu: {above: 500m}'), ns);

    const noBasis = await waitFor(
      'NoBasis for the pod without a limit',
      async () => {
        const a = await alert('unlimited-cpu');
        return a?.status?.targets?.find((t) => t.state === 'NoBasis');
      },
      { timeoutMs: 90_000 },
    );
    expect(noBasis).toMatchObject({ pod: 'unlimited', metric: 'cpu' });

    const duo = await waitFor(
      'scope pod fires on the sum of two 300m containers',
      async () => {
        const a = await alert('duo-pod');
        return a?.status?.state === 'Firing' ? a : undefined;
      },
      { timeoutMs: 120_000 },
    );
    const target = duo.status?.targets?.[0];
    expect(target?.pod).toBe('duo');
    expect(target?.container).toBeUndefined();

    // Alternate above/below the threshold at every new sample; it must never fire.
    let high = false;
    let seen = 0;
    for (let flips = 0; flips < 6; flips++) {
      high = !high;
      await setPodUsage(ns, 'flappy', { cpu: high ? '900m' : '100m' });
      const a = await waitFor(
        `flappy sample ${flips} ${high ? 'breaching' : 'healthy'}`,
        async () => {
          const view = await alert('flappy-cpu');
          const t = view?.status?.targets?.find((x) => x.pod === 'flappy');
          const breaching = (t?.breaches ?? 0) > 0;
          return breaching === high ? view : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(a.status?.state).not.toBe('Firing');
      expect(a.status?.cpuConsecutiveBreaches ?? 0).toBeLessThan(3);
      seen++;
    }
    expect(seen).toBe(6);
  });
  it('retries a receiver that fails and then recovers; shows one that never recovers in a condition', async () => {
    const flaky = await new Receiver().start();
    const dead = await new Receiver().start();
    try {
      flaky.failNext(2);
      dead.failAlways(true);
      await createPod(ns, { name: 'retry', labels: { app: 'retry' }, usage: { cpu: '800m' } });
      const alertYaml = (name: string, url: string) => `apiVersion: usage.kubeusage.dev/v1alpha1
kind: ResourceAlert
metadata: {name: ${name}}
spec:
  policyRef: {name: apps}
  selector: {matchLabels: {app: retry}}
  cpu: {above: 500m}
  for: 1
  notify: {events: false, webhook: {url: "${url}/hook"}}
`;
      await apply(alertYaml('retry-flaky', flaky.url), ns);
      await apply(alertYaml('retry-dead', dead.url), ns);

      const delivered = await waitFor(
        'the flaky receiver gets the firing after its two failures',
        () => flaky.to('/hook').find((r) => (r.body as WebhookBody).transition === 'fired'),
        { timeoutMs: 120_000 },
      );
      expect((delivered.body as WebhookBody).target.pod).toBe('retry');
      expect(flaky.to('/hook')).toHaveLength(1);

      const failing = await waitFor(
        'NotificationsFailing on the alert whose receiver never answers',
        async () => {
          const c = conditionOf(await alert('retry-dead'), 'NotificationsFailing');
          return c?.status === 'True' ? c : undefined;
        },
        { timeoutMs: 120_000 },
      );
      expect(failing.message).toContain('webhook');
      expect(conditionOf(await alert('retry-dead'), 'Firing')?.status).toBe('True');
    } finally {
      await flaky.stop();
      await dead.stop();
    }
  });
});
