import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Named parts of a node: process ids whose CPU is summed, or "self" for this process. */
export type CpuParts = Record<string, number[] | "self">;

/** Clock ticks per second of /proc's CPU times (100 on Linux unless built otherwise). */
const TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU of a process and all its threads, in ms (0 once it is gone). */
function processCpuMs(pid: number): number {
  try {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
  } catch {
    return 0;
  }
}

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * CPU spent by each part of a node between its construction and report():
 * where a sync's time goes when the machine's cores, not the network, are the limit.
 */
export class CpuMeter {
  private readonly start: Map<string, number>;

  constructor(private readonly parts: CpuParts) {
    this.start = new Map(Object.keys(parts).map((name) => [name, this.read(name)]));
  }

  private read(name: string): number {
    const p = this.parts[name]!;
    return p === "self" ? selfCpuMs() : p.reduce((sum, pid) => sum + processCpuMs(pid), 0);
  }

  /** "cpu ms per 1,000 blocks: part X, …, total T (C cores busy)". */
  report(blocks: number, wallMs: number): string {
    let total = 0;
    const each = Object.keys(this.parts).map((name) => {
      const ms = this.read(name) - this.start.get(name)!;
      total += ms;
      return `${name} ${Math.round((ms * 1000) / blocks)}`;
    });
    return `cpu ms per 1,000 blocks: ${each.join(", ")}, total ${Math.round((total * 1000) / blocks)} (${(total / wallMs).toFixed(2)} cores busy)`;
  }
}
