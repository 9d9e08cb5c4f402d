/**
 * Reports made once across replicas and leadership terms (e.g. one Event per OOM kill): a report
 * is claimed in the database before it is made, so a new leader does not make it again.
 */
import { MongoServerError, type Collection } from 'mongodb';

const DUPLICATE_KEY = 11000;

export interface ReportDoc {
  _id: string;
  time: Date;
  /** When the claim may be forgotten: refreshed every time the report comes up again. */
  expireAt: Date;
}

export interface ReportLedger {
  /**
   * True when `key` had not been claimed (by any replica): the caller makes the report. A claim
   * is kept `keepMs` after the last time it was asked for, so a report whose cause stays
   * visible (a kill on a pod's status) stays made.
   */
  claim(key: string, now: number, keepMs: number): Promise<boolean>;
  /** Gives a claim up when its report could not be made: a later pass makes it. */
  release(key: string): Promise<void>;
}

/** The ledger in the store's `reports` collection. */
export class StoredReportLedger implements ReportLedger {
  constructor(private readonly reports: () => Promise<Collection<ReportDoc>>) {}

  async claim(key: string, now: number, keepMs: number): Promise<boolean> {
    const reports = await this.reports();
    const expireAt = new Date(now + keepMs);
    await reports.deleteMany({ expireAt: { $lte: new Date(now) } });
    try {
      await reports.insertOne({ _id: key, time: new Date(now), expireAt });
      return true;
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === DUPLICATE_KEY)) throw err;
      await reports.updateOne({ _id: key }, { $max: { expireAt } });
      return false;
    }
  }

  async release(key: string): Promise<void> {
    await (await this.reports()).deleteOne({ _id: key });
  }
}

/** A ledger of this process only (tests, and a store-less setup). */
export class MemoryReportLedger implements ReportLedger {
  private readonly claimed = new Map<string, number>();

  async claim(key: string, now: number, keepMs: number): Promise<boolean> {
    for (const [k, expireAt] of this.claimed) if (expireAt <= now) this.claimed.delete(k);
    const known = this.claimed.has(key);
    this.claimed.set(key, Math.max(this.claimed.get(key) ?? 0, now + keepMs));
    return !known;
  }

  async release(key: string): Promise<void> {
    this.claimed.delete(key);
  }
}
