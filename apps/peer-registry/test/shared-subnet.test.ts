import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PeerSource } from "@timenet/proto";
import { waitFor } from "@timenet/testkit";
import { gatewayMetric, gatewayPeers, nodePool, registryMetric, waitLinked, type TestNode } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

/** Nothing held against an IP: no offence received, no score below 0, never banned. */
async function assertBlameless(judge: TestNode, ip: string, step: string): Promise<void> {
  const { peer } = await judge.registryClient().getPeer({ ip });
  assert.ok(peer, `${step}: ${judge.ip} knows ${ip}`);
  assert.equal(peer.score, 0, `${step}: ${judge.ip}'s score for ${ip}`);
  assert.equal(peer.banCount, 0, `${step}: ${judge.ip}'s bans of ${ip}`);
}

describe("an attacker in an honest peer's subnet", () => {
  test("strangers holding every inbound slot of an honest peer's /24 keep it out of our inbound, never out of the network: we learn it from peer exchange and dial it ourselves; nobody is blamed", async () => {
    // v (127.0.0.170) admits 2 inbound sockets per /24. Two well-behaved strangers at .176 and .177 (higher: they
    // dial v at once) take both of 127.0.0.0/24's slots and keep them, answering every ping: a cloud tenant who
    // rented addresses beside an honest node's. h (.175) is that honest node.
    const v = await node(170, { registry: { maxPerSubnet: 2, passiveWaitMs: 1_500, targetOutbound: 4 } });
    const squatters = [await node(176, { registry: { bootstrapPeers: [v.endpoint] } }), await node(177, { registry: { bootstrapPeers: [v.endpoint] } })];
    for (const s of squatters) await waitLinked(v, s);
    const squatterConnIds = new Map([...(await gatewayPeers(v))].map(([ip, c]) => [ip, c.connId]));

    // h is higher than v, so h dials v, and v's subnet limit refuses it at accept (v never learns of h this way:
    // no byte of a Hello was read). h also knows .176, which it dials after its own passive wait.
    const h = await node(175, { registry: { bootstrapPeers: [v.endpoint, squatters[0]!.endpoint] } });
    await waitFor(async () => (await gatewayMetric(v, "timenet_gateway_accept_refused_total", { reason: "too_many_connections" })) >= 1, {
      message: "v refuses h's socket: its /24 is full",
    });
    assert.equal((await gatewayPeers(v)).has(h.ip), false);

    // .176 tells v about h (h linked to it), v waits its passive wait (h is higher) and dials h: an outbound
    // socket is not an inbound slot, so the squatters cannot keep it out.
    await waitLinked(v, h, 20_000);
    assert.equal((await gatewayPeers(v)).get(h.ip)!.direction, 2 /* outbound */, "v dialled h; h's inbound was never admitted");
    const learned = await v.registryClient().getPeer({ ip: h.ip });
    assert.equal(learned.peer!.source, PeerSource.PEER_EXCHANGE, "v learned h from .176");
    assert.ok((await registryMetric(h, "timenet_registry_dial_failures_total")) >= 1, "h's dials of v failed while the subnet was full");

    // Nobody is blamed: not h for dials v refused, not v for refusing them, not the strangers for being there.
    for (const [judge, ip] of [[v, h.ip], [h, v.ip], [v, squatters[0]!.ip], [v, squatters[1]!.ip]] as const) await assertBlameless(judge, ip, "linked");
    for (const n of [v, h]) {
      assert.equal(await registryMetric(n, "timenet_registry_offences_total"), 0, `${n.ip}: offences`);
      assert.equal(await registryMetric(n, "timenet_registry_bans_total"), 0, `${n.ip}: bans`);
    }

    // The link holds, and so do the strangers' (no eviction for it; they did nothing wrong): the same connections
    // after v has had 24 more pongs on its three links (pings every 500 ms: ~4 s, two of h's longest backoffs).
    const hConnId = (await gatewayPeers(v)).get(h.ip)!.connId;
    const pongs = await gatewayMetric(v, "timenet_gateway_pongs_received_total");
    await waitFor(async () => (await gatewayMetric(v, "timenet_gateway_pongs_received_total")) >= pongs + 24, { timeoutMs: 15_000, message: "24 more pongs on v" });
    const held = await gatewayPeers(v);
    assert.equal(held.get(h.ip)?.connId, hConnId, "v's link to h never cycled");
    for (const [ip, connId] of squatterConnIds) assert.equal(held.get(ip)?.connId, connId, `${ip} keeps its slot`);
    assert.equal(await gatewayMetric(v, "timenet_gateway_evictions_total"), 0);
  });
});
