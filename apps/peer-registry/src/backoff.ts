/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half is
 * random, so many nodes that lost the same peer do not redial in lockstep
 * while the delay still grows predictably.
 */
export class ExponentialBackoff {
  failures = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt, after `failures` failures. */
  nextDelayMs(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** Math.max(0, this.failures - 1));
    return Math.round(base / 2 + (this.random() * base) / 2);
  }

  fail(): void {
    this.failures = Math.min(this.failures + 1, 64);
  }

  reset(): void {
    this.failures = 0;
  }
}
