/**
 * A namespace's usage distributions over a window, per container series: the CPU and memory
 * histograms (histograms.ts) merged over the window as summaries merge their sums (whole
 * buckets, edges from the finer levels, the open tail from the raw readings), and, per peak
 * interval (UTC days by default), the series' measured time and memory peak (its highest
 * reading). What right-sizing is computed from; no Kubernetes here.
 */
import type { StoreCollections } from './connection.js';
import { BucketHistograms } from './histograms.js';
import { windowSeries, type ReadStats } from './queries.js';
import type { DistributionQuery, SeriesDistribution } from './types.js';

export const DAY_MS = 86_400_000;

export async function distributions(
  collections: StoreCollections,
  query: DistributionQuery,
  now: number,
  stats: ReadStats = { documentsRead: 0 },
): Promise<SeriesDistribution[]> {
  const intervalMs = query.peakIntervalMs ?? DAY_MS;
  const bySeries = new Map<string, SeriesDistribution>();
  for (let start = Math.floor(query.from / intervalMs) * intervalMs; start < query.to; start += intervalMs) {
    const a = Math.max(start, query.from);
    const b = Math.min(start + intervalMs, query.to);
    const { series } = await windowSeries(collections, a, b, { namespace: query.namespace }, now, stats);
    for (const window of series) {
      if (window.cpu.ms === 0 && window.memory.ms === 0 && window.count === 0) continue;
      let entry = bySeries.get(window.series);
      if (entry === undefined) {
        entry = {
          series: window.series,
          namespace: window.namespace,
          pod: window.pod,
          container: window.container,
          samples: 0,
          measuredMs: 0,
          histograms: new BucketHistograms(),
          intervals: [],
        };
        bySeries.set(window.series, entry);
      }
      entry.samples += window.memory.n;
      entry.measuredMs += window.cpu.ms;
      entry.histograms.merge(window.histograms);
      entry.intervals.push({
        start: a,
        end: b,
        measuredMs: window.cpu.ms,
        ...(window.memory.n > 0 && { memoryPeak: window.memory.max }),
        ...(window.cpu.n > 0 && { cpuPeak: window.cpu.max }),
      });
    }
  }
  return [...bySeries.values()].sort((x, y) => x.series.localeCompare(y.series));
}
