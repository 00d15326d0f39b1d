/** Blocks per second over a sliding window of tip samples (for Status and ETA). */
export class SyncProgress {
  private readonly samples: Array<{ at: number; height: number }> = [];

  constructor(private readonly windowMs = 10_000) {}

  record(height: number, at = Date.now()): void {
    this.samples.push({ at, height });
    while (this.samples.length > 2 && this.samples[0]!.at < at - this.windowMs) this.samples.shift();
  }

  blocksPerSecond(now = Date.now()): number {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at === first.at || now - last.at > this.windowMs) return 0;
    return ((last.height - first.height) * 1000) / (last.at - first.at);
  }
}
