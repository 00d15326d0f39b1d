import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PeerDirection, PeerSource, PeerState } from "@timenet/proto";
import { freePort, waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { gatewayMetric, gatewayPeers, nodePool, registryMetric, waitLinked } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

describe("dial plan", () => {
  test("bootstrap peers from configuration are all dialled and the outbound target is reached", async () => {
    const b = await node(81);
    const c = await node(82);
    const d = await node(83);
    const a = await node(84, { registry: { bootstrapPeers: [b.endpoint, c.endpoint, d.endpoint], targetOutbound: 3 } });
    for (const peer of [b, c, d]) await waitLinked(a, peer);
    // The registry learns each link from the gateway's state bucket, moments after the gateway lists it.
    const client = a.registryClient();
    const stats = await waitFor(
      async () => {
        const s = await client.stats({});
        return s.connected === 3 && s;
      },
      { message: "a's registry counts the three links" },
    );
    assert.equal(stats.outbound, 3);
    assert.equal(stats.targetOutbound, 3);
    // b's registry sees the same link from its side: a is an inbound peer.
    await waitFor(async () => (await b.registryClient().listPeers({ state: PeerState.CONNECTED })).peers.some((p) => p.ip === a.ip), { message: "b counts a" });
    const onB = await b.registryClient().getPeer({ ip: a.ip });
    assert.equal(onB.peer!.source, PeerSource.INBOUND);
    assert.equal(onB.peer!.direction, PeerDirection.INBOUND);
    assert.equal(onB.peer!.port, a.p2pPort, "the listen port learned from the Hello, not the ephemeral one");
    assert.equal(await registryMetric(a, "timenet_registry_dial_attempts_total", { why: "persistent" }), 3);
  });

  test("the lower IP never dials a higher peer that dials it; it falls back after the passive wait when the higher one does not", async () => {
    // 127.0.0.86 > 127.0.0.85: the higher dials at once; the lower would wait 60 s (from its own start:
    // long enough that starting the higher node on a loaded machine never outlasts it).
    const lowPort = await freePort("127.0.0.85");
    const highPort = await freePort("127.0.0.86");
    const low = await node(85, { p2pPort: lowPort, registry: { passiveWaitMs: 60_000, bootstrapPeers: [{ ip: "127.0.0.86" as PeerIp, port: highPort }] } });
    const high = await node(86, { p2pPort: highPort, registry: { bootstrapPeers: [low.endpoint] } });
    await waitLinked(low, high, 15_000);
    assert.equal((await gatewayPeers(high)).get(low.ip)!.direction, 2 /* outbound */);
    assert.equal(await registryMetric(low, "timenet_registry_dial_attempts_total"), 0, "the lower side never dialled");
    assert.equal(await gatewayMetric(low, "timenet_gateway_dial_attempts_total"), 0);

    // A third node, lower than 87, that 87 does not know: after the passive wait, the lower one dials.
    // Timed from just before the lower's registry starts (its wait starts inside): never less than the wait it
    // kept, however slowly it starts on a loaded machine. Without a wait it links in far less than a second.
    const passiveWaitMs = 1_000;
    const higher = await node(87);
    const lower = await node(80, { noRegistry: true });
    const started = Date.now();
    await lower.startRegistry({ passiveWaitMs, bootstrapPeers: [higher.endpoint] });
    await waitLinked(lower, higher, 15_000);
    assert.ok(Date.now() - started >= passiveWaitMs, `dialled after ${Date.now() - started}ms`);
    assert.equal((await gatewayPeers(lower)).get(higher.ip)!.direction, 2 /* outbound */);
  });

  test("redial backoff grows while a peer is unreachable, and resets once its connection proves stable", async () => {
    // A port on 127.0.0.88 where nothing listens yet.
    const port = await freePort("127.0.0.88");
    const a = await node(89, { registry: { bootstrapPeers: [{ ip: "127.0.0.88" as PeerIp, port }], backoffMinMs: 100, backoffMaxMs: 5_000, stableAfterMs: 500 } });
    const seen: Array<{ failures: number; at: number }> = [];
    await waitFor(
      () => {
        const p = a.registry!.records.get("127.0.0.88" as PeerIp);
        const f = p?.consecutiveDialFailures ?? 0;
        if (f > (seen.at(-1)?.failures ?? 0)) seen.push({ failures: f, at: Date.now() });
        return f >= 5;
      },
      { timeoutMs: 15_000, intervalMs: 5, message: "five failed dials" },
    );
    // The gap after failure k is jittered within [100*2^(k-1)/2, 100*2^(k-1)]: gaps grow.
    const gaps = seen.slice(1).map((s, i) => s.at - seen[i]!.at);
    assert.ok(gaps.length >= 3, `gaps ${gaps}`);
    assert.ok(gaps.at(-1)! > gaps[0]!, `gaps grow: ${gaps.join(", ")}`);
    assert.ok(gaps.at(-1)! >= 100 * 2 ** (seen.at(-2)!.failures - 1) * 0.5 - 20, `last gap ${gaps.at(-1)} respects the backoff`);
    assert.ok((await registryMetric(a, "timenet_registry_dial_failures_total", { reason: "econnrefused" })) >= 5);

    // Something starts listening there and speaks the protocol: a real node's gateway on that address.
    await node(88, { gatewayEnv: { P2P_PORT: String(port) } });
    await waitFor(() => a.registry!.records.get("127.0.0.88" as PeerIp)?.state === PeerState.CONNECTED, { timeoutMs: 15_000, message: "connected at last" });
    assert.ok(a.registry!.records.get("127.0.0.88" as PeerIp)!.consecutiveDialFailures >= 5, "not reset at connect: a flapping peer would cycle");
    await waitFor(() => a.registry!.records.get("127.0.0.88" as PeerIp)!.consecutiveDialFailures === 0, { timeoutMs: 10_000, message: "reset after a stable connection" });
  });

  test("peer exchange discovers a third node that only one peer knew", async () => {
    const c = await node(92);
    const b = await node(91, { registry: { bootstrapPeers: [c.endpoint] } });
    await waitLinked(b, c);
    const a = await node(93, { registry: { bootstrapPeers: [b.endpoint], targetOutbound: 4 } });
    await waitLinked(a, b);
    // a asked b for its peers, learned c, and dialled it to fill its outbound target.
    await waitLinked(a, c, 10_000);
    const learned = await a.registryClient().getPeer({ ip: c.ip });
    assert.equal(learned.peer!.source, PeerSource.PEER_EXCHANGE);
    assert.equal(learned.peer!.port, c.p2pPort);
    assert.ok((await registryMetric(a, "timenet_registry_peer_exchange_candidates_total", { result: "accepted" })) >= 1);
    assert.ok((await registryMetric(b, "timenet_registry_peer_exchange_requests_total", { result: "answered" })) >= 1);
    // Private addresses are only shared with private peers: loopback peers see each other.
    const shared = b.registry!.addresses.share("203.0.113.9" as PeerIp, 32, Date.now());
    assert.equal(shared.length, 0, "a public peer is never told about loopback addresses");
  });
});
