import type { Sent } from "./attack.js";
import type { Measured } from "./observation.js";

export interface Row {
  attack: string;
  sent: Sent;
  seconds: number;
  measured: Measured;
  violations: string[];
  /** The honest nodes had recovered from earlier attacks when it began (links up, loops calm, heights in step). */
  recovered: boolean;
  /** The attack's own failure (a bug in it), if any. */
  error?: string;
}

const MIB = 1024 * 1024;

function bytes(n: number): string {
  if (n >= 1024 * MIB) return `${(n / 1024 / MIB).toFixed(1)} GiB`;
  if (n >= MIB) return `${(n / MIB).toFixed(0)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

/** What an attack sent, in one cell. */
export function describeSent(s: Sent, seconds: number): string {
  if (s.sockets === 0 && s.refused === 0) return "nothing";
  const parts = [`${bytes(s.bytes)} in ${seconds} s`, `${s.sockets} sockets`];
  if (s.refused > 0) parts.push(`${s.refused} refused`);
  if (s.handshakes > 0) parts.push(`${s.handshakes} handshakes`);
  if (s.frames > 0) parts.push(`${s.frames} frames`);
  return parts.join(", ");
}

/** The suite's table (Markdown, readable as is in a terminal). */
export function table(rows: Row[]): string {
  const head = ["attack", "sent", "honest links closed", "offences / bans vs honest", "gateway RSS peak", "event-loop p99", "height spread", "new block reach", "verdict"];
  const lines = rows.map((r) => {
    const m = r.measured;
    const reach = m.reach.blocks === 0 ? "no block" : `${m.reach.maxMs === Infinity ? "never" : `${Math.round(m.reach.maxMs)} ms`} (${m.reach.blocks} blocks)`;
    return [
      r.attack,
      describeSent(r.sent, r.seconds),
      String(m.honestLinksClosed),
      `${m.offences} / ${m.bans}`,
      // What an earlier attack left behind shows beside the peak.
      m.rssAtStart >= 256 * MIB ? `${Math.round(m.rssPeak / MIB)} MiB (${Math.round(m.rssAtStart / MIB)} at start)` : `${Math.round(m.rssPeak / MIB)} MiB`,
      // The worst window, and (when any) how many windows of one gateway reached the budget.
      m.eventLoopWindowsOver > 0 ? `${Math.round(m.eventLoopP99Ms)} ms (${m.eventLoopWindowsOver}/${m.eventLoopWindows} over)` : `${Math.round(m.eventLoopP99Ms)} ms`,
      String(m.heightSpread),
      reach,
      r.error ? "attack failed" : r.violations.length === 0 ? "ok" : "FAIL",
    ];
  });
  const all = [head, ...lines];
  const width = head.map((_, i) => Math.max(...all.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => `| ${l.map((c, i) => c.padEnd(width[i]!)).join(" | ")} |`;
  return [fmt(head), `|${width.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(fmt)].join("\n");
}

/** How the gateways answered each attack's strangers (from their logs). */
export function answers(rows: Row[]): string {
  return rows.filter((r) => r.sent.sockets + r.sent.refused > 0).map((r) => `${r.attack}: ${r.measured.answered}`).join("\n");
}

/** Below the table: each failed attack's broken budgets and the log lines that explain them. */
export function details(rows: Row[], maxLines = 6): string {
  const out: string[] = [];
  for (const r of rows) {
    if (r.violations.length === 0 && !r.error) continue;
    out.push(`${r.attack}:${r.recovered ? "" : " (began before the honest nodes had recovered from an earlier attack)"}`);
    if (r.error) out.push(`  the attack itself failed: ${r.error.split("\n")[0]}`);
    for (const v of r.violations) out.push(`  - ${v}`);
    for (const l of [...r.measured.closes.slice(0, maxLines), ...r.measured.blames.slice(0, maxLines)]) out.push(`    ${l}`);
    const more = r.measured.closes.length + r.measured.blames.length - Math.min(maxLines, r.measured.closes.length) - Math.min(maxLines, r.measured.blames.length);
    if (more > 0) out.push(`    … ${more} more in the logs`);
    if (r.violations.some((v) => v.includes("to reach every honest node")) && r.measured.reach.slowest) out.push(`    slowest block: ${r.measured.reach.slowest}`);
    if (r.measured.missedScrapes > 0) out.push(`    ${r.measured.missedScrapes} metrics scrapes got no answer within 2 s`);
  }
  return out.join("\n");
}
