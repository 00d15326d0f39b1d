/** Keys remembered at once; a forgotten key logs again at its next event. */
const MAX_KEYS = 1024;

/**
 * One log line per key per interval, with the count of what was not logged
 * in between: a flood of refusals from one IP is visible without writing a
 * line per socket (the metric still counts every one).
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs = 10_000) {}

  /** The number of events suppressed since the last line when this one should be logged, else undefined. */
  admit(key: string, now = Date.now()): number | undefined {
    const e = this.last.get(key);
    if (e && now - e.at < this.intervalMs) {
      e.suppressed++;
      return undefined;
    }
    if (!e && this.last.size >= MAX_KEYS) this.last.delete(this.last.keys().next().value!);
    this.last.set(key, { at: now, suppressed: 0 });
    return e?.suppressed ?? 0;
  }
}
