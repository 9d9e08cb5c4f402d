/**
 * Merging consecutive samples of one series into one sample over both spans, exactly: what the
 * outage buffer does when it is full, so that a long outage of the store costs resolution, never
 * usage. Pure: no I/O.
 *
 * Two samples of a series merge when the later one's span starts where the earlier one's ends
 * (the collector's spans are contiguous, except across a restart or a reading the store must
 * clip). The merged sample spans [first's from, last's time]; its CPU core-seconds and memory
 * byte-seconds are the sums; what it bills is the sum of what each bills (max(request x span,
 * usage) per sample), so billing is exact whatever the rates and requests; I/O (over the agents'
 * own spans) is the one of either sample, or both added when their spans meet; everything read at an instant (the gauges, the counter
 * total, requests, labels, retention, policy) is the later sample's.
 *
 * What is lost is resolution: within the merged span usage is taken as constant, so a bucket or
 * window edge inside it gets its share by time, and history counts one reading for the span.
 * A sample that accounts for nothing (an empty span without I/O: uptime only, or a reading
 * another policy had accounted) carries only history's values and is left out.
 */
import type { ContainerSample } from '../model.js';
import { mergeIoReadings } from './io-counters.js';
import { seriesKey } from './snapshots.js';
import { billedOf, spanOf } from './spans.js';

/** True when the sample accounts for no time and no I/O. */
export function accountsForNothing(sample: ContainerSample): boolean {
  const span = spanOf(sample);
  return span.to === span.from && sample.io === undefined;
}

/**
 * The one sample over `first` and then `second` (both of one series, `second` later), or
 * undefined when they cannot be merged exactly (not contiguous, a metric measured in one and not
 * the other, I/O spans that do not meet).
 */
export function mergeSamples(first: ContainerSample, second: ContainerSample): ContainerSample | undefined {
  const a = spanOf(first);
  const b = spanOf(second);
  if (b.from !== a.to || !(b.to > b.from) || !(a.to > a.from)) return undefined;
  if ((a.cpu === null) !== (b.cpu === null) || (a.memory === null) !== (b.memory === null)) return undefined;
  // I/O has spans of its own (the agents' readings): one of the two, or both when they meet.
  let io = second.io ?? first.io;
  if (first.io !== undefined && second.io !== undefined) {
    io = mergeIoReadings(first.io, second.io);
    if (io === undefined) return undefined;
  }
  const aMs = a.to - a.from;
  const bMs = b.to - b.from;
  const merged: ContainerSample = {
    ...second,
    from: a.from,
    cpuCoreSeconds: a.cpu === null || b.cpu === null ? null : (a.cpu + b.cpu) / 1000,
    memoryByteSeconds: a.memory === null || b.memory === null ? null : a.memory + b.memory,
    cpuCoreSecondsBilled:
      (billedOf(a.cpu, first.cpuRequestMillicores, aMs, a.cpuBilled) +
        billedOf(b.cpu, second.cpuRequestMillicores, bMs, b.cpuBilled)) /
      1000,
    memoryByteSecondsBilled:
      billedOf(a.memory, first.memoryRequestBytes, aMs, a.memoryBilled) +
      billedOf(b.memory, second.memoryRequestBytes, bMs, b.memoryBilled),
  };
  if (io === undefined) delete merged.io;
  else merged.io = io;
  return merged;
}

/**
 * Halves the samples of every series where it can: drops those that account for nothing (a
 * series' latest sample stays), then merges consecutive pairs (by time) that can be merged.
 * `pinned` samples are neither merged nor dropped (a write of them may have been stored in part).
 * Returns the samples in time order (a series' order kept) and how many fewer there are.
 */
export function halveSeries(
  samples: readonly ContainerSample[],
  pinned: { has(sample: ContainerSample): boolean } = new Set(),
): { samples: ContainerSample[]; removed: number } {
  const bySeries = new Map<string, ContainerSample[]>();
  for (const sample of samples) {
    const key = seriesKey(sample);
    let list = bySeries.get(key);
    if (list === undefined) bySeries.set(key, (list = []));
    list.push(sample);
  }
  const result: ContainerSample[] = [];
  for (const list of bySeries.values()) {
    list.sort((x, y) => x.time - y.time);
    const kept = list.filter((s, i) => i === list.length - 1 || pinned.has(s) || !accountsForNothing(s));
    for (let i = 0; i < kept.length; i++) {
      const first = kept[i] as ContainerSample;
      const second = kept[i + 1];
      const merged =
        second === undefined || pinned.has(first) || pinned.has(second)
          ? undefined
          : mergeSamples(first, second);
      if (merged === undefined) result.push(first);
      else {
        result.push(merged);
        i++;
      }
    }
  }
  result.sort((x, y) => x.time - y.time);
  return { samples: result, removed: samples.length - result.length };
}
