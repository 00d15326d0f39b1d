import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { processStat } from "./proc-cpu.js";
import { waitFor } from "./wait.js";

/** Node's flags that make a child write a diagnostic report (JSON) into `dir` on SIGUSR2. */
export function reportOnSignalArgs(dir: string): string[] {
  return ["--report-on-signal", "--report-signal=SIGUSR2", `--report-directory=${dir}`, "--report-compact"];
}

interface Endpoint {
  ip4?: string;
  ip6?: string;
  port?: number;
}

interface NodeReport {
  javascriptStack?: { message?: string; stack?: string[] };
  libuv?: Array<{ type: string; is_active?: boolean; localEndpoint?: Endpoint | null; remoteEndpoint?: Endpoint | null }>;
  workers?: NodeReport[];
  resourceUsage?: { userCpuSeconds?: number; kernelCpuSeconds?: number };
  header?: { wallclockStartTime?: string };
}

/**
 * Asks a live child started with reportOnSignalArgs for its diagnostic
 * report and says, in one line, what it was doing: the main thread's
 * JavaScript stack (empty when it was idle, awaiting), its active handles
 * (a TCP connect in flight, timers, a worker's port), its worker threads and
 * the CPU it had used. A service that is alive but never ready is then
 * readable without a rerun. A main thread that is busy or blocked never
 * answers the signal: then the kernel's view (state, CPU) is given instead.
 */
export async function describeStuckProcess(child: ChildProcess, dir: string, waitMs = 3_000): Promise<string> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return "not running";
  child.kill("SIGUSR2");
  const summary = await waitFor(
    async () => {
      const name = (await readdir(dir).catch(() => [] as string[])).find((f) => f.includes(`.${child.pid}.`) && f.endsWith(".json"));
      // Not written yet, or still being written: read again shortly.
      return name && (await readFile(join(dir, name), "utf8").then((text) => summarize(JSON.parse(text) as NodeReport)).catch(() => undefined));
    },
    { timeoutMs: waitMs, intervalMs: 100 },
  ).catch(() => undefined);
  return summary ?? `no diagnostic report within ${waitMs} ms: its main thread is busy or blocked (${kernelView(child.pid)})`;
}

/** What the kernel says of the process: its state (R running, S sleeping, D waiting on the disk) and CPU used. */
function kernelView(pid: number): string {
  const stat = processStat(pid);
  if (stat === undefined) return "no /proc view";
  return `state ${stat.state}, cpu used ${(stat.cpuMs / 1000).toFixed(2)} s, threads ${stat.threads}`;
}

function summarize(r: NodeReport): string {
  const cpu = (r.resourceUsage?.userCpuSeconds ?? 0) + (r.resourceUsage?.kernelCpuSeconds ?? 0);
  const workers = (r.workers ?? []).map((w, i) => `#${i} ${jsStack(w)}, ${handles(w)}`);
  return [
    `js stack: ${jsStack(r)}`,
    `active handles: ${handles(r)}`,
    `tcp: ${tcpEndpoints(r) || "none"}`,
    `workers: ${workers.length}${workers.length > 0 ? ` (${workers.join(" | ")})` : ""}`,
    `cpu used: ${cpu.toFixed(2)} s since ${r.header?.wallclockStartTime ?? "start"}`,
  ].join("; ");
}

/** The top frames of a thread's stack; a thread waiting in its event loop has none ("Unavailable." in a worker's report). */
function jsStack(r: NodeReport): string {
  const stack = (r.javascriptStack?.stack ?? []).map((l) => l.trim()).filter((l) => l !== "" && l !== "Unavailable.");
  return stack.length > 0 ? stack.slice(0, 6).join(" < ") : "(idle, awaiting)";
}

function handles(r: NodeReport): string {
  const count = new Map<string, number>();
  for (const h of r.libuv ?? []) if (h.is_active !== false) count.set(h.type, (count.get(h.type) ?? 0) + 1);
  return [...count].map(([t, n]) => `${t}×${n}`).join(" ") || "none";
}

/** Each TCP handle as local→remote (a listener has no remote): which connect or server a start-up waits on. */
function tcpEndpoints(r: NodeReport): string {
  const at = (e: Endpoint | null | undefined) => (e ? `${e.ip4 ?? e.ip6 ?? "?"}:${e.port ?? "?"}` : "-");
  return (r.libuv ?? [])
    .filter((h) => h.type === "tcp")
    .slice(0, 8)
    .map((h) => `${at(h.localEndpoint)}→${at(h.remoteEndpoint)}`)
    .join(" ");
}
