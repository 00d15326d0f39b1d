import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../src/run-cli.js";
import { registryTarget } from "../src/registry-target.js";
import { CliError } from "../src/cli-error.js";

/** Runs the CLI in this process with its output captured. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(args, { output: { out: (t) => void (out += t), err: (t) => void (err += t) } });
  return { code, out, err };
}

function assertOneLineError(r: { code: number; out: string; err: string }, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, r.err);
  assert.equal(r.out, "");
  assert.match(r.err, /^timenetctl: [^\n]+\n$/);
  assert.match(r.err, pattern);
}

test("usage errors are one line and exit 2", async () => {
  assertOneLineError(await cli("bogus"), 2, /unknown command 'bogus'/);
  assertOneLineError(await cli("peers", "--jsn"), 2, /unknown option '--jsn'/);
  assertOneLineError(await cli("peers", "--state", "sleepy"), 2, /connected, disconnected, banned/);
  assertOneLineError(await cli("peer"), 2, /missing required argument 'ip'/);
  assertOneLineError(await cli("ban", "10.0.0.1", "--duration", "5 minutes"), 2, /not a duration/);
  assertOneLineError(await cli("--registry-port", "70000", "stats"), 2, /1-65535/);
  assertOneLineError(await cli("--timeout", "soon", "stats"), 2, /milliseconds/);
});

test("bad IPs and endpoints are refused before any call, exit 2", async () => {
  // The registry port is closed: reaching the network would exit 3, not 2.
  const closed = ["--registry-port", "1"];
  assertOneLineError(await cli(...closed, "peer", "1.2.3"), 2, /^timenetctl: "1\.2\.3" is not an IP address\n$/);
  assertOneLineError(await cli(...closed, "ban", "example.com"), 2, /"example\.com" is not an IP address/);
  assertOneLineError(await cli(...closed, "unban", "::g"), 2, /"::g" is not an IP address/);
  assertOneLineError(await cli(...closed, "addnode", "10.0.0.1:99999"), 2, /not a peer endpoint.*port out of range/);
  assertOneLineError(await cli(...closed, "addnode", "[2001:db8::1"), 2, /not a peer endpoint/);
  assertOneLineError(await cli("--node", "a:b:c", "stats"), 2, /bad --node "a:b:c"/);
});

test("help goes to stdout and exits 0; no command prints help and exits 2", async () => {
  const help = await cli("--help");
  assert.equal(help.code, 0);
  for (const c of ["peers", "peer", "ban", "unban", "addnode", "stats", "status", "producer-key"]) assert.match(help.out, new RegExp(`\\n  ${c}\\b`));
  const none = await cli();
  assert.equal(none.code, 2);
  assert.match(none.err, /Usage: timenetctl/);
});

test("--node accepts IPs, [IPv6], host names, each with an optional port", () => {
  assert.equal(registryTarget("127.0.0.1", 50052), "127.0.0.1:50052");
  assert.equal(registryTarget("10.1.2.3:6000", 50052), "10.1.2.3:6000");
  assert.equal(registryTarget("::1", 50052), "[::1]:50052");
  assert.equal(registryTarget("[::ffff:10.0.0.1]:7", 50052), "10.0.0.1:7");
  assert.equal(registryTarget("localhost", 50052), "localhost:50052");
  assert.equal(registryTarget("node-3.example:9", 50052), "node-3.example:9");
  for (const bad of ["1.2.3", "host:0", "host:x", "[::1]x", ""]) assert.throws(() => registryTarget(bad, 50052), CliError, bad);
});
