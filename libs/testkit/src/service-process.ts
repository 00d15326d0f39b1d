import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { describeStuckProcess, reportOnSignalArgs } from "./process-report.js";
import { tempDir } from "./temp-dir.js";
import { waitFor } from "./wait.js";
import { cpuProfileArgs } from "./cpu-profile-args.js";

export interface ServiceProcessOptions {
  /** Path of the service's built main.js. */
  main: string;
  env: Record<string, string>;
  /** Polled until it answers 200 (the service's /readyz). */
  readyUrl: string;
  /** Default: fetch(readyUrl) answers 200. Replace it for HTTPS with the operator CA (fetch cannot take a CA). */
  readyCheck?: () => Promise<boolean>;
  /**
   * How long the service may take to become ready. Default 45 s. Measured
   * here: one block-store is ready 1.7 s after it starts on an idle machine,
   * six started at once 7.5 s each; under `npm test`'s parallel load one got
   * 3.2 s of CPU in 20 s and was not ready. A start slower than this is a
   * hang, and the timeout says what the process was doing.
   */
  timeoutMs?: number;
  /** "inherit" also copies the child's output (its logs) to our stderr; the tail is always kept for start-up errors. */
  stderr?: "inherit" | "ignore";
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** SIGTERM and wait for the exit (SIGKILL after graceMs). */
  stop(graceMs?: number): Promise<number | string>;
  /** SIGKILL: a crash, nothing flushed. */
  kill(): Promise<number | string>;
}

/**
 * Runs a service's real main.js as a child process (apps never import each
 * other, so one app's tests run another as a process) and waits until it is ready.
 */
export async function startServiceProcess(o: ServiceProcessOptions): Promise<ServiceProcess> {
  if (!existsSync(o.main)) throw new Error(`${o.main} does not exist: build that app first (npx nx run-many -t build)`);
  // Where the child writes a diagnostic report if it is never ready (see describeStuckProcess).
  const reports = await tempDir("timenet-report-");
  const child = spawn(process.execPath, [...cpuProfileArgs(o.main), ...reportOnSignalArgs(reports.path), o.main], { env: { PATH: process.env.PATH ?? "", ...o.env }, stdio: ["ignore", "pipe", "pipe"] });
  // The last few KiB of stderr explain a process that dies before it is ready.
  let tail = "";
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on("data", (chunk: Buffer) => {
      if (o.stderr === "inherit") process.stderr.write(chunk);
      tail = (tail + chunk.toString("utf8")).slice(-4096);
    });
  }
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  let done = false;
  void exited.then(() => (done = true));
  void exited.finally(() => reports.remove());
  const proc: ServiceProcess = {
    child,
    exited,
    async stop(graceMs = 5_000) {
      if (done) return exited;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
    async kill() {
      if (!done) child.kill("SIGKILL");
      return exited;
    },
  };
  // The last answer of the readiness check: a timeout says which check kept the service unready (its `reasons`), or that nothing answered.
  let lastAnswer = "no answer yet";
  try {
    await waitFor(
      async () => {
        if (done) throw new Error(`${o.main} exited with ${String(await exited)} before it was ready: ${tail.trim() || "(no output)"}`);
        try {
          if (o.readyCheck) return await o.readyCheck();
          const res = await fetch(o.readyUrl);
          if (res.status === 200) return true;
          lastAnswer = `${res.status} ${(await res.text()).slice(0, 500)}`;
          return false;
        } catch (err) {
          // fetch's own error is "fetch failed"; its cause says why (ECONNREFUSED...).
          const { message, cause } = err as Error;
          lastAnswer = `no answer (${cause instanceof Error ? cause.message : message})`;
          return false;
        }
      },
      { timeoutMs: o.timeoutMs ?? 45_000, intervalMs: 50, message: () => `${o.main} ready at ${o.readyUrl} (pid ${child.pid}; last answer: ${lastAnswer}; output: ${tail.trim().slice(-500) || "(none)"})` },
    );
  } catch (err) {
    if (!done) (err as Error).message += `; what it was doing: ${await describeStuckProcess(child, reports.path)}`;
    await proc.kill();
    throw err;
  }
  return proc;
}
