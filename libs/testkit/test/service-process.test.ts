import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, startServiceProcess, tempDir } from "../src/index.js";

test("a service alive but never ready: the timeout names what it was doing (its stack, its handles), and the process is ended", async () => {
  const dir = await tempDir();
  try {
    // Stuck the way a start-up can be: a socket connect that never completes, a timer, nothing listening.
    const main = join(dir.path, "stuck.mjs");
    await writeFile(main, `import net from "node:net"; net.connect({ host: "10.255.255.1", port: 9 }).on("error", () => {}); setInterval(() => {}, 1000);\n`);
    const port = await freePort();
    const err = await startServiceProcess({ main, env: {}, readyUrl: `http://127.0.0.1:${port}/readyz`, timeoutMs: 1_500 }).then(
      () => assert.fail("ready"),
      (e: Error) => e,
    );
    assert.match(err.message, /last answer: no answer \(connect ECONNREFUSED/);
    assert.match(err.message, /what it was doing: js stack: \(idle, awaiting\); active handles: [^;]*timer/);
    assert.match(err.message, /active handles: [^;]*tcp/);
    assert.match(err.message, /tcp: [0-9.]+:\d+→10\.255\.255\.1:9/);
  } finally {
    await dir.remove();
  }
});
