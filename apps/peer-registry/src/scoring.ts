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

/**
 * The one table of offence grades: reporters send only the kind, the
 * registry (the only judge) grades it. Fatal: proof of another chain or a
 * forged identity. Mid (low tolerance): malformed or invalid data. Low (high
 * tolerance): what a bad link or a busy peer can cause, and any kind this
 * build does not know (a newer reporter).
 */
const GRADES = new Map<OffenceKind, Severity>([
  [OffenceKind.WRONG_GENESIS, Severity.FATAL],
  [OffenceKind.WRONG_NETWORK, Severity.FATAL],
  [OffenceKind.BAD_SIGNATURE, Severity.FATAL],
  [OffenceKind.FRAME_TOO_LARGE, Severity.MID],
  [OffenceKind.BAD_FRAME, Severity.MID],
  [OffenceKind.PROTOCOL_VIOLATION, Severity.MID],
  [OffenceKind.INVALID_BLOCK, Severity.MID],
  // Reported by chain-sync only after a peer served several losing branches in a row.
  [OffenceKind.LOSING_BRANCH, Severity.MID],
  [OffenceKind.PING_TIMEOUT, Severity.LOW],
  [OffenceKind.HANDSHAKE_TIMEOUT, Severity.LOW],
  [OffenceKind.BAD_VERSION, Severity.LOW],
  [OffenceKind.RATE_LIMIT, Severity.LOW],
  [OffenceKind.REQUEST_TIMEOUT, Severity.LOW],
  [OffenceKind.EMPTY_RESPONSE, Severity.LOW],
  // A height claimed and not served (chain-sync, once per claim): it misleads our planning, harms no data.
  [OffenceKind.UNBACKED_CLAIM, Severity.LOW],
]);

export function gradeOf(kind: OffenceKind): Severity {
  return GRADES.get(kind) ?? Severity.LOW;
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
