/**
 * OOM kills and right-sizing through the real pieces: simulated pods with a steady 300 MiB
 * (kwok) -> the operator's collector -> FerretDB -> the right-sizing loop and the
 * recommendations API. kwok cannot OOM-kill a container, so the test reports the kill as a
 * kubelet would, on the pod's status subresource (restartCount + 1, lastState.terminated
 * OOMKilled with its finishedAt); kwok's default stages only write the status of Pending pods and
 * of Jobs' pods, and the test checks that the kill stays on the status. What a user sees is
 * checked: the Event on the pod (once per kill, also after the operator is started again on the
 * same store), and the memory recommendation raised as
 * docs/rightsizing.md says, computed here from the documented formula and the bucket edges built
 * the plain way, not from the operator's code.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import {
  apply,
  coreApi,
  createPod,
  deleteNamespace,
  getObject,
  namespaceViewerToken,
  newNamespace,
  patchContainerStatuses,
  uniqueName,
  waitFor,
  type ContainerStatusJson,
} from '../harness/index.js';
import { startTestOperator } from '../harness/operator.js';
import { endOfBucketHolding } from '../support/bucket-ends.js';

const MIB = 2 ** 20;
const REASON = 'OOMKilledBelowRecommendation';
const USAGE = 300 * MIB;
/** OOM-killed at this limit: below what 300 MiB of history recommends (363Mi). */
const TIGHT_LIMIT = 320 * MIB;
/** OOM-killed at this limit: above it (a new peak). */
const ROOMY_LIMIT = 640 * MIB;

interface Item {
  workload: { kind: string; name: string };
  container: string;
  history: { samples: number };
  memory: { request: number | null; limit: number | null; target: number };
  oom?: { usedBytes: number; bumpBytes: number; targetWithoutKill: number; pods: { name: string }[] };
}

// docs/rightsizing.md, strategy vpa, with one container per pod and history at a steady USAGE.
/** Memory target = P90 of the daily peaks (the end of its bucket, 10 MB first) x 1.15, rounded up to a byte. */
const targetOfPeak = (peak: number) => Math.ceil(endOfBucketHolding(1e7, peak) * 1.15);
/** After an OOM kill at `used` (the limit): a peak of max(used + 100 MiB, used x 1.2). */
const oomPeak = (used: number) => Math.max(used + 100 * MIB, used * 1.2);
/**
 * With the kill: the peaks are USAGE once per day of history and the kill's peak, so P90 is the
 * kill's peak (the 9th of 10 equal weights reached only at the last); the target is never below it.
 */
const targetAfterKill = (used: number) =>
  Math.ceil(Math.max(endOfBucketHolding(1e7, oomPeak(used)) * 1.15, oomPeak(used)));
/** As the Event writes quantities: MiB, rounded up. */
const mi = (bytes: number) => `${Math.ceil(bytes / MIB)}Mi`;

describe('OOM kills in right-sizing', () => {
  let operatorNamespace: string;
  let ns: string;
  let operator: OperatorHandle;
  let token: string;
  const database = uniqueName('oomtest');
  /** The operator of this installation, started again: a new process, the same store. */
  const startOperator = () =>
    startTestOperator({ namespace: operatorNamespace, database, args: ['--rightsizing-interval', '2s'] });

  const recommendations = async (): Promise<Item[]> => {
    const response = await fetch(`${operator.url}/api/v1/namespaces/${ns}/recommendations`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { items: Item[] }).items;
  };
  const recommendationOf = async (pod: string) => {
    const item = (await recommendations()).find((i) => i.workload.kind === 'Pod' && i.workload.name === pod);
    if (item === undefined) throw new Error(`no recommendation for Pod/${pod}`);
    return item;
  };
  const oomEvents = async (pod: string): Promise<CoreV1Event[]> =>
    (
      await coreApi().listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${pod}` })
    ).items.filter((e) => e.reason === REASON);
  const lastPass = async () => {
    const policy = await getObject<{ status?: { rightsizing?: { lastUpdateTime?: string } } }>(
      'usagepolicies',
      ns,
      'all',
    );
    return policy?.status?.rightsizing?.lastUpdateTime;
  };
  /** Waits until `passes` right-sizing passes have started after the one of the latest summary. */
  const laterPasses = async (passes: number) => {
    const seen = new Set<string>();
    const since = await lastPass();
    await waitFor(
      `${passes} more right-sizing passes (after ${since})`,
      async () => {
        const time = await lastPass();
        if (time !== undefined && (since === undefined || time > since)) seen.add(time);
        return seen.size >= passes;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
  };
  /** The container restarted after an OOM kill that finished at `finishedAt`, as a kubelet reports it. */
  const reportOomKill = (pod: string, finishedAt: Date) =>
    patchContainerStatuses(ns, pod, (s: ContainerStatusJson) => {
      const running = (s.state as { running?: { startedAt?: string } } | undefined)?.running;
      return {
        ...s,
        restartCount: (s.restartCount as number) + 1,
        lastState: {
          terminated: {
            exitCode: 137,
            reason: 'OOMKilled',
            startedAt: running?.startedAt,
            finishedAt: finishedAt.toISOString(),
          },
        },
        state: { running: { startedAt: new Date(finishedAt.getTime() + 1000).toISOString() } },
      };
    });
  const statusOf = async (pod: string) =>
    (await coreApi().readNamespacedPod({ namespace: ns, name: pod })).status?.containerStatuses?.[0];

  beforeAll(async () => {
    operatorNamespace = await newNamespace('kuo-system');
    ns = await newNamespace('oom');
    operator = await startOperator();
    token = await namespaceViewerToken(ns);
    for (const [name, limit] of [
      ['tight', TIGHT_LIMIT],
      ['roomy', ROOMY_LIMIT],
    ] as const)
      await createPod(ns, {
        name,
        labels: { tier: 'x' },
        containers: [
          {
            name: 'app',
            requests: { cpu: '100m', memory: `${limit / MIB}Mi` },
            limits: { memory: `${limit / MIB}Mi` },
            usage: { cpu: '100m', memory: `${USAGE / MIB}Mi` },
          },
        ],
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

  it('records an Event once per kill below the recommendation and bumps the memory recommendation', async () => {
    // History first: both pods recommended from their steady 300 MiB, no kill yet.
    await waitFor(
      'recommendations of both pods from collected usage',
      async () => {
        const items = await recommendations();
        if (items.length === 2 && items.every((i) => i.history.samples >= 2)) return items;
        // What there is so far, for the timeout's message.
        throw new Error(
          `readings: ${JSON.stringify(items.map((i) => [i.workload.name, i.history.samples]))}`,
        );
      },
      // Readings every 10 s and a pass every 2 s; the margin is for a loaded CI machine.
      { timeoutMs: 150_000, intervalMs: 1000 },
    );
    const before = await recommendationOf('tight');
    expect(before.memory).toMatchObject({ limit: TIGHT_LIMIT, target: targetOfPeak(USAGE) });
    expect(before.oom).toBeUndefined();
    // The premise: 320Mi is below the 363Mi the history recommends, 640Mi above it.
    expect(TIGHT_LIMIT).toBeLessThan(targetOfPeak(USAGE));
    expect(ROOMY_LIMIT).toBeGreaterThan(targetOfPeak(USAGE));
    await laterPasses(2);
    expect(await oomEvents('tight')).toEqual([]);

    const killedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 5000);
    await reportOomKill('tight', killedAt);
    await reportOomKill('roomy', killedAt);

    const [event] = await waitFor('the OOMKilledBelowRecommendation Event on pod tight', async () => {
      const events = await oomEvents('tight');
      return events.length > 0 ? events : undefined;
    });
    const tight = await coreApi().readNamespacedPod({ namespace: ns, name: 'tight' });
    expect(event).toMatchObject({
      type: 'Warning',
      reason: REASON,
      involvedObject: { kind: 'Pod', namespace: ns, name: 'tight', uid: tight.metadata?.uid },
    });
    console.log(`[rightsizing-oom] Event on pod tight: ${event!.message}`);
    expect(event!.message).toBe(
      `container app was OOM-killed at its memory limit ${mi(TIGHT_LIMIT)}, below the ` +
        `${mi(targetOfPeak(USAGE))} its history recommends (Pod/tight, strategy vpa); ` +
        `with the kill taken into account: ${mi(targetAfterKill(TIGHT_LIMIT))}`,
    );
    expect(mi(TIGHT_LIMIT)).toBe('320Mi');
    expect(mi(targetOfPeak(USAGE))).toBe('363Mi');

    // Later passes see the same termination (kwok kept it on the status): no second Event.
    await laterPasses(3);
    const status = await statusOf('tight');
    expect(status?.restartCount).toBe(1);
    expect(status?.lastState?.terminated).toMatchObject({ reason: 'OOMKilled', finishedAt: killedAt });
    const events = await oomEvents('tight');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ metadata: { name: event!.metadata?.name }, count: 1 });
    // Killed at 640Mi, above the 363Mi of its history: a new peak, no Event.
    expect(await oomEvents('roomy')).toEqual([]);
    expect((await statusOf('roomy'))?.lastState?.terminated?.reason).toBe('OOMKilled');

    // The recommendations take the kills into account: the bump from the limit at the kill.
    const tightAfter = await recommendationOf('tight');
    expect(tightAfter.memory.target).toBe(targetAfterKill(TIGHT_LIMIT));
    expect(tightAfter.oom).toMatchObject({
      usedBytes: TIGHT_LIMIT,
      bumpBytes: TIGHT_LIMIT + 100 * MIB, // 420Mi > 320Mi x 1.2
      targetWithoutKill: targetOfPeak(USAGE),
      pods: [{ name: 'tight' }],
    });
    const roomyAfter = await recommendationOf('roomy');
    expect(roomyAfter.memory.target).toBe(targetAfterKill(ROOMY_LIMIT));
    expect(roomyAfter.oom).toMatchObject({
      usedBytes: ROOMY_LIMIT,
      bumpBytes: 768 * MIB, // 640Mi x 1.2 > 640Mi + 100 MiB
      targetWithoutKill: targetOfPeak(USAGE),
    });
    console.log(
      `[rightsizing-oom] memory targets after the kills: tight ${tightAfter.memory.target} ` +
        `(${mi(tightAfter.memory.target)}), roomy ${roomyAfter.memory.target} (${mi(roomyAfter.memory.target)})`,
    );

    // A second kill of the same container is a new termination: the Event again (its count).
    await reportOomKill('tight', new Date(killedAt.getTime() + 3000));
    const repeated = await waitFor('the second kill counted on the Event', async () => {
      const all = await oomEvents('tight');
      return all.length === 1 && all[0]!.count === 2 ? all[0] : undefined;
    });
    expect(repeated.metadata?.name).toBe(event!.metadata?.name);
    expect((await statusOf('tight'))?.restartCount).toBe(2);

    // A new leader (the operator started again on the same store, as after a failover) sees the
    // same kill on the pod's status: it was reported, so no Event again.
    await operator.stop();
    operator = await startOperator();
    await laterPasses(3);
    const afterRestart = await oomEvents('tight');
    expect(afterRestart.map((e) => [e.metadata?.name, e.count])).toEqual([[event!.metadata?.name, 2]]);
    // A third kill is new to it too: reported, by the new process's own Event.
    await reportOomKill('tight', new Date(killedAt.getTime() + 6000));
    const third = await waitFor('the third kill reported by the new leader', async () => {
      const all = await oomEvents('tight');
      return all.length === 2 ? all.find((e) => e.metadata?.name !== event!.metadata?.name) : undefined;
    });
    expect(third).toMatchObject({ count: 1, message: event!.message });
  }, 300_000);
});
