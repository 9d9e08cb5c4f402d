import { errorMessage, type Logger } from '../logging.js';
import type { UsageMetric } from '../store/types.js';

/** A container's new usage sample, as the collector wrote it. Times are ms since epoch. */
export interface SnapshotEvent {
  type: 'snapshot';
  namespace: string;
  pod: string;
  container: string;
  time: number;
  cpuMillicores: number | null;
  memoryBytes: number | null;
}

/** A ResourceAlert target that started or stopped firing. */
export interface AlertEvent {
  type: 'alert';
  namespace: string;
  /** The ResourceAlert's name. */
  name: string;
  transition: 'fired' | 'resolved';
  /** `pod/container`, or `pod` for scope: pod. */
  target: string;
  metric: UsageMetric;
  /** Millicores or bytes; null when the transition came from missing data. */
  value: number | null;
  threshold: number | null;
  time: number;
}

export type UsageEvent = SnapshotEvent | AlertEvent;

export type UsageEventListener = (event: UsageEvent) => void;

/**
 * In-process publish/subscribe from the collector and the alert evaluator to the event
 * stream. Publishing never throws and never waits: a failing listener is logged and skipped.
 */
export class EventBus {
  private readonly listeners = new Set<UsageEventListener>();

  constructor(private readonly logger: Logger) {}

  get subscribers(): number {
    return this.listeners.size;
  }

  publish(event: UsageEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error('event listener failed', { type: event.type, error: errorMessage(err) });
      }
    }
  }

  /** Returns the function that unsubscribes. */
  subscribe(listener: UsageEventListener): () => void {
    const own = (event: UsageEvent) => listener(event);
    this.listeners.add(own);
    return () => this.listeners.delete(own);
  }
}
