import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { atMost, bool, bytes, ConfigError, describeSchema, durationMs, int, list, oneOf, optional, parseConfig, str } from "../src/index.js";

const schema = {
  PING_INTERVAL: durationMs({ description: "ping period", default: 10_000, min: 10 }),
  MAX_FRAME: bytes({ description: "max frame", default: 8 * 1024 * 1024 }),
  PORT: int({ description: "port", default: 24100, min: 1, max: 65535 }),
  LOG_LEVEL: oneOf(["debug", "info", "warn"] as const, { description: "level", default: "info" }),
  PRETTY: bool({ description: "pretty", default: false }),
  PEERS: list({ description: "peers", default: [], itemExpected: "ip:port", item: (s) => {
    if (!/^[\d.]+:\d+$/.test(s)) throw new Error("bad");
    return s;
  } }),
  NAME: optional(str({ description: "name" })),
};

test("defaults apply when unset or empty", () => {
  const c = parseConfig(schema, { PORT: "" });
  assert.equal(c.PING_INTERVAL, 10_000);
  assert.equal(c.MAX_FRAME, 8 * 1024 * 1024);
  assert.equal(c.PORT, 24100);
  assert.equal(c.LOG_LEVEL, "info");
  assert.deepEqual(c.PEERS, []);
  assert.equal(c.NAME, undefined);
});

test("values parse with units", () => {
  const c = parseConfig(schema, { PING_INTERVAL: "250ms", MAX_FRAME: "1MiB", PORT: "1", PRETTY: "yes", PEERS: "1.2.3.4:5, 6.7.8.9:10", NAME: "a" });
  assert.equal(c.PING_INTERVAL, 250);
  assert.equal(c.MAX_FRAME, 1024 * 1024);
  assert.equal(c.PRETTY, true);
  assert.deepEqual(c.PEERS, ["1.2.3.4:5", "6.7.8.9:10"]);
  assert.equal(parseConfig(schema, { PING_INTERVAL: "2m" }).PING_INTERVAL, 120_000);
  assert.equal(parseConfig(schema, { PING_INTERVAL: "1.5s" }).PING_INTERVAL, 1500);
});

test("a bad value names the variable, the value and what is expected", () => {
  const bad: Array<[string, string, RegExp]> = [
    ["PING_INTERVAL", "ten", /PING_INTERVAL="ten": expected a duration/],
    ["PING_INTERVAL", "5ms", /at least 10ms/],
    ["PORT", "70000", /PORT="70000": expected an integer from 1 to 65535/],
    ["LOG_LEVEL", "loud", /expected one of debug, info, warn/],
    ["PRETTY", "maybe", /expected true or false/],
    ["PEERS", "1.2.3.4:5,nope", /PEERS="1.2.3.4:5,nope": expected a comma-separated list of ip:port/],
    ["MAX_FRAME", "8 parsecs", /expected a size/],
  ];
  for (const [name, value, re] of bad) {
    assert.throws(() => parseConfig(schema, { [name]: value }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, name);
      assert.match(err.message, re);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  }
});

test("a required variable that is unset is reported", () => {
  assert.throws(() => parseConfig({ X: str({ description: "x" }) }, {}), /X is required/);
});

test("describeSchema renders a table row per variable", () => {
  const rows = describeSchema(schema).split("\n");
  assert.equal(rows.length, Object.keys(schema).length);
  assert.match(rows[0]!, /\| `PING_INTERVAL` \| `10s` \| ping period \|/);
});

test("loadConfigOrExit stops the process with one line and exit code 2", () => {
  const index = fileURLToPath(new URL("../src/index.js", import.meta.url));
  const script = `import { loadConfigOrExit, int } from ${JSON.stringify(index)};
    loadConfigOrExit({ PORT: int({ description: "p", default: 1, max: 10 }) });
    console.log("should not get here");`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: { PORT: "11" }, encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr.trim(), 'invalid configuration: PORT="11": expected an integer <= 10');
});

test("cross-checks: values fine alone but not together stop with one line naming both", () => {
  const s = {
    BACKOFF_MIN: durationMs({ description: "first delay", default: 1_000, min: 1 }),
    BACKOFF_MAX: durationMs({ description: "longest delay", default: 300_000, min: 1 }),
  };
  const checks = [atMost<typeof s>("BACKOFF_MIN", "BACKOFF_MAX")];
  assert.equal(parseConfig(s, { BACKOFF_MIN: "5m", BACKOFF_MAX: "5m" }, checks).BACKOFF_MIN, 300_000);
  assert.throws(
    () => parseConfig(s, { BACKOFF_MIN: "10m" }, checks),
    (err: unknown) => err instanceof ConfigError && err.message === 'invalid configuration: BACKOFF_MIN="10m", BACKOFF_MAX="5m": expected BACKOFF_MIN <= BACKOFF_MAX',
  );
});
