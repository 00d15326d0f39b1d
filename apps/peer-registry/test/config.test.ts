// The registry's configuration: defaults, one-line errors, the README table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseRegistryEnv, registryEnvSchema } from "../src/config.js";

const main = fileURLToPath(new URL("../src/main.js", import.meta.url));
const run = (env: Record<string, string>) => spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });

test("configuration: defaults follow the port plan; a bad value stops the service with one line", () => {
  const c = parseRegistryEnv({});
  assert.equal(c.GRPC_PORT, 50052);
  assert.equal(c.METRICS_PORT, 9102);
  assert.equal(c.TARGET_OUTBOUND, 8);
  assert.equal(c.MAX_INBOUND, 64);
  assert.equal(c.MAX_PER_SUBNET, 4);
  assert.equal(c.BAN_THRESHOLD, -100);
  assert.equal(c.POLICY_MIN_INTERVAL, 100);
  assert.equal(parseRegistryEnv({ POLICY_MIN_INTERVAL: "1s" }).POLICY_MIN_INTERVAL, 1_000);
  assert.throws(() => parseRegistryEnv({ POLICY_MIN_INTERVAL: "1m" }), /POLICY_MIN_INTERVAL="1m"/, "a policy held back for a minute would let banned IPs reconnect meanwhile");
  const r = run({ TARGET_OUTBOUND: "lots" });
  assert.equal(r.status, 2);
  assert.match(r.stderr.trim(), /^invalid configuration: TARGET_OUTBOUND="lots": expected an integer/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

test("values fine alone but not together stop the service with one line naming both", () => {
  for (const [env, line] of [
    [{ BACKOFF_MIN: "10m" }, 'invalid configuration: BACKOFF_MIN="10m", BACKOFF_MAX="5m": expected BACKOFF_MIN <= BACKOFF_MAX'],
    [{ BAN_DURATION: "200h" }, 'invalid configuration: BAN_DURATION="200h", BAN_MAX="168h": expected BAN_DURATION <= BAN_MAX'],
    [{ SCORE_LOW_PENALTY: "70" }, 'invalid configuration: SCORE_LOW_PENALTY="70", SCORE_MID_PENALTY="60": expected SCORE_LOW_PENALTY <= SCORE_MID_PENALTY'],
  ] as const) {
    const r = run(env);
    assert.equal(r.status, 2, line);
    assert.equal(r.stderr.trim(), line);
  }
});

test("the README's configuration table lists every variable the registry reads", () => {
  const readme = readFileSync(fileURLToPath(new URL("../../../../README.md", import.meta.url)), "utf8");
  for (const name of Object.keys(registryEnvSchema)) assert.match(readme, new RegExp("\\| `" + name + "` \\|"), name);
});
