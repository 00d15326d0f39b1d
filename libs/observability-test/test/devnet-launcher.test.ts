// The devnet library's promise to whoever starts it (npm run devnet, the soak,
// the attack suite, a probe): a launcher that crashes takes its services with
// it, instead of leaving them on the devnet's addresses and ports.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { processStat, tempDir, waitFor } from "@timenet/testkit";
import { DEPLOY } from "./network.js";

const dir = await tempDir("devnet-launcher-");
const pids: number[] = [];
after(async () => {
  for (const pid of pids) if (running(pid)) process.kill(pid, "SIGKILL");
  await dir.remove();
});

/** Alive and not a zombie (a reparented child nobody reaped yet is gone for our purpose). */
function running(pid: number): boolean {
  const state = processStat(pid)?.state;
  return state !== undefined && state !== "Z";
}

const commandOf = (pid: number): string => {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim()}`;
  } catch {
    return String(pid);
  }
};

test("a launcher that throws after startDevnet stops every service it started", { timeout: 120_000 }, async () => {
  const script = join(dir.path, "launcher.mjs");
  writeFileSync(
    script,
    [
      `const { startDevnet } = await import(${JSON.stringify(pathToFileURL(join(DEPLOY, "devnet", "network.mjs")).href)});`,
      `const net = await startDevnet({ nodes: 1, workers: 1, producers: 1, reset: true, dir: ${JSON.stringify(join(dir.path, "net"))}, ipBase: "127.0.9" });`,
      `console.log(JSON.stringify(net.processes().map((p) => p.pid)));`,
      `throw new Error("the launcher crashed");`,
    ].join("\n"),
  );
  const launcher = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  launcher.stdout.on("data", (c: Buffer) => (out += c.toString()));
  launcher.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => launcher.once("exit", resolve));
  assert.equal(code, 1, `the launcher crashes (stderr: ${err.slice(-500)})`);
  assert.match(err, /the launcher crashed/);
  const started = JSON.parse(out.trim().split("\n").at(-1)!) as number[];
  pids.push(...started);
  // NATS, store, gateway, registry, one chain-sync replica, the producer.
  assert.equal(started.length, 6, `every service was running (${out})`);
  // Their graceful stop (SIGTERM) takes a few seconds at most; nothing can wait for a process that is not our child.
  await waitFor(() => started.every((pid) => !running(pid)), {
    timeoutMs: 20_000,
    intervalMs: 100,
    message: () => `still running after the launcher died: ${started.filter(running).map(commandOf).join("; ")}`,
  });
  // Each service writes its own log file, so a stop is on record although the launcher was gone. (A service
  // still starting when the SIGTERM came ends at once: startDevnet waits only for the store and the gateway.)
  const logs = join(dir.path, "net", "logs");
  const startedLogs = readdirSync(logs)
    .map((f) => ({ f, text: readFileSync(join(logs, f), "utf8") }))
    .filter((l) => /"msg":"[a-z0-9-]+ started"/.test(l.text));
  assert.ok(startedLogs.length >= 2, `the store and the gateway at least had started: ${startedLogs.map((l) => l.f).join(", ")}`);
  for (const l of startedLogs) assert.match(l.text, /"signal":"SIGTERM","msg":"signal received"/, `${l.f} logged the SIGTERM`);
});
