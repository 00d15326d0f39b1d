import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The built CLI, run as an operator runs it. */
export const CLI_MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `node dist/src/main.js ...args` to completion; `env` is added to ours (undefined values unset). */
export function runCliProcess(args: readonly string[], timeoutMs = 20_000, env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => void (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => void (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`timenetctl ${args.join(" ")} did not exit within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`));
    }, timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}
