/**
 * At most one log line per key per window for a repeated event (a flooding
 * peer refused 1,000 times a second would otherwise fill the log): the first
 * time is logged, later ones are counted into the next line; the metric
 * still counts every one. Bounded: at `maxKeys`, keys whose window has
 * passed are forgotten, and if none has, all are (a new key is never
 * silenced).
 */
export class LogThrottle {
  private readonly keys = new Map<string, { at: number; unlogged: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 1024,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** undefined: stay quiet; a number: log now, saying how many were not logged since the last line. */
  tick(key: string): number | undefined {
    const now = this.now();
    const seen = this.keys.get(key);
    if (seen !== undefined && now - seen.at < this.windowMs) {
      seen.unlogged++;
      return undefined;
    }
    if (seen === undefined && this.keys.size >= this.maxKeys) this.forgetOld(now);
    this.keys.set(key, { at: now, unlogged: 0 });
    return seen?.unlogged ?? 0;
  }

  private forgetOld(now: number): void {
    for (const [k, s] of this.keys) if (now - s.at >= this.windowMs) this.keys.delete(k);
    if (this.keys.size >= this.maxKeys) this.keys.clear();
  }
}
