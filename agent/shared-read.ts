/**
 * Callers of /stats share reads of the node: one read at a time, and a read younger than the
 * minimum interval answers every request that comes within it.
 */
export class SharedRead<T extends { time: number }> {
  private last?: T;
  private pending?: Promise<T>;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly minIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    if (this.last && this.now() - this.last.time < this.minIntervalMs) return Promise.resolve(this.last);
    if (!this.pending) {
      this.pending = this.read()
        .then((value) => {
          this.last = value;
          return value;
        })
        .finally(() => {
          this.pending = undefined;
        });
    }
    return this.pending;
  }
}
