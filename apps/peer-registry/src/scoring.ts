import { OffenceKind, Severity } from "@timenet/proto";
import type { ScorePolicy } from "./options.js";

/**
 * A score decays exponentially towards 0 (a peer's old offences fade), from
 * `score` computed at `atMs`.
 */
export function decayedScore(score: number, atMs: number, nowMs: number, halfLifeMs: number): number {
  if (score === 0 || nowMs <= atMs) return score;
  const s = score * 0.5 ** ((nowMs - atMs) / halfLifeMs);
  return Math.abs(s) < 0.01 ? 0 : s;
}

/** What an offence costs: fatal ones ban at once, the others lower the score by their grade. */
export function penaltyFor(severity: Severity, p: ScorePolicy): number | "ban" {
  switch (severity) {
    case Severity.FATAL:
      return "ban";
    case Severity.MID:
      return p.midPenalty;
    default:
      return p.lowPenalty;
  }
}

/** The nth ban (0-based) lasts base * 2^n, capped. */
export function banDurationMs(priorBans: number, p: ScorePolicy): number {
  return Math.min(p.banMaxMs, p.banBaseMs * 2 ** Math.min(30, priorBans));
}

/** `OFFENCE_KIND_WRONG_GENESIS` -> `wrong_genesis`: the reason label of bans and offences. */
export function offenceLabel(kind: OffenceKind): string {
  return (OffenceKind[kind] ?? "UNSPECIFIED").toLowerCase();
}

export function severityLabel(s: Severity): string {
  return (Severity[s] ?? "UNSPECIFIED").toLowerCase();
}
