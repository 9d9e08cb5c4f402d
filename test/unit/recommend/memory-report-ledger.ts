import type { ReportLedger } from '../../../operator/store/report-ledger.js';

/** The report ledger's contract in memory, for the loop's unit tests (the stored one runs in test/integration/store.test.ts). */
export class MemoryReportLedger implements ReportLedger {
  private readonly claimed = new Map<string, number>();

  async claim(key: string, now: number, keepMs: number): Promise<boolean> {
    const known = this.claimed.has(key);
    this.claimed.set(key, Math.max(this.claimed.get(key) ?? 0, now + keepMs));
    return !known;
  }

  async release(key: string): Promise<void> {
    this.claimed.delete(key);
  }

  async forgetExpired(now: number): Promise<void> {
    for (const [key, expireAt] of this.claimed) if (expireAt <= now) this.claimed.delete(key);
  }
}
