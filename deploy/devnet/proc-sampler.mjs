// Peak memory and thread count of the devnet's processes, from /proc (Linux),
// for sizing the Compose mem_limit / pids_limit (deploy/README.md, "Hardening").
import { readFileSync } from "node:fs";

/** VmHWM (peak RSS, kB), VmRSS (kB) and Threads of a pid; undefined once it is gone. */
export function procStatus(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? NaN);
  return { hwmKb: field("VmHWM"), rssKb: field("VmRSS"), threads: field("Threads") };
}

/** "n3-chain-sync-1" -> "chain-sync": the service a devnet process runs. */
export const serviceOf = (name) => name.replace(/^n\d+-/, "").replace(/-\d+$/, "");

/**
 * Samples every process of `processes()` (name, pid) each `intervalMs` and
 * keeps, per process, the peak RSS (VmHWM, the kernel's own high-water mark)
 * and the most threads seen. stop() returns the per-service table: the
 * largest process of each service.
 */
export function startProcSampler(processes, intervalMs = 1_000) {
  const peaks = new Map(); // name -> { hwmKb, threads }
  const tick = () => {
    for (const { name, pid } of processes()) {
      const s = procStatus(pid);
      if (!s) continue;
      const p = peaks.get(name) ?? { hwmKb: 0, threads: 0 };
      peaks.set(name, { hwmKb: Math.max(p.hwmKb, s.hwmKb || 0), threads: Math.max(p.threads, s.threads || 0) });
    }
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      tick();
      const table = new Map(); // service -> { peakRssMiB, maxThreads, processes }
      for (const [name, p] of peaks) {
        const svc = serviceOf(name);
        const t = table.get(svc) ?? { peakRssMiB: 0, maxThreads: 0, processes: 0 };
        table.set(svc, { peakRssMiB: Math.max(t.peakRssMiB, p.hwmKb / 1024), maxThreads: Math.max(t.maxThreads, p.threads), processes: t.processes + 1 });
      }
      return table;
    },
  };
}

/** The table as text: one line per service. */
export function formatProcTable(table) {
  const rows = [...table].sort(([a], [b]) => a.localeCompare(b));
  const lines = ["  service          processes  peak RSS (max, MiB)  threads (max)"];
  for (const [svc, t] of rows) lines.push(`  ${svc.padEnd(16)} ${String(t.processes).padStart(9)}  ${t.peakRssMiB.toFixed(1).padStart(19)}  ${String(t.maxThreads).padStart(13)}`);
  return lines.join("\n");
}
