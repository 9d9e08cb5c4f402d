/**
 * One cursor per series (pod UID and container name) for the whole process, shared by every
 * policy: what turns readings into exact increments. A reading is accounted once, by whichever
 * policy reads it first; a policy that reads it again (same timestamp) gets a zero span with the
 * current values. Two policies sampling the same container therefore add exact partial
 * increments of one series instead of competing series.
 *
 * Accounting rules (see docs/collection.md):
 * - CPU from a cumulative counter: the core-seconds of (previous reading, reading] are the exact
 *   counter difference, however long the span (a gap of missing readings included). A restart (a
 *   new start time: the source's, or the pod's status when the source gives none) credits the new
 *   counter, all used since the restart, over the span from the restart (from the previous
 *   reading when the restart time is unknown); the old instance's tail is unknowable and left
 *   uncovered rather than invented.
 * - A reading that cannot be true is skipped (a zero span, the cursor stays, `onSkipped` is told):
 *   a counter lower than the last one of an instance with an unchanged start time (a glitch, not a
 *   restart), or a counter difference above the span's length times the node's CPU capacity. The
 *   next good reading's difference covers the skipped time.
 * - The current CPU (`cpuCores`) is the rate between two readings of one instance: null on a
 *   series' first reading and on the first reading after a restart.
 * - CPU from a windowed rate (the metrics.k8s.io fallback): the rate stands for the time since the
 *   previous reading of the series when the gap is at most `maxRateGapMs` (else the window alone).
 *   Core-seconds credited this way are remembered, and when counters come back the counter
 *   difference since the last counter reading, less what the rates credited, is what is added:
 *   the total over the whole period stays the counter's.
 * - Memory (a gauge) integrated over each span by the trapezoid rule between the previous and
 *   the current working set; over a span whose start has no gauge (a container's first span
 *   from its start, a span from a restart) the current value is taken as constant. Over a span
 *   during which a cycle selecting the container got no reading of it (`missed`), the working set
 *   is unknown: the span's memory is null (not measured), not invented.
 * - The first reading of a series without a stored base is billed from the container's start
 *   (its counter counts from zero there) when the container started after the moment it was last
 *   known not to be selected (`selected`: the previous cycle of the policy that first listed it,
 *   the policy's creation, and the time up to which usage is accounted already: the store's
 *   newest reading for a new leadership term, the cursors' creation without one); otherwise the
 *   reading is only a base (a zero span), so nothing from before a policy selected the container
 *   (or that a previous leader already stored) is billed.
 */
import { containerSeriesKey, type Clock, type SeriesBase } from '../model.js';
import { rateIncrement } from '../sources/rate-weighting.js';
import type { ContainerReading, CpuCounterReading, CpuRateReading } from '../sources/readings.js';
import type { BaseSource } from './series-seeding.js';

/**
 * Where the cursors of a new leadership term start from (the store implements it): the last
 * stored reading of each series (a base is the last sample that accounted for a reading, a
 * non-null `cpuCoreSeconds` or a `cpuCoreSecondsTotal`; uptime-only samples are not readings),
 * and the time of the newest stored reading of any series.
 */
export interface SeriesBaseSource extends BaseSource<SeriesBase> {
  /**
   * What the store accounts up to: the time of its newest reading of any series, ms; undefined
   * when it has none. No stored reading covers any time of a container started after it.
   */
  lastReadingTime(): Promise<number | undefined>;
}

export type AdvanceKind =
  /** The counter difference of one container instance. */
  | 'delta'
  /** A new instance (start time changed, or counter went down): its counter since the restart. */
  | 'restart'
  /** The first reading of a container that started within collection: its counter since start. */
  | 'since-start'
  /** The first reading without a base: only the base of the next (zero span). */
  | 'base'
  /** A windowed rate, time-weighted. */
  | 'rate'
  /** A reading at or before the series' last one (another policy accounted for it): zero span. */
  | 'repeat'
  /** A reading that cannot be true (see SkipReason): not accounted, a zero span; the cursor stays. */
  | 'skipped';

/**
 * Why a reading was skipped: its counter went down while the instance's start time stayed
 * (`counter-decrease`), or its difference is more than the node's CPU could use in the span
 * (`above-capacity`).
 */
export type SkipReason = 'counter-decrease' | 'above-capacity';

/** What the cycle knows about a reading besides the reading itself. */
export interface ReadingContext {
  /** The instance's start time when the reading carries none (e.g. from the pod's status), ms. */
  startTime?: number;
  /** The CPU capacity of the reading's node, cores (its status); no bound when unknown. */
  nodeCpuCores?: number;
}

/** What one reading adds to its series, and the current values it shows. */
export interface SeriesAdvance {
  kind: AdvanceKind;
  /** Start of the span, ms since epoch; equal to `time` when it accounts for none. */
  from: number;
  /** The reading's own time, ms since epoch. */
  time: number;
  /** Core-seconds in [from, time]; null when the reading has no CPU. */
  cpuCoreSeconds: number | null;
  /** Working-set byte-seconds in [from, time]; null when the reading has no memory. */
  memoryByteSeconds: number | null;
  /** Current CPU in cores (the rate of the latest span); null until one is known. */
  cpuCores: number | null;
  /** Current working set in bytes; null when unknown. */
  memoryBytes: number | null;
  /** The counter at `time` (the base of the next increment), when the reading is a counter. */
  cpuCoreSecondsTotal?: number;
  containerStartTime?: number;
}

interface Cursor {
  /** End of the last accounted span: the time of the last reading taken. */
  time: number;
  /** The instance's start time, from the reading or else from the pod's status. */
  startTime?: number;
  /** The start time the source itself reported (the one restarts are told by). */
  sourceStartTime?: number;
  /** The last counter reading of the current instance (at or before `time`). */
  counter?: { total: number; time: number };
  /** Core-seconds credited from rates after `counter.time`. */
  creditedSinceCounter: number;
  /** Working set at `time`. */
  memoryBytes?: number;
  cpuCores: number | null;
  /** A cycle selecting the container got no reading of it since `time`. */
  missed?: boolean;
  /** The time of the last reading skipped (reported once, whichever policy reads it again). */
  skipped?: number;
}

/** What the last counter of a container name was, to recognise a counter kept per pod name. */
interface NamedCounter {
  podUid: string;
  total: number;
  time: number;
}

export interface SeriesCursorsOptions {
  clock: Clock;
  /** Rates stand for the gap before their window up to this long, ms. Default 5 min. */
  maxRateGapMs?: number;
  /** How long to remember a container name's last counter after its series was dropped, ms. Default 1 h. */
  nameMemoryMs?: number;
  /** Told of every reading skipped (a metric and a debug log). */
  onSkipped?: (reading: ContainerReading, reason: SkipReason, detail: SkipDetail) => void;
}

/** The numbers behind a skipped reading, for the log. */
export interface SkipDetail {
  /** The counter the series continues from, and the skipped reading's. */
  lastTotal: number;
  total: number;
  /** The span the reading would have accounted for, ms. */
  spanMs: number;
  /** The node's CPU capacity, cores (above-capacity only). */
  nodeCpuCores?: number;
}

/** The identity of a reading's series. */
export function readingKey(reading: Pick<ContainerReading, 'podUid' | 'container'>): string {
  return containerSeriesKey(reading.podUid, reading.container);
}

function nameOf(reading: Pick<ContainerReading, 'namespace' | 'pod' | 'container'>): string {
  return `${reading.namespace}/${reading.pod}/${reading.container}`;
}

const seconds = (ms: number) => ms / 1000;

/**
 * Whether two known start times are of different container instances. Sources round them
 * differently (the pod's status has whole seconds); a container cannot restart within 1 s.
 */
function differentStart(a: number | undefined, b: number | undefined): boolean {
  return a !== undefined && b !== undefined && Math.abs(a - b) >= 1000;
}

/** Byte-seconds over [from, to]: trapezoid from `before` (at from) to `after` (at to), else `after` flat. */
function memoryIntegral(before: number | undefined, after: number | undefined, from: number, to: number) {
  if (after === undefined) return null;
  const span = seconds(to - from);
  return before === undefined ? after * span : ((before + after) / 2) * span;
}

export class SeriesCursors {
  private readonly cursors = new Map<string, Cursor>();
  private readonly names = new Map<string, NamedCounter>();
  /** Per series first listed this term: the last moment it is known not to have been selected. */
  private readonly selectedAfter = new Map<string, number>();
  /** Series without a cursor yet whose readings were missed this term (their seeded base is before). */
  private readonly missedUnseeded = new Set<string>();
  /** Containers started at or after this (without a base) are billed from their start. */
  private notBefore: number;
  /** When the cursors were created or last reset. */
  private termStart: number;
  private readonly maxRateGapMs: number;
  private readonly nameMemoryMs: number;

  constructor(private readonly options: SeriesCursorsOptions) {
    this.termStart = this.notBefore = options.clock.now();
    this.maxRateGapMs = options.maxRateGapMs ?? 300_000;
    this.nameMemoryMs = options.nameMemoryMs ?? 3_600_000;
  }

  /**
   * Forgets every cursor (a new leadership term): the series continue from the bases given to
   * `seed`, and containers started from now on are billed from their start (from earlier once
   * `accountedUntil` says so).
   */
  reset(): void {
    this.cursors.clear();
    this.selectedAfter.clear();
    this.missedUnseeded.clear();
    this.termStart = this.notBefore = this.options.clock.now();
  }

  /**
   * The time up to which usage is accounted already (the store's newest reading): containers
   * started after it, or after the term began, are billed from their start. Called once per term,
   * before its first reading. Compared at whole seconds (the pod's status has start times rounded
   * down to the second): a container of that second that has a stored reading continues from it
   * as its base, and the store clips any span against what it has of the series.
   */
  accountedUntil(time: number): void {
    this.notBefore = Math.min(this.termStart, Math.floor(time / 1000) * 1000);
  }

  /**
   * A cycle lists the container among its policy's pods. The first time in a term, `notBefore`
   * is kept: the last moment the container is known not to have been selected (the previous
   * cycle of the policy, or its creation). Its first reading is billed from its start only when
   * it started after that (and after the term's horizon, see accountedUntil).
   */
  selected(key: string, notBefore: number): void {
    if (!this.selectedAfter.has(key)) this.selectedAfter.set(key, notBefore);
  }

  /**
   * A cycle selecting the container got no reading of it (node unreadable, a partial scrape, not
   * in the kubelet's stats yet): the working set over the span up to its next reading is unknown.
   */
  missed(key: string): void {
    const cursor = this.cursors.get(key);
    if (cursor !== undefined) cursor.missed = true;
    else this.missedUnseeded.add(key);
  }

  /** Whether the series has a cursor (a reading taken or a base seeded). */
  has(key: string): boolean {
    return this.cursors.has(key);
  }

  get size(): number {
    return this.cursors.size;
  }

  /** Continues a series from a stored base; a cursor that exists already wins (it is newer). */
  seed(key: string, base: SeriesBase): void {
    if (this.cursors.has(key)) return;
    const cursor: Cursor = { time: base.time, creditedSinceCounter: 0, cpuCores: null };
    if (base.containerStartTime !== undefined) {
      cursor.startTime = base.containerStartTime;
      cursor.sourceStartTime = base.containerStartTime;
    }
    if (base.cpuCoreSecondsTotal !== undefined)
      cursor.counter = { total: base.cpuCoreSecondsTotal, time: base.time };
    if (base.memoryBytes !== undefined) cursor.memoryBytes = base.memoryBytes;
    // Readings this term missed come after the stored base: its next span has missed ones.
    if (this.missedUnseeded.delete(key)) cursor.missed = true;
    this.cursors.set(key, cursor);
  }

  /**
   * Accounts for one reading. `context.startTime` is the container instance's start when the
   * reading does not carry one (e.g. from the pod's status). Undefined for a reading with neither
   * CPU nor memory.
   */
  advance(reading: ContainerReading, context: ReadingContext = {}): SeriesAdvance | undefined {
    const key = readingKey(reading);
    const cursor = this.cursors.get(key);
    const start = reading.startTime ?? context.startTime;
    const memory = reading.memoryWorkingSetBytes?.value;
    const cpu = reading.cpu;
    if (cpu === undefined) {
      const time = reading.memoryWorkingSetBytes?.time;
      if (time === undefined) return undefined;
      // A gauge alone does not advance the series (its CPU span would be unaccounted).
      return this.repeat(cursor, time, memory, start);
    }
    if (cursor !== undefined && cpu.time <= cursor.time) return this.repeat(cursor, cpu.time, memory, start);
    const advance =
      cpu.kind === 'counter'
        ? this.counter(key, reading, cursor, cpu, start, memory, context.nodeCpuCores)
        : this.rate(key, cursor, cpu, start, memory);
    if (start !== undefined) advance.containerStartTime = start;
    return advance;
  }

  /** Drops the cursors of pods that are gone, and name memories older than `nameMemoryMs`. */
  prune(live: (podUid: string) => boolean): void {
    for (const key of this.cursors.keys()) {
      const uid = key.slice(0, key.lastIndexOf('/'));
      if (!live(uid)) this.cursors.delete(key);
    }
    for (const key of this.selectedAfter.keys())
      if (!live(key.slice(0, key.lastIndexOf('/')))) this.selectedAfter.delete(key);
    for (const key of this.missedUnseeded)
      if (!live(key.slice(0, key.lastIndexOf('/')))) this.missedUnseeded.delete(key);
    const oldest = this.options.clock.now() - this.nameMemoryMs;
    for (const [name, named] of this.names) if (named.time < oldest) this.names.delete(name);
  }

  private repeat(
    cursor: Cursor | undefined,
    time: number,
    memory: number | undefined,
    start: number | undefined,
  ): SeriesAdvance {
    const advance: SeriesAdvance = {
      kind: 'repeat',
      from: time,
      time,
      cpuCoreSeconds: 0,
      memoryByteSeconds: 0,
      cpuCores: cursor?.cpuCores ?? null,
      memoryBytes: memory ?? cursor?.memoryBytes ?? null,
    };
    // The same reading again: it carries the same counter, so that any sample at this time is a base.
    if (cursor?.counter !== undefined && cursor.counter.time === time)
      advance.cpuCoreSecondsTotal = cursor.counter.total;
    const startTime = cursor?.startTime ?? start;
    if (startTime !== undefined) advance.containerStartTime = startTime;
    return advance;
  }

  private counter(
    key: string,
    reading: ContainerReading,
    cursor: Cursor | undefined,
    cpu: CpuCounterReading,
    start: number | undefined,
    memory: number | undefined,
    nodeCpuCores: number | undefined,
  ): SeriesAdvance {
    const { time } = cpu;
    const total = cpu.coreSecondsTotal;
    if (!Number.isFinite(total) || total < 0)
      throw new RangeError(`${readingKey(reading)}: counter ${total} is not a finite non-negative number`);
    /** Whether `coreSeconds` over [from, time] is within what the node's CPU can use. */
    const fits = (coreSeconds: number, from: number) =>
      nodeCpuCores === undefined || coreSeconds <= nodeCpuCores * seconds(time - from);
    const lastTotal = cursor?.counter?.total ?? 0;
    let kind: AdvanceKind = 'base';
    let from = time;
    let cpuCoreSeconds = 0;
    let memoryByteSeconds: number | null = memory === undefined ? null : 0;
    let cpuCores: number | null = null;
    const startedWithin = start !== undefined && start < time;
    if (cursor === undefined) {
      const billedFrom = Math.max(this.notBefore, this.selectedAfter.get(key) ?? -Infinity);
      if (startedWithin && start >= billedFrom && !this.continuesOtherPod(reading, total)) {
        if (fits(total, start)) {
          kind = 'since-start';
          from = start;
          cpuCoreSeconds = total;
          memoryByteSeconds = memoryIntegral(undefined, memory, from, time);
        } else this.told(reading, 'above-capacity', lastTotal, total, time - start, nodeCpuCores);
      }
    } else {
      const decreased = cursor.counter !== undefined && total < cursor.counter.total;
      // The source's start time tells a restart when it reports one (the pod's status lags and
      // has whole seconds). Without it, a counter that went down is a restart only when the
      // pod's status shows a new start time, or when no start time is known at all.
      const restarted =
        reading.startTime !== undefined && cursor.sourceStartTime !== undefined
          ? differentStart(cursor.sourceStartTime, reading.startTime)
          : decreased &&
            (start === undefined ||
              cursor.startTime === undefined ||
              differentStart(cursor.startTime, start));
      if (restarted) {
        const fromRestart = startedWithin && start > cursor.time;
        const restartFrom = fromRestart ? start : cursor.time;
        if (fits(total, restartFrom)) {
          kind = 'restart';
          from = restartFrom;
          cpuCoreSeconds = total;
          // Over a span from the previous reading after missed ones, the working set is unknown.
          memoryByteSeconds =
            cursor.missed && !fromRestart
              ? null
              : memoryIntegral(fromRestart ? undefined : cursor.memoryBytes, memory, from, time);
        } else this.told(reading, 'above-capacity', lastTotal, total, time - restartFrom, nodeCpuCores);
      } else if (decreased) {
        return this.skip(reading, cursor, time, memory, 'counter-decrease', {
          lastTotal,
          total,
          spanMs: time - cursor.time,
        });
      } else if (cursor.counter !== undefined) {
        // What rates credited since the last counter reading is part of the same difference.
        const difference = Math.max(0, total - cursor.counter.total - cursor.creditedSinceCounter);
        if (!fits(difference, cursor.time)) {
          const detail: SkipDetail = { lastTotal, total, spanMs: time - cursor.time };
          if (nodeCpuCores !== undefined) detail.nodeCpuCores = nodeCpuCores;
          return this.skip(reading, cursor, time, memory, 'above-capacity', detail);
        }
        kind = 'delta';
        from = cursor.time;
        cpuCoreSeconds = difference;
        memoryByteSeconds = cursor.missed ? null : memoryIntegral(cursor.memoryBytes, memory, from, time);
        cpuCores = cpuCoreSeconds / seconds(time - from);
      } else {
        // The series was on rates (or a base without a counter): this counter is a new base.
        cpuCores = cursor.cpuCores;
      }
    }
    const next: Cursor = { time, counter: { total, time }, creditedSinceCounter: 0, cpuCores };
    if (start !== undefined) next.startTime = start;
    const sourceStart = reading.startTime ?? cursor?.sourceStartTime;
    if (sourceStart !== undefined) next.sourceStartTime = sourceStart;
    if (memory !== undefined) next.memoryBytes = memory;
    this.cursors.set(key, next);
    this.missedUnseeded.delete(key);
    this.names.set(nameOf(reading), { podUid: reading.podUid, total, time });
    return {
      kind,
      from,
      time,
      cpuCoreSeconds,
      memoryByteSeconds,
      cpuCores,
      memoryBytes: memory ?? null,
      cpuCoreSecondsTotal: total,
    };
  }

  /** Reports a reading that cannot be true. */
  private told(
    reading: ContainerReading,
    reason: SkipReason,
    lastTotal: number,
    total: number,
    spanMs: number,
    nodeCpuCores: number | undefined,
  ): void {
    const detail: SkipDetail = { lastTotal, total, spanMs };
    if (nodeCpuCores !== undefined) detail.nodeCpuCores = nodeCpuCores;
    this.options.onSkipped?.(reading, reason, detail);
  }

  /**
   * A reading not accounted: a zero span without increments (nothing is known from it), showing
   * the working set read and the last known rate; the cursor stays where it was, so the next
   * good reading's difference covers the time.
   */
  private skip(
    reading: ContainerReading,
    cursor: Cursor,
    time: number,
    memory: number | undefined,
    reason: SkipReason,
    detail: SkipDetail,
  ): SeriesAdvance {
    if (cursor.skipped !== time) this.options.onSkipped?.(reading, reason, detail);
    cursor.skipped = time;
    return {
      kind: 'skipped',
      from: time,
      time,
      cpuCoreSeconds: null,
      memoryByteSeconds: null,
      cpuCores: cursor.cpuCores,
      memoryBytes: memory ?? null,
    };
  }

  /**
   * Whether a new pod's counter continues another pod's of the same name (kwok keeps its
   * counters per pod name): then it is not all this pod's, and the first reading is only a base.
   * A real kubelet's new container counts from zero, below the old pod's last counter.
   */
  private continuesOtherPod(reading: ContainerReading, total: number): boolean {
    const named = this.names.get(nameOf(reading));
    return named !== undefined && named.podUid !== reading.podUid && total >= named.total;
  }

  private rate(
    key: string,
    cursor: Cursor | undefined,
    cpu: CpuRateReading,
    start: number | undefined,
    memory: number | undefined,
  ): SeriesAdvance {
    const increment = rateIncrement(cursor?.time, cpu, { maxGapMs: this.maxRateGapMs });
    // rateIncrement is undefined only for a window not newer than the cursor, handled before.
    let from = increment?.from ?? cpu.time - cpu.windowMs;
    const restarted = differentStart(cursor?.startTime, start);
    // Nothing before the container's start (a new pod, a restart inside the gap).
    if (start !== undefined && start > from && start < cpu.time) from = start;
    const cpuCoreSeconds = cpu.cores * seconds(cpu.time - from);
    const contiguous = cursor !== undefined && from === cursor.time && !restarted;
    const next: Cursor = {
      time: cpu.time,
      creditedSinceCounter: 0,
      cpuCores: cpu.cores,
    };
    if (cursor?.counter !== undefined && !restarted) {
      next.counter = cursor.counter;
      next.creditedSinceCounter = cursor.creditedSinceCounter + cpuCoreSeconds;
    }
    if (start !== undefined) next.startTime = start;
    if (cursor?.sourceStartTime !== undefined && !restarted) next.sourceStartTime = cursor.sourceStartTime;
    if (memory !== undefined) next.memoryBytes = memory;
    this.cursors.set(key, next);
    this.missedUnseeded.delete(key);
    return {
      kind: 'rate',
      from,
      time: cpu.time,
      cpuCoreSeconds,
      memoryByteSeconds:
        contiguous && cursor?.missed
          ? null
          : memoryIntegral(contiguous ? cursor?.memoryBytes : undefined, memory, from, cpu.time),
      cpuCores: cpu.cores,
      memoryBytes: memory ?? null,
    };
  }
}
