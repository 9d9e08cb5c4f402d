/**
 * Reports made once across replicas and leadership terms (e.g. one Event per OOM kill): a report
 * is claimed in the database before it is made, so a new leader does not make it again.
 */
import { MongoServerError, type Collection } from 'mongodb';

const DUPLICATE_KEY = 11000;

export interface ReportDoc {
  _id: string;
  time: Date;
  /** When the claim may be forgotten: pushed back every time the report comes up again. */
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
  /** Forgets the claims whose keep time has passed. */
  forgetExpired(now: number): Promise<void>;
}

/** The ledger in the store's `reports` collection. */
export class StoredReportLedger implements ReportLedger {
  constructor(private readonly reports: () => Promise<Collection<ReportDoc>>) {}

  async claim(key: string, now: number, keepMs: number): Promise<boolean> {
    try {
      const result = await (
        await this.reports()
      ).updateOne(
        { _id: key },
        { $max: { expireAt: new Date(now + keepMs) }, $setOnInsert: { time: new Date(now) } },
        { upsert: true },
      );
      return result.upsertedCount === 1;
    } catch (err) {
      // Another replica's upsert of the same key won the insert: the claim is theirs.
      if (err instanceof MongoServerError && err.code === DUPLICATE_KEY) return false;
      throw err;
    }
  }

  async release(key: string): Promise<void> {
    await (await this.reports()).deleteOne({ _id: key });
  }

  async forgetExpired(now: number): Promise<void> {
    await (await this.reports()).deleteMany({ expireAt: { $lte: new Date(now) } });
  }
}
