import { describe, expect, it } from '@jest/globals';
import type { RecommendationItem } from '../../../operator/recommend/recommender.js';
import { RightsizingLoop, summarize } from '../../../operator/recommend/rightsizing-loop.js';
import { silentLogger } from '../../../operator/logging.js';
import { MemoryReportLedger } from './memory-report-ledger.js';
import { FakeTimers } from '../runtime/fake-timers.js';

const MIB = 2 ** 20;

function item(name: string, perHour: number, extra: Partial<RecommendationItem> = {}): RecommendationItem {
  return {
    workload: { kind: 'Deployment', name },
    container: 'app',
    containerType: 'container',
    strategy: 'vpa',
    history: { seconds: 86_400, samples: 2880, containerSeconds: 86_400, pods: 1 },
    confidence: 1,
    cpu: { request: 0.5, limit: 1, target: 0.249, lowerBound: 0.2, upperBound: 0.3, difference: -0.251 },
    memory: {
      request: 512 * MIB,
      limit: 512 * MIB,
      target: 380_258_473,
      lowerBound: 1,
      upperBound: 2,
      difference: 380_258_473 - 512 * MIB,
    },
    cost: {
      cpuPerCoreHour: 0.031611,
      memoryPerGiBHour: 0.004237,
      currentPerHour: 0,
      recommendedPerHour: 0,
      differencePerHour: perHour,
      replicas: 1,
      differencePerHourAllReplicas: perHour,
    },
    ...extra,
  };
}

describe('summarize', () => {
  it('lists the largest over- and under-provisioning by cost over all replicas, and the savings', () => {
    const items = [
      item('a', -0.01),
      item('b', -0.03),
      item('c', 0.02),
      item('d', -0.002),
      item('e', -0.001),
      item('f', 0),
    ];
    const s = summarize(items, Date.UTC(2026, 11, 2, 12, 0, 0));
    expect(s.lastUpdateTime).toBe('2026-12-02T12:00:00Z');
    expect(s.workloads).toBe(6);
    expect(s.savingsPerHour).toBeCloseTo(0.043, 9);
    expect(s.overProvisioned?.map((e) => e.workload)).toEqual([
      'Deployment/b',
      'Deployment/a',
      'Deployment/d',
    ]);
    expect(s.underProvisioned?.map((e) => e.workload)).toEqual(['Deployment/c']);
    // 380,258,473 bytes is 362.6 MiB: written up, as a request would be.
    expect(s.overProvisioned?.[0]).toEqual({
      workload: 'Deployment/b',
      container: 'app',
      cpu: '500m -> 249m',
      memory: '512Mi -> 363Mi',
      costPerHour: -0.03,
    });
  });
});

/** Deployment/web, OOM-killed (its run ended at `finishedAt`) at 256Mi, below the 300Mi of its history. */
const killedAt = (finishedAt: number) =>
  item('web', 0.01, {
    memory: {
      request: 256 * MIB,
      limit: 256 * MIB,
      target: 400 * MIB,
      lowerBound: 1,
      upperBound: 2,
      difference: 1,
    },
    oom: {
      usedBytes: 256 * MIB,
      bumpBytes: 356 * MIB,
      targetWithoutKill: 300 * MIB,
      pods: [{ name: 'web-1', uid: 'u1', finishedAt }],
    },
  });

describe('RightsizingLoop', () => {
  it('hands each active policy its namespace summary and records one Event per OOM kill below the recommendation', async () => {
    const killed = killedAt(5);
    // Killed above what its history recommends: a new peak, not a too-low limit; no Event.
    const spike = item('spike', 0.01, {
      oom: {
        usedBytes: 512 * MIB,
        bumpBytes: 612 * MIB,
        targetWithoutKill: 300 * MIB,
        pods: [{ name: 's-1', uid: 'u2' }],
      },
    });
    const asked: string[] = [];
    const summaries: string[] = [];
    const events: { name: string; reason: string; message: string }[] = [];
    const loop = new RightsizingLoop({
      recommender: {
        recommend: async (q) => {
          asked.push(`${q.namespace} ${q.strategy} ${(q.to - q.from) / 86_400_000}d`);
          return q.namespace === 'shop' ? [killed, spike] : [];
        },
      },
      policies: () => ['shop/a', 'shop/b', 'other/c'],
      events: {
        record: async (object, type, reason, message) => {
          expect(type).toBe('Warning');
          events.push({ name: `${object.kind}/${object.namespace}/${object.name}`, reason, message });
        },
      },
      reports: new MemoryReportLedger(),
      timers: new FakeTimers(),
      logger: silentLogger(),
    });
    loop.onSummary((key) => summaries.push(key));
    await loop.runOnce();
    await loop.runOnce();
    expect(asked).toEqual(['shop vpa 8d', 'other vpa 8d', 'shop vpa 8d', 'other vpa 8d']);
    expect(summaries.slice(0, 3)).toEqual(['shop/a', 'shop/b', 'other/c']);
    expect(loop.summary('shop/a')?.underProvisioned?.length).toBe(2);
    expect(loop.summary('other/c')?.workloads).toBe(0);
    expect(events).toEqual([
      {
        name: 'Pod/shop/web-1',
        reason: 'OOMKilledBelowRecommendation',
        message:
          'container app was OOM-killed at its memory limit 256Mi, below the 300Mi its history recommends ' +
          '(Deployment/web, strategy vpa); with the kill taken into account: 400Mi',
      },
    ]);
  });

  it('reports a kill once across leaders sharing the ledger, a new kill again, and retries an Event that failed', async () => {
    let current = killedAt(5);
    const ledger = new MemoryReportLedger();
    const recorded: string[] = [];
    let failing = false;
    const leader = () =>
      new RightsizingLoop({
        recommender: { recommend: async () => [current] },
        policies: () => ['shop/a'],
        events: {
          record: async (object) => {
            if (failing) throw new Error('apiserver unavailable');
            recorded.push(object.name);
          },
        },
        reports: ledger,
        timers: new FakeTimers(),
        logger: silentLogger(),
      });
    await leader().runOnce();
    // A new leader (a new process, the same store) sees the same kill on the pod's status.
    await leader().runOnce();
    expect(recorded).toEqual(['web-1']);
    // A second kill of the container: a new termination, reported; its Event fails first.
    current = killedAt(9);
    failing = true;
    const next = leader();
    await next.runOnce();
    expect(recorded).toEqual(['web-1']);
    failing = false;
    await next.runOnce();
    await next.runOnce();
    expect(recorded).toEqual(['web-1', 'web-1']);
  });
});
