// Node 20 deadlocks a thread that exports a KeyObject (the export holds the
// key's mutex while it allocates) when that allocation runs a garbage
// collection which finalizes the key's generation job (its destructor takes
// the same mutex). generateKeyPairSync plus a JWK export hung within a few
// thousand keys under --gc-interval=10; fresh keys must not go that way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const KEYS = 100_000;

test("fresh key pairs survive a garbage collection every 10 allocations (no deadlock in key generation)", async () => {
  const module = fileURLToPath(new URL("../src/x25519.js", import.meta.url));
  const script = `import { generateDhKeyPair } from ${JSON.stringify(module)};
for (let i = 0; i < ${KEYS}; i++) generateDhKeyPair();
console.log("done");`;
  const child = spawn(process.execPath, ["--gc-interval=10", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  clearTimeout(killer);
  assert.equal(code, 0, `the child ${code === null ? "hung (killed after 60 s)" : `exited ${code}`}`);
  assert.equal(out.trim(), "done");
});
