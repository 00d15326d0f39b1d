// Peak memory, thread count and CPU of the devnet's processes, from /proc
// (Linux), for sizing the Compose mem_limit / pids_limit / cpus (deploy/README.md,
// "Hardening"), and the machine's own CPU over the same time: a soak's
// propagation figures mean little on a machine something else kept busy.
// Imported after the build (soak.mjs): the /proc readers are testkit's, shared with bench:sync.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { machineCpuMs, processCpuMs } from "../../libs/testkit/dist/src/index.js";

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
 * keeps, per process, the peak RSS (VmHWM, the kernel's own high-water mark),
 * the most threads seen and the CPU it used since it was first sampled.
 * stop() returns the per-service table (the largest process of each; CPU
 * summed over them) and the machine's CPU over the sampler's life: the
 * cores busy, the part of them the devnet's processes account for, and the
 * share of the machine's time the hypervisor gave other guests.
 */
export function startProcSampler(processes, intervalMs = 1_000) {
  const peaks = new Map(); // name -> { hwmKb, threads, pid, cpuMs (of its earlier pids), cpuFirstMs, cpuLastMs }
  const startedAt = performance.now();
  const machineStart = machineCpuMs();
  const tick = () => {
    for (const { name, pid } of processes()) {
      const s = procStatus(pid);
      const cpu = processCpuMs(pid);
      if (!s || cpu === undefined) continue;
      // A process replaced under the same name (a restart) starts its own count: its CPU so far is kept.
      const p = peaks.get(name) ?? { hwmKb: 0, threads: 0, pid, cpuMs: 0, cpuFirstMs: cpu, cpuLastMs: cpu };
      if (p.pid !== pid) Object.assign(p, { pid, cpuMs: p.cpuMs + p.cpuLastMs - p.cpuFirstMs, cpuFirstMs: cpu });
      peaks.set(name, { ...p, hwmKb: Math.max(p.hwmKb, s.hwmKb || 0), threads: Math.max(p.threads, s.threads || 0), cpuLastMs: cpu });
    }
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      tick();
      const wallMs = performance.now() - startedAt;
      const table = new Map(); // service -> { peakRssMiB, maxThreads, processes, cores }
      let devnetCpuMs = 0;
      for (const [name, p] of peaks) {
        const svc = serviceOf(name);
        const cpuMs = p.cpuMs + p.cpuLastMs - p.cpuFirstMs;
        devnetCpuMs += cpuMs;
        const t = table.get(svc) ?? { peakRssMiB: 0, maxThreads: 0, processes: 0, cores: 0 };
        table.set(svc, { peakRssMiB: Math.max(t.peakRssMiB, p.hwmKb / 1024), maxThreads: Math.max(t.maxThreads, p.threads), processes: t.processes + 1, cores: t.cores + cpuMs / wallMs });
      }
      const m = machineCpuMs();
      const busy = m.busy - machineStart.busy;
      const cores = availableParallelism();
      return {
        table,
        machine: { cores, busy: busy / wallMs, devnet: devnetCpuMs / wallMs, stolenPercent: ((m.steal - machineStart.steal) * 100) / (wallMs * cores) },
      };
    },
  };
}

/** The sampler's result as text: one line per service, then the machine's CPU. */
export function formatProcTable({ table, machine }) {
  const rows = [...table].sort(([a], [b]) => a.localeCompare(b));
  const lines = ["  service          processes  peak RSS (max, MiB)  threads (max)  CPU (all processes, cores)"];
  for (const [svc, t] of rows) lines.push(`  ${svc.padEnd(16)} ${String(t.processes).padStart(9)}  ${t.peakRssMiB.toFixed(1).padStart(19)}  ${String(t.maxThreads).padStart(13)}  ${t.cores.toFixed(2).padStart(26)}`);
  const other = Math.max(0, machine.busy - machine.devnet);
  lines.push(`  machine: ${machine.busy.toFixed(2)} of ${machine.cores} cores busy on average (the devnet's processes ${machine.devnet.toFixed(2)}, everything else ${other.toFixed(2)}), ${machine.stolenPercent.toFixed(1)} % stolen by the hypervisor`);
  return lines.join("\n");
}
