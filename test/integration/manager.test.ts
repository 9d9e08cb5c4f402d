/**
 * The runtime Manager against the real apiserver: a replica whose caches cannot sync shuts
 * down cleanly, and a term lost while a collection is in flight stops it before the next
 * term starts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import { MongoClient } from 'mongodb';
import type {
  MetricsResult,
  MetricsScope,
  MetricsSource,
} from '../../operator/sources/metrics-api/metrics-source.js';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import { startApiserverProxy, type ApiserverProxy } from '../harness/apiserver-proxy.js';
import { captureLogger, type LogLine } from '../harness/capture-logger.js';
import {
  apply,
  deleteNamespace,
  getObject,
  kubeConfig,
  newNamespace,
  testEnvironment,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { spawnOperator, startTestOperator, type OperatorProcess } from '../harness/operator.js';

interface LeaseView {
  spec?: { holderIdentity?: string; leaseTransitions?: number };
}

const LEASE = 'kube-usage-operator';
const leaseArgs = [
  '--leader-elect-lease-duration',
  '4s',
  '--leader-elect-renew-deadline',
  '3s',
  '--leader-elect-retry-period',
  '1s',
];

describe('the Manager', () => {
  const database = uniqueName('managertest');
  let mongo: MongoClient;

  beforeAll(async () => {
    mongo = await MongoClient.connect(testEnvironment().mongoUri);
  });
  afterAll(async () => {
    await mongo
      .db(database)
      .dropDatabase()
      .catch(() => undefined);
    await mongo.close();
  });

  describe('a leader started without the CRDs installed', () => {
    let operatorNamespace: string;
    let proxy: ApiserverProxy;
    let operator: OperatorProcess | undefined;

    beforeAll(async () => {
      operatorNamespace = await newNamespace('kuo-nocrd');
      proxy = await startApiserverProxy({ hiddenGroups: ['usage.kubeusage.dev'] });
    });
    afterAll(async () => {
      await operator?.kill();
      await proxy.close();
      await deleteNamespace(operatorNamespace);
    });

    it('exits 0 on SIGTERM within the grace period and leaves the lease released', async () => {
      operator = spawnOperator({
        namespace: operatorNamespace,
        database,
        identity: 'no-crds',
        leaderElection: true,
        kubeconfig: proxy.kubeconfig,
        args: [...leaseArgs, '--shutdown-timeout', '10s'],
      });
      const logs = operator.logs;
      await waitFor('the operator to start', () => logs.some((l) => l.message === 'operator started'), {
        timeoutMs: 60_000,
      });
      // Its UsagePolicy cache cannot list (404): it never syncs.
      await waitFor(
        'the UsagePolicy informer to fail',
        () =>
          logs.some(
            (l) => l.informer === 'usagepolicies' && l.message === 'list/watch failed; retrying with backoff',
          ),
        { timeoutMs: 30_000 },
      );
      expect(logs.some((l) => l.message === 'caches synced')).toBe(false);

      const code = await operator.terminate();
      // 0, not the 1 that the shutdown timeout (10 s) would have forced.
      expect(code).toBe(0);
      expect(logs).toContainEqual(expect.objectContaining({ message: 'shut down cleanly' }));
      expect(logs.some((l) => l.message === 'shutdown timed out; exiting')).toBe(false);
      const lease = await getObject<LeaseView>('lease', operatorNamespace, LEASE);
      expect(lease?.spec?.holderIdentity ?? '').toBe('');
    });
  });

  describe('a term lost while a collection is in flight', () => {
    let operatorNamespace: string;
    let ns: string;
    let operator: OperatorHandle | undefined;

    beforeAll(async () => {
      operatorNamespace = await newNamespace('kuo-term');
      ns = await newNamespace('term');
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

    it('is stopped before the next term starts: never two collections of one policy at once', async () => {
      // The operator's log and the source's own events, in the order they happened.
      const { logger, lines } = captureLogger();
      const source = new CountingSource(lines);
      operator = await startTestOperator(
        {
          namespace: operatorNamespace,
          database,
          identity: 'replica-a',
          leaderElection: true,
          args: leaseArgs,
        },
        { metricsSource: source, kubeletSource: null },
        logger,
      );
      const first = await waitFor('the first term', () => operator!.term(), { timeoutMs: 60_000 });
      const policy = `${ns}/web`;
      // The first collection of the policy hangs (the metrics API is slow to answer).
      source.hold = true;
      await waitFor('a collection in flight', () => source.inFlight(policy) === 1, { timeoutMs: 30_000 });

      // Another replica takes the lease (and never renews it): this term is lost.
      await stealLease(operatorNamespace, 'replica-b');
      await waitFor('the term to end', () => first.signal.aborted || undefined, { timeoutMs: 30_000 });
      // The collection in flight was told to stop; it takes a while to return.
      await waitFor('the collection to be aborted', () => source.abortedCalls > 0, { timeoutMs: 10_000 });

      // replica-b's lease expires; replica-a leads again, in a new term.
      const second = await waitFor(
        'a new term',
        () => {
          const term = operator!.term();
          return term && term !== first ? term : undefined;
        },
        { timeoutMs: 60_000 },
      );
      source.hold = false;
      const newTermStarted = () =>
        lines.findIndex((l) => l.message === 'leading' && l.fencingToken === second.fencingToken);
      await waitFor(
        'a collection in the new term',
        () =>
          lines.slice(newTermStarted()).some((l) => l.message === 'collection started' && l.namespace === ns),
        { timeoutMs: 60_000 },
      );

      expect(source.maxConcurrent(policy)).toBe(1);
      // The old term's collection returned, then the old term stopped, then the new one started.
      const returned = lines.findIndex(
        (l) => l.message === 'aborted collection returned' && l.namespace === ns,
      );
      const stopped = lines.findIndex(
        (l) => l.message === 'term stopped' && l.fencingToken === first.fencingToken,
      );
      expect(returned).toBeGreaterThanOrEqual(0);
      expect(stopped).toBeGreaterThan(returned);
      expect(newTermStarted()).toBeGreaterThan(stopped);
      expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
      const lease = await getObject<LeaseView>('lease', operatorNamespace, LEASE);
      expect(lease?.spec?.leaseTransitions).toBe(second.fencingToken);
    });
  });
});

/** Another replica's takeover: the Lease names it, renewed now, for 2 s (retried while the leader renews). */
async function stealLease(namespace: string, identity: string): Promise<void> {
  const api = kubeConfig().makeApiClient(CoordinationV1Api);
  await waitFor(
    'the lease to be taken over',
    async () => {
      const lease = await api.readNamespacedLease({ name: LEASE, namespace });
      const now = new V1MicroTime(Date.now());
      lease.spec = {
        ...lease.spec,
        holderIdentity: identity,
        leaseDurationSeconds: 2,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1,
      };
      // A 409 (the leader renewed in between) throws: read and try again.
      await api.replaceNamespacedLease({ name: LEASE, namespace, body: lease });
      return true;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
}

/**
 * A metrics source at the collector's boundary that counts, per namespace (one policy per
 * namespace here), the list calls running at once, and notes their starts and returns in the
 * test's event list. While `hold` is set, a call waits until it is aborted and then returns
 * only 2 s later (a slow server that ignores the abort).
 */
class CountingSource implements MetricsSource {
  hold = false;
  abortedCalls = 0;
  private readonly running = new Map<string, number>();
  private readonly most = new Map<string, number>();

  constructor(private readonly events: LogLine[]) {}

  async listPodMetrics(scope: MetricsScope, signal?: AbortSignal): Promise<MetricsResult> {
    const namespace = scope.namespace ?? '*';
    const now = (this.running.get(namespace) ?? 0) + 1;
    this.running.set(namespace, now);
    this.most.set(namespace, Math.max(this.most.get(namespace) ?? 0, now));
    this.events.push({ level: 'test', message: 'collection started', namespace });
    let aborted = false;
    try {
      if (this.hold) {
        await new Promise<void>((resolve) => {
          if (signal?.aborted) return resolve();
          signal?.addEventListener('abort', () => resolve(), { once: true });
        });
        aborted = true;
        this.abortedCalls++;
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      }
      return { available: true, items: [] };
    } finally {
      this.running.set(namespace, (this.running.get(namespace) ?? 1) - 1);
      const message = aborted ? 'aborted collection returned' : 'collection returned';
      this.events.push({ level: 'test', message, namespace });
    }
  }

  inFlight(policy: string): number {
    return this.running.get(namespaceOf(policy)) ?? 0;
  }

  maxConcurrent(policy: string): number {
    return this.most.get(namespaceOf(policy)) ?? 0;
  }
}

function namespaceOf(policy: string): string {
  return policy.slice(0, policy.indexOf('/'));
}
