import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";

const RUNTIME = new URL("../src/index.js", import.meta.url).href;

/** A process whose main is runMain around a service whose stop takes `stopMs` (never ends: -1); SIGTERM once it is started. */
async function stopService(stopMs: number, deadlineMs: number): Promise<{ code: number | null; out: string; tookMs: number }> {
  const code = `
    const { runMain } = await import(${JSON.stringify(RUNTIME)});
    const line = (level) => (fields, msg) => console.log(JSON.stringify({ level, ...fields, msg }));
    const logger = { info: line("info"), error: line("error"), fatal: line("fatal") };
    // An open handle, as a service's servers: the process lives until runMain ends it.
    setInterval(() => undefined, 60_000);
    await runMain("probe", logger, async () => ({ stop: () => new Promise((r) => ${stopMs} >= 0 && setTimeout(r, ${stopMs})) }), { stopDeadlineMs: ${deadlineMs} });
    console.log("started");`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  let sentAt = 0;
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    if (sentAt === 0 && out.includes("started")) {
      sentAt = performance.now();
      child.kill("SIGTERM");
    }
  });
  const exitCode = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code: exitCode, out, tookMs: performance.now() - sentAt };
}

test("a stop that never ends is abandoned at the deadline: one error line, exit 1", async () => {
  const r = await stopService(-1, 300);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /"level":"error","deadline_ms":300,"msg":"probe did not stop within the deadline/);
  assert.ok(r.tookMs >= 300 && r.tookMs < 5_000, `exited ${Math.round(r.tookMs)} ms after SIGTERM`);
});

test("a stop that ends in time exits 0 at once, without the deadline's line", async () => {
  const r = await stopService(50, 5_000);
  assert.equal(r.code, 0, r.out);
  assert.doesNotMatch(r.out, /deadline/);
  assert.ok(r.tookMs < 2_000, `exited ${Math.round(r.tookMs)} ms after SIGTERM`);
});
