/**
 * Holds samples in memory while the store is unreachable and writes them, in order, when it is
 * back. Bounded by series, not by time: past its capacity, consecutive samples of each series are
 * merged into one over both spans (sample-merge.ts: usage and billing exact, resolution lost),
 * halving the buffer, as often as an outage needs. Only what cannot be merged exactly (more
 * series than the capacity, spans that do not meet, such as a container restarting every cycle)
 * is dropped, oldest first. Merged and dropped samples are counted (metrics, a log line per
 * outage, dropped per policy for the policy's condition). Store failures never reach the caller.
 */
import type { Logger } from '../logging.js';
import { errorMessage } from '../logging.js';
import type { OperatorMetrics } from '../metrics.js';
import type { Clock, ContainerSample, ObjectKey } from '../model.js';
import { halveSeries } from './sample-merge.js';
import type { SampleWriter, WriteOutcome } from './types.js';

export interface OutageBufferOptions {
  /** Samples held at most: default ten minutes of 10,000 containers at a 30 s interval. */
  capacity?: number;
  /** Pause between attempts to write the buffer while the store is unreachable. */
  retryIntervalMs?: number;
  /** Samples per write when catching up. */
  flushBatchSize?: number;
}

export const DEFAULT_OUTAGE_BUFFER_CAPACITY = 200_000;

export interface OutageBufferDeps {
  logger: Logger;
  metrics: OperatorMetrics;
  clock: Clock;
}

/** What a policy's condition shows about the store. */
export interface OutageStatus {
  /** False from a failed write until everything buffered is written. */
  storeAvailable: boolean;
  buffered: number;
  droppedTotal: number;
  /** Samples merged into the span of the next one of their series since the operator started. */
  mergedTotal: number;
  /** When the current outage began, ms since epoch. */
  outageSince?: number;
  lastError?: string;
}

export class OutageBuffer implements SampleWriter {
  readonly capacity: number;
  private readonly retryIntervalMs: number;
  private readonly flushBatchSize: number;
  /** Buffered samples, oldest first: chunks as written, `head` samples of the first already gone. */
  private readonly chunks: ContainerSample[][] = [];
  private head = 0;
  private size = 0;
  /** Samples taken out of the buffer by a write in flight. */
  private inFlight = 0;
  private draining: Promise<boolean> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private outage:
    | {
        since: number;
        lastError: string;
        droppedAtStart: number;
        mergedAtStart: number;
        dropLogged: boolean;
        mergeLogged: boolean;
      }
    | undefined;
  private dropped = 0;
  private merged = 0;
  /** Samples of a write that failed: it may have stored some, so they are written as they are. */
  private readonly attempted = new WeakSet<ContainerSample>();
  private readonly droppedByPolicy = new Map<ObjectKey, number>();

  constructor(
    private readonly store: SampleWriter,
    private readonly deps: OutageBufferDeps,
    options: OutageBufferOptions = {},
  ) {
    this.capacity = positive('capacity', options.capacity ?? DEFAULT_OUTAGE_BUFFER_CAPACITY);
    this.retryIntervalMs = positive('retryIntervalMs', options.retryIntervalMs ?? 5_000);
    this.flushBatchSize = positive('flushBatchSize', options.flushBatchSize ?? 10_000);
  }

  get droppedTotal(): number {
    return this.dropped;
  }

  get mergedTotal(): number {
    return this.merged;
  }

  /** Samples of the policy dropped since the operator started. */
  droppedFor(policy: ObjectKey): number {
    return this.droppedByPolicy.get(policy) ?? 0;
  }

  status(): OutageStatus {
    const status: OutageStatus = {
      storeAvailable: this.outage === undefined,
      buffered: this.size + this.inFlight,
      droppedTotal: this.dropped,
      mergedTotal: this.merged,
    };
    if (this.outage) {
      status.outageSince = this.outage.since;
      status.lastError = this.outage.lastError;
    }
    return status;
  }

  /**
   * Writes the samples, or buffers them when the store fails or older samples are still waiting
   * (order is kept). Never rejects because of the store.
   */
  async write(samples: ContainerSample[]): Promise<WriteOutcome> {
    if (samples.length === 0) return { written: 0, buffered: 0, dropped: 0 };
    if (this.outage === undefined && this.size + this.inFlight === 0) {
      try {
        return await this.store.write(samples);
      } catch (err) {
        for (const sample of samples) this.attempted.add(sample);
        this.beginOutage(err);
      }
    }
    const dropped = this.enqueue(samples);
    this.scheduleRetry();
    return { written: 0, buffered: Math.min(samples.length, this.size), dropped };
  }

  /**
   * Writes everything buffered now, oldest first; resolves true when the buffer is empty. Runs
   * by itself on a timer during an outage.
   */
  flush(): Promise<boolean> {
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
    return this.draining;
  }

  /** Stops retrying; makes one last attempt and logs what remains unwritten. */
  async close(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!(await this.flush())) {
      this.deps.logger.warn('store unavailable at shutdown; buffered samples are lost', {
        samples: this.size + this.inFlight,
      });
    }
  }

  private async drain(): Promise<boolean> {
    // During an outage the first write is the oldest sample alone: a failed write may have stored
    // part of its batch, so its samples are kept as they are (never merged), and only this one is.
    let probing = this.outage !== undefined;
    while (this.size > 0) {
      const batch = this.take(probing ? 1 : this.flushBatchSize);
      this.inFlight = batch.length;
      try {
        await this.store.write(batch);
        this.inFlight = 0;
        probing = false;
      } catch (err) {
        this.inFlight = 0;
        this.putBack(batch);
        this.beginOutage(err);
        this.scheduleRetry();
        return false;
      } finally {
        this.deps.metrics.samplesBuffered.set(this.size + this.inFlight);
      }
    }
    this.endOutage();
    return true;
  }

  private beginOutage(err: unknown): void {
    const lastError = errorMessage(err);
    if (this.outage) {
      this.outage.lastError = lastError;
      return;
    }
    this.outage = {
      since: this.deps.clock.now(),
      lastError,
      droppedAtStart: this.dropped,
      mergedAtStart: this.merged,
      dropLogged: false,
      mergeLogged: false,
    };
    this.deps.logger.warn('store unavailable; buffering samples in memory', {
      error: lastError,
      capacity: this.capacity,
    });
  }

  private endOutage(): void {
    if (this.outage === undefined) return;
    this.deps.logger.info('store available again; buffered samples written', {
      outageSeconds: Math.round((this.deps.clock.now() - this.outage.since) / 1000),
      dropped: this.dropped - this.outage.droppedAtStart,
      merged: this.merged - this.outage.mergedAtStart,
    });
    this.outage = undefined;
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, this.retryIntervalMs);
    this.retryTimer.unref();
  }

  /** Appends; beyond capacity merges, then drops the oldest. Returns how many were dropped. */
  private enqueue(samples: ContainerSample[]): number {
    this.chunks.push([...samples]);
    this.size += samples.length;
    if (this.size + this.inFlight > this.capacity) this.compact();
    const dropped = this.dropOldest(this.size + this.inFlight - this.capacity);
    this.deps.metrics.samplesBuffered.set(this.size + this.inFlight);
    return dropped;
  }

  /**
   * Merges consecutive samples of each series (halving their number) until the buffer is down to
   * half its capacity or nothing more merges: room for the next samples without merging on every
   * write. The samples stay in time order (each series' order kept).
   */
  private compact(): void {
    let samples: ContainerSample[] = [];
    for (const [i, chunk] of this.chunks.entries()) {
      for (let j = i === 0 ? this.head : 0; j < chunk.length; j++) samples.push(chunk[j] as ContainerSample);
    }
    const before = samples.length;
    for (;;) {
      const halved = halveSeries(samples, this.attempted);
      samples = halved.samples;
      if (halved.removed === 0 || samples.length + this.inFlight <= this.capacity / 2) break;
    }
    this.chunks.length = 0;
    this.head = 0;
    if (samples.length > 0) this.chunks.push(samples);
    this.size = samples.length;
    const merged = before - samples.length;
    if (merged === 0) return;
    this.merged += merged;
    this.deps.metrics.samplesMerged.inc(merged);
    if (this.outage && !this.outage.mergeLogged) {
      this.outage.mergeLogged = true;
      this.deps.logger.warn(
        'outage buffer full; merging consecutive samples of each series (usage kept, resolution lost)',
        {
          capacity: this.capacity,
        },
      );
    }
  }

  private dropOldest(excess: number): number {
    let dropped = 0;
    while (dropped < excess && this.size > 0) {
      const chunk = this.chunks[0] as ContainerSample[];
      const count = Math.min(excess - dropped, chunk.length - this.head);
      for (let i = this.head; i < this.head + count; i++) {
        const policy = (chunk[i] as ContainerSample).policy;
        this.droppedByPolicy.set(policy, (this.droppedByPolicy.get(policy) ?? 0) + 1);
      }
      this.advance(count);
      dropped += count;
    }
    if (dropped === 0) return 0;
    this.dropped += dropped;
    this.deps.metrics.samplesDropped.inc(dropped);
    if (this.outage && !this.outage.dropLogged) {
      this.outage.dropLogged = true;
      this.deps.logger.warn('outage buffer full; dropping the oldest samples', { capacity: this.capacity });
    }
    return dropped;
  }

  /** Takes up to `max` of the oldest samples out of the buffer. */
  private take(max: number): ContainerSample[] {
    const batch: ContainerSample[] = [];
    while (batch.length < max && this.size > 0) {
      const chunk = this.chunks[0] as ContainerSample[];
      const count = Math.min(max - batch.length, chunk.length - this.head);
      batch.push(...chunk.slice(this.head, this.head + count));
      this.advance(count);
    }
    return batch;
  }

  /** Returns a failed batch to the front, then trims to capacity (dropping from it first). */
  private putBack(batch: ContainerSample[]): void {
    if (this.head > 0) {
      this.chunks[0] = (this.chunks[0] as ContainerSample[]).slice(this.head);
      this.head = 0;
    }
    this.chunks.unshift(batch);
    this.size += batch.length;
    for (const sample of batch) this.attempted.add(sample);
    if (this.size > this.capacity) this.compact();
    this.dropOldest(this.size - this.capacity);
  }

  private advance(count: number): void {
    this.head += count;
    this.size -= count;
    if (this.head === (this.chunks[0] as ContainerSample[]).length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}

function positive(field: string, value: number): number {
  if (!(Number.isInteger(value) && value > 0))
    throw new RangeError(`${field} must be a positive integer, got ${value}`);
  return value;
}
