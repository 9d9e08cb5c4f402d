/**
 * A lane of deliveries: streams ready to deliver wait in one queue per namespace, and the lane
 * starts them round-robin over the namespaces, within its limit of deliveries in flight and,
 * when it has one, a limit per namespace (a namespace at its limit is skipped, keeping its
 * turn). A tenant whose receiver never answers so holds a bounded share of the lane, and the
 * others' deliveries go on.
 *
 * The dispatcher has one lane per kind of notifier (`Notifier.lane`): `local` for Kubernetes
 * Events, `http` for receivers over the network, each with its own limits, so that Events
 * never wait behind HTTP deliveries.
 */

/** The lanes a notifier may ask for; `http` when it names none. */
export type LaneName = 'local' | 'http';

export interface LaneLimits {
  /** Deliveries of the lane in flight at once. */
  concurrency: number;
  /** Deliveries of one namespace in flight at once; unbounded when absent. */
  concurrencyPerNamespace?: number;
}

export class Lane<S extends { namespace: string }> {
  /** Ready streams per namespace; Map order is the round-robin order. */
  private readonly queues = new Map<string, S[]>();
  private inFlight = 0;
  private readonly inFlightByNamespace = new Map<string, number>();

  constructor(
    readonly name: LaneName,
    private readonly limits: LaneLimits,
  ) {}

  /** A stream is ready to deliver its next notification. */
  push(stream: S): void {
    const queue = this.queues.get(stream.namespace);
    if (queue) queue.push(stream);
    else this.queues.set(stream.namespace, [stream]);
  }

  /**
   * Starts ready streams round-robin while the limits allow. `start` must count the delivery
   * in flight ({@link flight}) before it returns, so that the limits hold.
   */
  startReady(start: (stream: S) => void): void {
    const { concurrency, concurrencyPerNamespace } = this.limits;
    let progressed = true;
    while (this.inFlight < concurrency && this.queues.size > 0 && progressed) {
      progressed = false;
      for (const [namespace, queue] of [...this.queues]) {
        if (this.inFlight >= concurrency) break;
        if (
          concurrencyPerNamespace !== undefined &&
          (this.inFlightByNamespace.get(namespace) ?? 0) >= concurrencyPerNamespace
        )
          continue;
        const stream = queue.shift();
        // Served namespaces go to the back.
        this.queues.delete(namespace);
        if (queue.length > 0) this.queues.set(namespace, queue);
        if (!stream) continue;
        progressed = true;
        start(stream);
      }
    }
  }

  /** Counts a delivery of the namespace in flight (+1) or done (-1). */
  flight(namespace: string, delta: number): void {
    this.inFlight += delta;
    if (this.limits.concurrencyPerNamespace === undefined) return;
    const n = (this.inFlightByNamespace.get(namespace) ?? 0) + delta;
    if (n <= 0) this.inFlightByNamespace.delete(namespace);
    else this.inFlightByNamespace.set(namespace, n);
  }

  /** Forgets every ready stream (they will not be started). */
  clear(): void {
    this.queues.clear();
  }
}
