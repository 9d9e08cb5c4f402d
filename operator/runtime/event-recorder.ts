import { errorMessage, type Logger } from '../logging.js';
import { systemClock, type Clock } from '../model.js';
import { isNotFound } from './errors.js';

/** The object an Event is about. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

export type EventType = 'Normal' | 'Warning';

/** A core/v1 Event as the recorder writes it; times in ms since the epoch. */
export interface EventRecord {
  /** The Event object's own name, unique in its namespace. */
  name: string;
  involvedObject: InvolvedObject;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  firstTimestampMs: number;
  lastTimestampMs: number;
  component: string;
  /** The replica that reports it (pod name). */
  instance: string;
}

/** Writes Events. `updateSeries` must reject with 404 when the Event has expired. */
export interface EventSink {
  create(event: EventRecord): Promise<void>;
  updateSeries(event: EventRecord): Promise<void>;
}

export interface EventRecorderOptions {
  sink: EventSink;
  component: string;
  instance: string;
  logger: Logger;
  clock?: Clock;
  /** Events one object may emit in a burst. Default 25 (client-go's spam filter). */
  burst?: number;
  /** One more event per object is allowed every this many ms. Default 5 min. */
  refillIntervalMs?: number;
  /** How many distinct events are remembered for de-duplication. Default 4096. */
  cacheSize?: number;
}

interface SeriesEntry {
  event: EventRecord;
  /** The last write of this series; the next one waits for it, so a series is created once. */
  written: Promise<void>;
}

interface Bucket {
  tokens: number;
  refilledAtMs: number;
  /** Whether the object is currently being throttled (logged once per episode). */
  throttled: boolean;
}

/**
 * Records Kubernetes Events, best effort: it never throws at the caller. A repeat of the same
 * (object, type, reason, message) updates the existing Event's count and lastTimestamp instead
 * of creating a new one. Each object has a token bucket so that a flapping object cannot flood
 * the apiserver; throttled events are dropped and logged once per episode.
 */
export class EventRecorder {
  private readonly clock: Clock;
  private readonly burst: number;
  private readonly refillIntervalMs: number;
  private readonly cacheSize: number;
  private readonly series = new Map<string, SeriesEntry>();
  private readonly buckets = new Map<string, Bucket>();
  private sequence = 0;

  constructor(private readonly options: EventRecorderOptions) {
    this.clock = options.clock ?? systemClock;
    this.burst = options.burst ?? 25;
    this.refillIntervalMs = options.refillIntervalMs ?? 5 * 60_000;
    this.cacheSize = options.cacheSize ?? 4096;
  }

  /** Records the event; the promise settles when it is written (or given up), and never rejects. */
  record(object: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    const objectKey = [object.namespace, object.kind, object.name, object.uid ?? ''].join('/');
    if (!this.takeToken(objectKey, object)) return Promise.resolve();
    const now = this.clock.now();
    const key = [objectKey, type, reason, message].join('\u0000');
    const entry = this.series.get(key);
    if (entry) {
      remember(this.series, key, entry, this.cacheSize);
      entry.written = entry.written.then(() => this.repeat(entry, now));
      return entry.written;
    }
    const event = this.newEvent(object, type, reason, message, now);
    const created: SeriesEntry = { event, written: this.create(event) };
    remember(this.series, key, created, this.cacheSize);
    return created.written;
  }

  private newEvent(
    object: InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
    now: number,
  ): EventRecord {
    const { component, instance } = this.options;
    // Like client-go: the object's name and a unique hexadecimal suffix.
    const name = `${object.name}.${(now * 1000 + (this.sequence++ % 1000)).toString(16)}`;
    return {
      name,
      involvedObject: object,
      type,
      reason,
      message,
      count: 1,
      firstTimestampMs: now,
      lastTimestampMs: now,
      component,
      instance,
    };
  }

  private async create(event: EventRecord): Promise<void> {
    try {
      await this.options.sink.create(event);
    } catch (err) {
      this.writeFailed(event, err);
    }
  }

  private async repeat(entry: SeriesEntry, now: number): Promise<void> {
    entry.event = { ...entry.event, count: entry.event.count + 1, lastTimestampMs: now };
    try {
      await this.options.sink.updateSeries(entry.event);
    } catch (err) {
      if (!isNotFound(err)) return this.writeFailed(entry.event, err);
      // The Event expired on the server (1 h TTL by default): start a new series.
      const { involvedObject, type, reason, message } = entry.event;
      entry.event = this.newEvent(involvedObject, type, reason, message, now);
      await this.create(entry.event);
    }
  }

  private writeFailed(event: EventRecord, err: unknown): void {
    const { namespace, name, kind } = event.involvedObject;
    this.options.logger.warn('could not write event', {
      namespace,
      name,
      kind,
      reason: event.reason,
      error: errorMessage(err),
    });
  }

  private takeToken(objectKey: string, object: InvolvedObject): boolean {
    const now = this.clock.now();
    const bucket = this.buckets.get(objectKey) ?? { tokens: this.burst, refilledAtMs: now, throttled: false };
    const refills = Math.floor((now - bucket.refilledAtMs) / this.refillIntervalMs);
    bucket.tokens = Math.min(this.burst, bucket.tokens + refills);
    bucket.refilledAtMs =
      bucket.tokens === this.burst ? now : bucket.refilledAtMs + refills * this.refillIntervalMs;
    remember(this.buckets, objectKey, bucket, this.cacheSize);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.throttled = false;
      return true;
    }
    if (!bucket.throttled) {
      bucket.throttled = true;
      const { namespace, name, kind } = object;
      this.options.logger.warn('too many events for this object; dropping some', { namespace, name, kind });
    }
    return false;
  }
}

/** Sets the key as the most recently used and evicts the least recently used beyond `limit`. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value!);
}
