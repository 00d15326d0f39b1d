import { formatDuration } from "./duration.js";

/** A Unix-ms time as ISO plus how long ago (or until); `zero` when the field is unset (0). */
export function formatTimestamp(ms: bigint, now: number, zero = "-"): string {
  if (ms === 0n) return zero;
  const at = Number(ms);
  const iso = new Date(at).toISOString();
  return at <= now ? `${iso} (${formatDuration(now - at)} ago)` : `${iso} (in ${formatDuration(at - now)})`;
}
