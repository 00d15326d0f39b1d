// One node that we know under two IPs (a multi-homed host, or one address
// reached through a relay that keeps our source IP), while it sees us under
// one: its gateway keeps one socket per IP (ours), so whichever of our two
// connections loses the duplicate race is closed. If we then redialled the
// losing address, our new dial would win ("newer dial") and close the other,
// which we would redial in turn: a cycle of connections, every backoff step,
// forever. Real gateways and registries, a real TCP relay.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { freePort, startTcpRelay, waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { describeConnections, gatewayMetric, gatewayPeers, nodePool, registryMetric } from "./harness.js";

const { node, stopAll } = nodePool();
const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
  await stopAll();
});

test("a node known under two IPs is held under one, and its other address is not redialled while it is connected", async () => {
  // b listens on 127.0.0.234; a relay on 127.0.0.235 (same port) forwards to it from a's own address.
  const B_ALSO = "127.0.0.235" as PeerIp;
  const port = await freePort(B_ALSO);
  // b never dials: only a's dials are in play.
  const b = await node(234, { p2pPort: port, registry: { passiveWaitMs: 600_000, targetOutbound: 0 } });
  const relay = await startTcpRelay({ host: B_ALSO, port, target: { host: b.ip, port: b.p2pPort }, upstreamLocalAddress: "127.0.0.236" });
  closers.push(() => relay.stop());
  // a (higher IP) has both addresses as persistent peers: it dials both at once.
  const a = await node(236, { registry: { bootstrapPeers: [b.endpoint, { ip: B_ALSO, port }] } });
  const linked = async () => {
    const held = [...(await gatewayPeers(a)).entries()].filter(([ip]) => ip === b.ip || ip === B_ALSO);
    return held.length === 1 && (await gatewayPeers(b)).has(a.ip) ? held[0] : undefined;
  };
  // The two dials race at b: one loses as a duplicate, and a holds its address back.
  const deferred = () => registryMetric(a, "timenet_registry_redials_deferred_total", { reason: "same_node_connected" });
  await waitFor(async () => (await deferred()) >= 1 && (await linked()), { timeoutMs: 30_000, intervalMs: 50, message: "a and b linked, the losing address held back" }).catch(
    async (err: Error) => {
      // What each side held, so a failure can be read without a rerun.
      const held = async (n: typeof a) => describeConnections(await gatewayPeers(n));
      const records = (await a.registryClient().listPeers({})).peers.map((p) => `${p.ip}:${p.port} conn ${p.connId} failures ${p.consecutiveDialFailures} node ${p.nodeId.slice(0, 8)}`);
      const duplicates = await gatewayMetric(b, "timenet_gateway_disconnects_total", { reason: "duplicate" });
      throw new Error(`${err.message}; deferred ${await deferred()}, b closed ${duplicates} duplicates; a holds [${await held(a)}], b holds [${await held(b)}]; a's book [${records.join("; ")}]`);
    },
  );
  const first = await linked();

  // Ten of a's backoff steps (100 ms at first, 2 s at most here): a cycle would show as more duplicates and a new connection.
  const duplicatesAt = await gatewayMetric(b, "timenet_gateway_disconnects_total", { reason: "duplicate" });
  await new Promise((r) => setTimeout(r, 5_000));
  const now = await linked();
  assert.deepEqual(now, first, "the same connection, under the same IP, all along");
  assert.equal(await gatewayMetric(b, "timenet_gateway_disconnects_total", { reason: "duplicate" }), duplicatesAt, "no duplicate since");
  assert.ok(duplicatesAt <= 2, `${duplicatesAt} duplicates while the two dials raced`);
  // The address not in use is blamed for nothing.
  const other = first![0] === b.ip ? B_ALSO : b.ip;
  const record = (await a.registryClient().getPeer({ ip: other })).peer!;
  assert.equal(record.score, 0);
  assert.equal(record.consecutiveDialFailures, 0);
});
