// `timenetctl status` on a node whose clock is 20 s slow, against a real
// gateway process with a wrong wall clock (skewedClockEnv) and an honest peer.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { freePort, nodePoolOf, skewedClockEnv } from "@timenet/testkit";
import { runCliProcess, type CliRun } from "./cli-process.js";
import { startNode, type TestNode } from "./node-process.js";

let honest: TestNode;
let slow: TestNode;
// A pool: if one node fails to start, the other is still stopped.
const { node, stopAll } = nodePoolOf(startNode);

before(async () => {
  [honest, slow] = await Promise.all([
    node(146),
    // One peer is enough to judge here (the default needs 3).
    node(147, { gatewayEnv: { ...skewedClockEnv(-20_000), CLOCK_MIN_PEERS: "1" } }),
  ]);
  await slow.dial(honest);
  await slow.waitConnected(honest);
  await honest.waitConnected(slow);
});

after(async () => {
  await stopAll();
});

async function status(n: TestNode, ...args: string[]): Promise<CliRun> {
  const closed = await freePort();
  const { gateway, sync, store } = n.ports;
  return runCliProcess(["status", "--node", n.ip, "--gateway-port", String(gateway), "--sync-port", String(sync), "--store-port", String(store), "--registry-port", String(closed), ...args]);
}

test("status: a clock 20 s behind its peer says so and asks for NTP; the connection stays and the exit is 0", async () => {
  const r = await status(slow);
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.out, /^clock:\s+(19\.\d|20\.[0-9]) s behind the median of 1 peer — check NTP \(CLOCK_WARN_OFFSET 5s\)$/m);
  assert.match(r.out, /^peers \(1\):$/m);

  const json = JSON.parse((await status(slow, "--json")).out) as { gateway: { info: Record<string, unknown> } };
  assert.equal(json.gateway.info.clockSuspect, true);
  assert.equal(json.gateway.info.clockPeers, 1);
  assert.ok(Math.abs(Number(json.gateway.info.clockOffsetMs) + 20_000) < 1_000, `clockOffsetMs ${String(json.gateway.info.clockOffsetMs)}`);

  // The honest peer sees the slow one ahead of it by nothing it would judge on (1 of 3 peers).
  const other = await status(honest);
  assert.equal(other.code, 0, other.err);
  assert.match(other.out, /^clock:\s+(19\.\d|20\.[0-9]) s ahead of the median of 1 peer \(too few to judge: 3 needed\)$/m);
});
