/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half is
 * random, so many nodes that lost the same peer do not redial in lockstep
 * while the delay still grows predictably. `failures` is the peer's
 * consecutive failure count (kept in the book, so it survives restarts).
 */
export function backoffDelayMs(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(40, Math.max(0, failures - 1)));
  return Math.round(base / 2 + (random() * base) / 2);
}
