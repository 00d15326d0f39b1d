import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

// CPU time from /proc (Linux): what benches and the soak report per process and for the machine.

/** Clock ticks per second of /proc's CPU times (100 on Linux unless built otherwise). */
const TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** What the kernel says of a process (/proc/<pid>/stat). */
export interface ProcessStat {
  /** R running, S sleeping, D waiting on the disk, Z exited and not yet reaped… */
  readonly state: string;
  /** User + system CPU of the process and all its threads, in ms. */
  readonly cpuMs: number;
  readonly threads: number;
}

/** The kernel's view of a process; undefined once it is gone. */
export function processStat(pid: number): ProcessStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: f[0]!, cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / TICKS, threads: Number(f[17]) };
}

/** User + system CPU of a process and all its threads, in ms; undefined once it is gone. */
export function processCpuMs(pid: number): number | undefined {
  return processStat(pid)?.cpuMs;
}

/** The machine's CPU time since boot, every core together, in ms. */
export interface MachineCpu {
  /** Neither idle nor waiting for I/O. */
  busy: number;
  /** Given by the hypervisor to other guests. */
  steal: number;
  /** Every field together: the cores × the time elapsed. */
  all: number;
}

export function machineCpuMs(): MachineCpu {
  try {
    // "cpu  user nice system idle iowait irq softirq steal ..."; guest time is inside user already.
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    const ms = (ticks: number) => (ticks * 1000) / TICKS;
    return { busy: ms(user + nice + system + irq + softirq), steal: ms(steal), all: ms(f.reduce((a, b) => a + b, 0)) };
  } catch {
    return { busy: NaN, steal: NaN, all: NaN };
  }
}
