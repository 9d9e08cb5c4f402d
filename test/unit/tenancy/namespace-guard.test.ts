import { describe, expect, it } from '@jest/globals';
import type { ContainerSample } from '../../../operator/model.js';
import type {
  HistoryQuery,
  HistoryResult,
  SummaryQuery,
  SummaryResult,
  TopQuery,
  TopResult,
  UsageQueries,
} from '../../../operator/store/types.js';
import { NamespaceReadGuard, readableFrom } from '../../../operator/tenancy/namespace-guard.js';
import { NamespaceLedger, type CurrentNamespace } from '../../../operator/tenancy/namespace-ledger.js';
import { FakeNamespaceData } from './fake-namespace-data.js';

const T = Date.UTC(2026, 10, 21, 10, 0, 0);
const MIN = 60_000;

/** The store's queries, recording what they were asked. */
class RecordingQueries implements UsageQueries {
  asked: { kind: string; from?: number; namespaces?: string[] }[] = [];
  samples: ContainerSample[] = [];
  historyPoints: number[] = [];
  /** Measured time each part reports, ms. */
  coveredMs = 0;
  /** Memory-measured time each part reports, ms. */
  memoryCoveredMs = 0;
  async latest(): Promise<ContainerSample[]> {
    this.asked.push({ kind: 'latest' });
    return this.samples;
  }
  async history(query: HistoryQuery): Promise<HistoryResult> {
    this.asked.push({ kind: 'history', from: query.from });
    return {
      granularity: '1h',
      containers: [
        {
          container: 'app',
          points: this.historyPoints.map((time) => ({
            time,
            count: 1,
            cpuMillicores: null,
            memoryBytes: null,
          })),
        },
      ],
    };
  }
  async top(query: TopQuery): Promise<TopResult> {
    this.asked.push({ kind: 'top', from: query.from, namespaces: query.namespaces });
    const items = (query.namespaces ?? []).map((namespace, i) => ({
      namespace,
      pod: 'web',
      container: 'app',
      usage: 0.1 + i / 1000,
      windowAvg: 100 + i,
      avg: 100 + i,
      measuredMs: 3_600_000,
      max: 200,
      samples: 3,
    }));
    return { items, coverage: coverageOf(query, this.coveredMs, this.memoryCoveredMs) };
  }
  async summary(query: SummaryQuery): Promise<SummaryResult> {
    this.asked.push({ kind: 'summary', from: query.from, namespaces: query.namespaces });
    const items = (query.namespaces ?? []).map(() => ({
      group: 'team-a',
      cpuCoreHours: 1,
      cpuCoreHoursBilled: 2,
      memoryGiBHours: 3,
      memoryGiBHoursBilled: 4,
      containers: 1,
    }));
    return { items, coverage: coverageOf(query, this.coveredMs, this.memoryCoveredMs) };
  }
}

function coverageOf(query: { from: number; to: number }, coveredMs: number, memoryCoveredMs: number) {
  const windowMs = query.to - query.from;
  return {
    windowMs,
    coveredMs,
    ratio: coveredMs / windowMs,
    memoryCoveredMs,
    memoryRatio: memoryCoveredMs / windowMs,
    proratedMs: 0,
  };
}

function setup(current: Record<string, CurrentNamespace>) {
  const data = new FakeNamespaceData();
  const ledger = new NamespaceLedger({ current: (name) => current[name], data, clock: { now: () => T } });
  const inner = new RecordingQueries();
  return { data, ledger, inner, guard: new NamespaceReadGuard(inner, ledger) };
}

describe('reads of a namespace name across its incarnations', () => {
  it('reads a name without a recorded deletion unchanged', async () => {
    const { guard, inner } = setup({ shop: { uid: 'u2', createdMs: T } });
    inner.historyPoints = [T - 2 * 3_600_000];
    const query = {
      namespace: 'shop',
      pod: 'web',
      from: T - 86_400_000,
      to: T + MIN,
      granularity: 'auto',
      maxPoints: 100,
    } as const;
    expect((await guard.history(query)).containers[0]?.points).toHaveLength(1);
    expect(inner.asked).toEqual([{ kind: 'history', from: T - 86_400_000 }]);
  });

  it('answers nothing for a deleted name that does not exist again', async () => {
    const { guard, inner, ledger } = setup({});
    ledger.noteDeletion('shop', 'u1', T);
    inner.samples = [{ time: T - 1000 } as ContainerSample];
    expect(await guard.latest('shop', 'web')).toEqual([]);
    expect(
      await guard.summary({
        from: T - MIN * 60,
        to: T + MIN,
        groupBy: { kind: 'namespace' },
        namespaces: ['shop'],
      }),
    ).toEqual({
      items: [],
      coverage: {
        windowMs: 61 * MIN,
        coveredMs: 0,
        ratio: 0,
        memoryCoveredMs: 0,
        memoryRatio: 0,
        proratedMs: 0,
      },
    });
    expect(inner.asked).toEqual([]);
  });

  it('reads a re-created name from its deletion and creation, and withholds buckets begun before the deletion', async () => {
    const { guard, inner, data } = setup({ shop: { uid: 'u2', createdMs: T + 20_000 } });
    await data.recordDeletion({ namespace: 'shop', uid: 'u1', deletedAt: new Date(T + 10_000) });
    expect(readableFrom({ kind: 'since', deletedMs: T + 10_000, createdMs: T + 20_000 })).toBe(T + 20_000);
    expect(readableFrom({ kind: 'since', deletedMs: T + 30_000, createdMs: T + 20_000 })).toBe(T + 30_000);
    expect(readableFrom({ kind: 'since', deletedMs: T + 10_000, createdMs: T + 90_000 })).toBe(T + 90_000);
    // The hourly bucket at T began before the deletion: it may hold the old tenant's samples.
    inner.historyPoints = [T, T + 3_600_000];
    const history = await guard.history({
      namespace: 'shop',
      pod: 'web',
      from: T - 86_400_000,
      to: T + 7_200_000,
      granularity: '1h',
      maxPoints: 100,
    });
    expect(history.containers[0]?.points.map((p) => p.time)).toEqual([T + 3_600_000]);
    expect(inner.asked.at(-1)).toEqual({ kind: 'history', from: T + 20_000 });
    inner.samples = [{ time: T + 5_000 } as ContainerSample, { time: T + 30_000 } as ContainerSample];
    expect(await guard.latest('shop', 'web')).toEqual([{ time: T + 30_000 }]);
  });

  it('runs a restricted namespace on its own window next to the others, and merges the answers', async () => {
    const { guard, inner, ledger } = setup({
      shop: { uid: 'u2', createdMs: T + 20_000 },
      blog: { uid: 'b1', createdMs: T - 86_400_000 },
    });
    ledger.noteDeletion('shop', 'u1', T + 10_000);
    const from = T - 3_600_000;
    inner.coveredMs = 30 * MIN;
    inner.memoryCoveredMs = 12 * MIN;
    const summary = await guard.summary({
      from,
      to: T + 3_600_000,
      groupBy: { kind: 'label', key: 'team' },
      namespaces: ['blog', 'shop'],
    });
    expect(inner.asked).toEqual([
      { kind: 'summary', from, namespaces: ['blog'] },
      { kind: 'summary', from: T + 20_000, namespaces: ['shop'] },
    ]);
    // Coverage over the whole window asked for, measured as the store does (best-covered part).
    expect(summary.coverage).toEqual({
      windowMs: 120 * MIN,
      coveredMs: 30 * MIN,
      ratio: 0.25,
      memoryCoveredMs: 12 * MIN,
      memoryRatio: 0.1,
      proratedMs: 0,
    });
    expect(summary.items).toEqual([
      {
        group: 'team-a',
        cpuCoreHours: 2,
        cpuCoreHoursBilled: 4,
        memoryGiBHours: 6,
        memoryGiBHoursBilled: 8,
        containers: 2,
      },
    ]);
    const top = await guard.top({
      metric: 'cpu',
      from,
      to: T + 3_600_000,
      limit: 1,
      namespaces: ['blog', 'shop'],
    });
    expect(top.items).toEqual([expect.objectContaining({ namespace: 'blog', avg: 100 })]);
    // Each part's average over the window is over the window asked for: shop's part is 59 min 40 s of its 120 minutes.
    const both = await guard.top({
      metric: 'cpu',
      from,
      to: T + 3_600_000,
      limit: 2,
      namespaces: ['blog', 'shop'],
    });
    expect(both.items.map((i) => [i.namespace, i.windowAvg])).toEqual([
      ['blog', 100],
      ['shop', (100 * (60 * MIN - 20_000)) / (120 * MIN)],
    ]);
  });

  it('bills a name re-created within the minute of its deletion from its creation on', async () => {
    const { guard, inner, ledger } = setup({ shop: { uid: 'u2', createdMs: T + 20_000 } });
    ledger.noteDeletion('shop', 'u1', T + 10_000);
    inner.coveredMs = 100_000;
    const summary = await guard.summary({
      from: T + 20_000,
      to: T + 2 * MIN,
      groupBy: { kind: 'namespace' },
      namespaces: ['shop'],
    });
    // The whole window from the creation is read: the new namespace's spans in the minute of the
    // deletion count (the old tenant's end at or before the deletion).
    expect(inner.asked).toEqual([{ kind: 'summary', from: T + 20_000, namespaces: ['shop'] }]);
    expect(summary.coverage.coveredMs).toBe(100_000);
  });

  it('forgets a deletion it saw once the settle time has passed', async () => {
    let now = T;
    const data = new FakeNamespaceData();
    const ledger = new NamespaceLedger({
      current: () => undefined,
      data,
      clock: { now: () => now },
      settleMs: 10 * MIN,
    });
    ledger.noteDeletion('shop', 'u1', T);
    expect((await ledger.incarnation('shop')).kind).toBe('gone');
    now = T + 11 * MIN;
    ledger.noteDeletion('blog', 'b1', now);
    expect((await ledger.incarnation('shop')).kind).toBe('unrestricted');
    expect((await ledger.incarnation('blog')).kind).toBe('gone');
  });

  it('ignores the tombstone of the namespace that exists now (same UID)', async () => {
    const { guard, inner, data } = setup({ shop: { uid: 'u2', createdMs: T } });
    await data.recordDeletion({ namespace: 'shop', uid: 'u2', deletedAt: new Date(T + MIN) });
    await guard.top({ metric: 'cpu', from: T - MIN, to: T + 10 * MIN, limit: 5, namespaces: ['shop'] });
    expect(inner.asked).toEqual([{ kind: 'top', from: T - MIN, namespaces: ['shop'] }]);
  });
});
