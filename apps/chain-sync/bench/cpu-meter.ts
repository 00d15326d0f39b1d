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

/** The machine's CPU times (all cores, ticks): the steal (time the hypervisor ran someone else) and the sum of every field. */
function machineTicks(): { steal: number; all: number } {
  try {
    // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is inside user already.
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return { steal: f[7] ?? 0, all: f.reduce((a, b) => a + b, 0) };
  } catch {
    return { steal: 0, all: 0 };
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
  private readonly machineStart = machineTicks();

  constructor(private readonly parts: CpuParts) {
    this.start = new Map(Object.keys(parts).map((name) => [name, this.read(name)]));
  }

  private read(name: string): number {
    const p = this.parts[name]!;
    return p === "self" ? selfCpuMs() : p.reduce((sum, pid) => sum + processCpuMs(pid), 0);
  }

  /**
   * "cpu ms per 1,000 blocks: part X, …, total T (C cores busy, S % stolen)". The steal is the share of
   * the machine's time its hypervisor gave other guests: on a shared VM it moves a run's rate as much
   * as anything measured here, and says when two runs are not comparable.
   */
  report(blocks: number, wallMs: number): string {
    let total = 0;
    const each = Object.keys(this.parts).map((name) => {
      const ms = this.read(name) - this.start.get(name)!;
      total += ms;
      return `${name} ${Math.round((ms * 1000) / blocks)}`;
    });
    const m = machineTicks();
    const all = m.all - this.machineStart.all;
    const stolen = all > 0 ? `, ${(((m.steal - this.machineStart.steal) * 100) / all).toFixed(0)} % stolen` : "";
    return `cpu ms per 1,000 blocks: ${each.join(", ")}, total ${Math.round((total * 1000) / blocks)} (${(total / wallMs).toFixed(2)} cores busy${stolen})`;
  }
}
