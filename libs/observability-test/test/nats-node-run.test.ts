// Two whole nodes of real service processes (the devnet library: every
// service with its own NATS user on nats-servers running the generated
// deploy/nats/users.conf): they connect, produce, sync, exchange peers and
// publish their state, and no NATS permission is violated on the way.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "@timenet/testkit";
import { metricOf, tempDevnet, type Devnet } from "./devnet.js";

const SERVICES = ["p2p-gateway", "peer-registry", "chain-sync", "block-store", "block-producer"];
const devnet = await tempDevnet("nats-node-run-");
after(() => devnet.stop());

test("gateway, registry, store, sync and producer run on their own NATS users with no permission violation", { timeout: 120_000 }, async () => {
  const exits: string[] = [];
  const net: Devnet = await devnet.start({
    nodes: 2,
    workers: 2,
    producers: 1,
    ipBase: "127.0.4",
    network: "devnet-fast",
    onExit: (name: string, code: unknown) => exits.push(`${name} exited ${String(code)}`),
  });
  const metric = (k: number, service: string, name: string, labels?: Record<string, string>) => metricOf(net, k, service, name, labels);
  // Connected both ways, the registries see each other, node 2 syncs node 1's blocks.
  await waitFor(async () => (await metric(1, "p2p-gateway", "timenet_gateway_peers")) >= 1 && (await metric(2, "p2p-gateway", "timenet_gateway_peers")) >= 1, {
    timeoutMs: 30_000,
    message: "the two gateways connected",
  });
  await waitFor(async () => (await metric(2, "peer-registry", "timenet_registry_peers", { state: "connected" })) >= 1, { timeoutMs: 30_000, message: "registry 2 sees node 1" });
  await waitFor(async () => (await metric(2, "block-store", "timenet_store_height")) >= 5, { timeoutMs: 60_000, message: "node 2 synced 5 blocks" });
  // The registry writes its policy and the gateway applies it from its watch, independently of the sync: awaited, not raced
  // (with protocol 3's faster links node 2 could sync 5 blocks before its gateway had applied it: CI run 28).
  for (const k of [1, 2]) {
    await waitFor(async () => (await metric(k, "p2p-gateway", "timenet_gateway_admission_policy_version")) >= 1, { timeoutMs: 30_000, message: `gateway ${k} enforces its registry's policy` });
  }
  assert.deepEqual(exits, []);

  // No refusal: not in either NATS server's log, not counted by any service.
  for (const k of [1, 2]) {
    for (const s of SERVICES.filter((x) => k === 1 || x !== "block-producer")) {
      assert.equal(await metric(k, s, "timenet_nats_permission_violations_total"), 0, `n${k} ${s} had refusals`);
    }
  }
  const natsLogs = readdirSync(net.logs).filter((f) => f.endsWith("-nats.log"));
  assert.equal(natsLogs.length, 2);
  for (const f of natsLogs) {
    const text: string = readFileSync(join(net.logs, f), "utf8");
    assert.match(text, /Server is ready/);
    assert.deepEqual(
      text.split("\n").filter((l: string) => /violation/i.test(l)),
      [],
      f,
    );
  }
});
