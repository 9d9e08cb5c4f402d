import { describe, expect, it } from '@jest/globals';
import { compareSummary, counterOrigin, overlap, UsageTruth } from '../../harness/usage-truth.js';

const GI = 2 ** 30;
const H = 3_600_000;
const TOLERANCES = { cpu: 1e-3, memory: 1e-9, coverage: 1e-3 };

describe('counterOrigin', () => {
  it('finds where a straight counter started, within the requests\u2019 intervals', () => {
    // 0.5 cores from t = 1000 ms; each scrape evaluated 3 ms into a 10 ms request.
    const scrapes = [5_000, 9_000, 20_000].map((t) => ({
      requestedAt: t - 3,
      receivedAt: t + 7,
      cpu: 0.5 * ((t - 1_000) / 1000),
    }));
    const { origin, uncertaintyMs } = counterOrigin(scrapes, 0.5);
    expect(Math.abs(origin - 1_000)).toBeLessThanOrEqual(uncertaintyMs);
    // Half the 10 ms request, plus half the 1 ms a whole-millisecond clock may put the end after receivedAt.
    expect(uncertaintyMs).toBe(5.5);
  });

  it('refuses a counter that is not rate x time', () => {
    const scrapes = [5_000, 9_000, 20_000].map((t, i) => ({
      requestedAt: t,
      receivedAt: t + 1,
      cpu: 0.5 * ((t - 1_000) / 1000) + (i === 2 ? 1 : 0),
    }));
    expect(() => counterOrigin(scrapes, 0.5, 'ns/a/app')).toThrow('ns/a/app: the counter is not rate x time');
    expect(() => counterOrigin(scrapes.slice(0, 2), 0.5)).toThrow('only 2 counter readings');
  });
});

describe('UsageTruth', () => {
  const truth = new UsageTruth()
    .add({
      namespace: 'n1',
      pod: 'a',
      container: 'app',
      labels: { team: 'x' },
      from: 0,
      to: H,
      cores: 0.5,
      bytes: GI,
    })
    .add({
      namespace: 'n1',
      pod: 'a',
      container: 'app',
      labels: { team: 'y' },
      from: H,
      to: 2 * H,
      cores: 0.5,
      bytes: GI,
    })
    // CPU known from later than memory (kwok's counter origin).
    .add({ namespace: 'n1', pod: 'b', container: 'app', from: H / 2, to: 2 * H, bytes: GI / 2 })
    .add({ namespace: 'n1', pod: 'b', container: 'app', from: H / 2 + 1_000, to: 2 * H, cores: 0.25 })
    .add({ namespace: 'n2', pod: 'a', container: 'app', from: 3 * H, to: 4 * H, cores: 1, bytes: GI });

  it('integrates rate x time per namespace, pod and label over any window', () => {
    expect(truth.summary(0, 2 * H, { namespace: 'n1' })).toEqual(
      new Map([['n1', { cpuCoreHours: 1 + 0.25 * (1.5 - 1 / 3600), memoryGiBHours: 2 + 0.75 }]]),
    );
    const pods = truth.summary(H / 2, H, { groupBy: 'pod' });
    expect(pods.get('n1/a')).toEqual({ cpuCoreHours: 0.25, memoryGiBHours: 0.5 });
    expect(pods.get('n1/b')!.cpuCoreHours).toBeCloseTo(0.25 * (0.5 - 1 / 3600), 12);
    expect(pods.has('n2/a')).toBe(false);
    const labels = truth.summary(0, 2 * H, { groupBy: 'label:team', namespace: 'n1' });
    expect(labels.get('x')).toEqual({ cpuCoreHours: 0.5, memoryGiBHours: 1 });
    expect(labels.get('y')).toEqual({ cpuCoreHours: 0.5, memoryGiBHours: 1 });
    expect(labels.get('')!.memoryGiBHours).toBeCloseTo(0.75, 12);
  });

  it('covers the time some container of the scope has known usage', () => {
    expect(truth.coveredMs(0, 4 * H)).toBe(3 * H);
    expect(truth.coveredMs(2.5 * H, 3.5 * H, 'n1')).toBe(0);
    expect(truth.coveredMs(-H, H / 2, 'n1')).toBe(H / 2);
    expect(overlap(0, 10, 5, 20)).toBe(5);
  });
});

describe('compareSummary', () => {
  const expected = new Map([
    ['a', { cpuCoreHours: 1, memoryGiBHours: 2 }],
    ['b', { cpuCoreHours: 0.5, memoryGiBHours: 1 }],
  ]);
  const answer = (
    items: { group: string; cpuCoreHours: number; memoryGiBHours: number }[],
    coveredMs = 1000,
  ) => ({
    coverage: { windowMs: 1000, coveredMs, ratio: coveredMs / 1000 },
    items,
  });

  it('passes figures within the tolerances, naming each group', () => {
    const result = compareSummary(
      'case x',
      answer(
        [
          { group: 'a', cpuCoreHours: 1.0009, memoryGiBHours: 2 },
          { group: 'b', cpuCoreHours: 0.5, memoryGiBHours: 1 },
        ],
        999.5,
      ),
      expected,
      1000,
      TOLERANCES,
    );
    expect(result.failures).toEqual([]);
    expect(result.lines[0]).toContain('case x [a]: cpu 1.0009000 vs truth 1.0000000 core-h (+0.090%)');
  });

  it('fails a group off by more, a group missing or extra, and coverage that differs', () => {
    const result = compareSummary(
      'case y',
      answer(
        [
          { group: 'a', cpuCoreHours: 1.01, memoryGiBHours: 2 },
          { group: 'c', cpuCoreHours: 0.1, memoryGiBHours: 0 },
        ],
        900,
      ),
      expected,
      1000,
      TOLERANCES,
    );
    expect(result.failures).toHaveLength(4);
    expect(result.failures[0]).toContain('case y [a]: cpu 1.0100000 vs truth 1.0000000 core-h (+1.000%)');
    expect(result.failures[1]).toContain('case y [b]: cpu 0.0000000 vs truth 0.5000000 core-h (-100.000%)');
    expect(result.failures[2]).toContain('case y [c]');
    expect(result.failures[3]).toBe(
      'case y coverage: 0.100 s uncovered of 1.000 s, truth 0.000 s (+10.000% of the window)',
    );
  });
});
