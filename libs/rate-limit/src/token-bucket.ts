/** A sustained rate with a burst allowance: `count` per `periodMs`, up to `burst` at once. */
export interface Rate {
  count: number;
  periodMs: number;
  burst: number;
}

/**
 * A token bucket: refills continuously at the rate, holds at most `burst`
 * tokens. Time is passed in, so one bucket costs two numbers and no timer.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private readonly perMs: number;

  constructor(
    private readonly rate: Rate,
    now = Date.now(),
  ) {
    this.perMs = rate.count / rate.periodMs;
    this.tokens = rate.burst;
    this.updatedAt = now;
  }

  /** Takes n tokens if there are enough; false (and nothing taken) otherwise. */
  take(n = 1, now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /**
   * Spends n tokens whether or not they are there (for what has already
   * happened: bytes already read), going into debt; returns how long until
   * the debt is repaid, in milliseconds (0 while there was enough). What is
   * spent in debt still counts, so pausing for that long keeps the sustained
   * rate exact; a failed take() would have let those tokens through free.
   */
  spend(n: number, now = Date.now()): number {
    this.refill(now);
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.perMs);
  }

  /** Tokens available now (refilled). */
  available(now = Date.now()): number {
    this.refill(now);
    return this.tokens;
  }

  private refill(now: number): void {
    if (now > this.updatedAt) {
      this.tokens = Math.min(this.rate.burst, this.tokens + (now - this.updatedAt) * this.perMs);
      this.updatedAt = now;
    }
  }
}

/** "20/s:200", "1/10s:5", "100/m" (burst defaults to count): the form used in configuration. */
export function parseRate(raw: string): Rate {
  const m = /^(\d+(?:\.\d+)?)\/(\d*(?:\.\d+)?)(ms|s|m|h)(?::(\d+))?$/.exec(raw.trim());
  if (!m) throw new Error(`"${raw}" is not a rate such as 20/s:200 (count/period:burst)`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[3] as "ms" | "s" | "m" | "h"];
  const count = Number(m[1]);
  const periodMs = (m[2] === "" ? 1 : Number(m[2])) * unit;
  const burst = m[4] === undefined ? Math.max(1, Math.ceil(count)) : Number(m[4]);
  if (count <= 0 || periodMs <= 0 || burst < 1) throw new Error(`"${raw}" must have a positive count, period and burst`);
  return { count, periodMs, burst };
}

export function formatRate(r: Rate): string {
  const period = r.periodMs % 3_600_000 === 0 ? `${r.periodMs / 3_600_000 === 1 ? "" : r.periodMs / 3_600_000}h`
    : r.periodMs % 60_000 === 0 ? `${r.periodMs / 60_000 === 1 ? "" : r.periodMs / 60_000}m`
    : r.periodMs % 1_000 === 0 ? `${r.periodMs / 1_000 === 1 ? "" : r.periodMs / 1_000}s`
    : `${r.periodMs}ms`;
  return `${r.count}/${period}:${r.burst}`;
}
