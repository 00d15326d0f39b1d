/**
 * An attack thread's byte bound: every write takes from it first, and once it
 * is spent the attack stops sending (as it does at its deadline), so a run is
 * bounded in bytes as well as in time.
 */
export class ByteBudget {
  private left: number;

  constructor(readonly limit: number) {
    this.left = limit;
  }

  /** Takes n bytes; false (nothing taken) when fewer than n are left. */
  take(n: number): boolean {
    if (n > this.left) {
      this.left = 0;
      return false;
    }
    this.left -= n;
    return true;
  }

  get spent(): boolean {
    return this.left <= 0;
  }
}
