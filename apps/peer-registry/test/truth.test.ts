import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Direction, DisconnectReason, PeerSource, PeerState } from "@timenet/proto";
import { waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { describeConnections, gatewayMetric, gatewayPeers, nodePool, registryMetric, waitLinked, type TestNode } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

/**
 * The registry's connected count, its metric, and its Stats equal the
 * gateway's established connections, and no IP is listed twice. The registry
 * follows the gateway's published state, so it may lag a change by moments
 * (a duplicate resolved just after a reconnect): every check must hold at
 * one moment within the timeout, and a failure says what each side held.
 */
async function assertTruthful(a: TestNode, expected: number, step: string): Promise<void> {
  let last = "never compared";
  const mismatch = async (): Promise<string | undefined> => {
    const gw = await gatewayPeers(a);
    const stats = await a.registryClient().stats({});
    const peers = (await a.registryClient().listPeers({ state: PeerState.CONNECTED })).peers;
    const all = (await a.registryClient().listPeers({})).peers.map((p) => p.ip);
    const registryMetricNow = await registryMetric(a, "timenet_registry_peers", { state: "connected" });
    const gatewayMetricNow = await gatewayMetric(a, "timenet_gateway_peers");
    const held = `gateway holds [${describeConnections(gw)}], the book [${peers.map((p) => `${p.ip}#${p.connId}`).join(", ")}]`;
    if (gw.size !== expected) return `the gateway holds ${gw.size}; ${held}`;
    if (stats.connected !== expected) return `the registry's stats say ${stats.connected} connected; ${held}`;
    if (stats.inbound + stats.outbound !== expected) return `inbound ${stats.inbound} + outbound ${stats.outbound}; ${held}`;
    if (peers.map((p) => p.ip).sort().join() !== [...gw.keys()].sort().join()) return `not the same IPs; ${held}`;
    for (const p of peers) if (p.connId !== gw.get(p.ip)!.connId) return `${p.ip} is not the very connection the gateway holds; ${held}`;
    if (registryMetricNow !== expected) return `registry metric ${registryMetricNow}; ${held}`;
    if (gatewayMetricNow !== expected) return `gateway metric ${gatewayMetricNow}; ${held}`;
    if (new Set(all).size !== all.length) return `an IP listed twice in [${all.join(", ")}]`;
    return undefined;
  };
  await waitFor(async () => (last = (await mismatch()) ?? "") === "", { timeoutMs: 10_000, intervalMs: 25, message: step }).catch((err: Error) => {
    throw new Error(`${err.message}: ${expected} connections expected on both sides; last seen: ${last}`);
  });
}

describe("truthful counts", () => {
  test("the registry's counts equal the gateway's connections through kills, restarts and operator disconnects", async () => {
    const b = await node(141);
    const c = await node(142);
    const d = await node(143);
    const a = await node(149, { registry: { bootstrapPeers: [b.endpoint, c.endpoint, d.endpoint] } });
    await assertTruthful(a, 3, "start");

    for (let round = 0; round < 2; round++) {
      await b.gateway.kill(); // a crash: no Goodbye
      await assertTruthful(a, 2, `round ${round}: b crashed`);
      await b.startGateway();
      await assertTruthful(a, 3, `round ${round}: b back`);

      await c.gateway.stop(); // SIGTERM: Goodbye{SHUTDOWN}
      await assertTruthful(a, 2, `round ${round}: c stopped`);
      await c.startGateway();
      await assertTruthful(a, 3, `round ${round}: c back`);

      // The operator drops d at a's gateway; a's registry redials it.
      const before = (await gatewayPeers(a)).get(d.ip)!.connId;
      await a.gatewayGrpc.disconnect({ ip: d.ip });
      await waitFor(async () => ((await gatewayPeers(a)).get(d.ip)?.connId ?? before) !== before, { message: `round ${round}: d redialled` });
      await assertTruthful(a, 3, `round ${round}: d redialled`);
    }

    // The registry itself restarts while the world changes under it.
    await a.stopRegistry();
    await b.gateway.kill();
    await waitFor(async () => (await gatewayPeers(a)).size === 2, { message: "b gone while the registry was down" });
    await a.startRegistry();
    await assertTruthful(a, 2, "registry restarted (missed b's disconnect)");
    await b.startGateway();
    await assertTruthful(a, 3, "b back after the registry restart");
  });

  test("a crash of our own gateway is not the peers' fault: no failure counted against them, and they are redialled at once", async () => {
    const b = await node(161, { registry: { passiveWaitMs: 60_000 } }); // b and c (lower IPs) leave the dialling to a
    const c = await node(162, { registry: { passiveWaitMs: 60_000 } });
    // A counted failure would mean a redial no sooner than BACKOFF_MIN / 2 = 15 s: far from a prompt redial even on a loaded machine.
    const a = await node(169, { registry: { bootstrapPeers: [b.endpoint, c.endpoint], stableAfterMs: 60_000, backoffMinMs: 30_000 } });
    await waitLinked(a, b);
    await waitLinked(a, c);
    for (const peer of [b, c]) assert.equal((await gatewayPeers(a)).get(peer.ip)!.direction, Direction.OUTBOUND, "the higher IP dialled");
    // The book has both links (from the gateway's state bucket) before the crash, or the crash could beat the news.
    await assertTruthful(a, 2, "before the crash");

    await a.gateway.kill(); // a crash writes nothing: the book still says connected
    assert.equal(a.registry!.records.get(b.ip)!.state, PeerState.CONNECTED);
    await a.startGateway();
    const restartedAt = Date.now();
    for (const peer of [b, c]) {
      await waitFor(async () => (await gatewayPeers(a)).get(peer.ip)?.direction === Direction.OUTBOUND, { timeoutMs: 20_000, message: `a redials ${peer.ip}` });
    }
    // A failure would have meant a backoff of at least BACKOFF_MIN / 2 (15 s) before the redial.
    assert.ok(Date.now() - restartedAt < 10_000, `redialled ${Date.now() - restartedAt} ms after the gateway was back`);
    await assertTruthful(a, 2, "after the gateway restart");
    for (const peer of [b, c]) {
      const p = (await a.registryClient().getPeer({ ip: peer.ip })).peer!;
      assert.equal(p.consecutiveDialFailures, 0, `${peer.ip}: our crash is not counted against it`);
      assert.equal(p.lastDisconnectReason, DisconnectReason.LOCAL_RESTART, `${peer.ip}: the end is ours, not unspecified`);
      assert.equal(p.totalConnections, 2, `${peer.ip}: one new connection, not several`);
    }
    assert.equal(await registryMetric(a, "timenet_registry_gateway_state_total", { change: "gateway_restarted" }), 1);
    assert.equal(await registryMetric(a, "timenet_registry_offences_total"), 0);
  });

  test("a registry restart keeps the book and the bans", async () => {
    const b = await node(151);
    const c = await node(152);
    const a = await node(159, { registry: { bootstrapPeers: [b.endpoint] } });
    const client = a.registryClient();
    await client.addPeer({ endpoint: `${c.ip}:${c.p2pPort}` });
    await waitLinked(a, b);
    await waitLinked(a, c);
    // The snapshot below is of a book that has both links, not one a moment behind the gateway.
    await assertTruthful(a, 2, "before the restart");
    await client.banPeer({ ip: "127.0.0.158", durationMs: 3_600_000n, reason: "kept across restarts" });
    const before = (await client.listPeers({})).peers;
    const banned = before.find((p) => p.ip === "127.0.0.158")!;

    await a.stopRegistry();
    await a.startRegistry();
    const after = (await a.registryClient().listPeers({})).peers;
    assert.deepEqual(
      after.map((p) => [p.ip, p.port, p.nodeId, p.source, p.persistent, p.totalConnections]),
      before.map((p) => [p.ip, p.port, p.nodeId, p.source, p.persistent, p.totalConnections]),
      "the same book",
    );
    const stillBanned = after.find((p) => p.ip === "127.0.0.158")!;
    assert.equal(stillBanned.state, PeerState.BANNED);
    assert.equal(stillBanned.banUntilMs, banned.banUntilMs);
    assert.equal(stillBanned.banReason, "operator: kept across restarts");
    assert.equal(after.find((p) => p.ip === c.ip)!.source, PeerSource.OPERATOR);
    // Connections were read from the gateway's state, not assumed from disk.
    await assertTruthful(a, 2, "after restart");
    // The gateway still enforces the ban from the restarted registry's policy.
    await waitFor(async () => (await gatewayMetric(a, "timenet_gateway_banned_ips")) === 1, { message: "ban in force" });
    assert.ok(a.registry!.records.get("127.0.0.158" as PeerIp));
  });
});
