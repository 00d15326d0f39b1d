// A proxy that hides peers' source IPs (Docker's userland-proxy) is detected
// from real inbound handshakes and reported (log, gauge, /readyz), and nobody
// is penalised for it. Loopback is not private, so the tests say which
// addresses count as private / as the bridge (in production: RFC 1918/ULA and
// the container's default gateway from /proc/net/route).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { parseDefaultGateway } from "../src/default-gateway.js";
import { metricValue, nodePool, ScriptedPeer, type TestNode } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

const PROXY = "127.0.11.1" as PeerIp; // where every "proxied" peer comes from
const HONEST = "127.0.11.2" as PeerIp; // a peer that is not behind the proxy

/** A real peer (own key) dials from `from`, completes the handshake, and is established at `a`. */
async function arrive(a: TestNode, from: PeerIp, identity = ScriptedPeer.identity()): Promise<ScriptedPeer> {
  const p = await ScriptedPeer.dial(a.endpoint, from, identity);
  await p.handshake();
  p.answerPings();
  await waitFor(() => a.gateway.manager.isConnected(from), { message: `${from} established` });
  return p;
}

/** The peer hangs up itself (as a peer behind a proxy would, one after another: one connection per IP). */
async function leave(a: TestNode, p: ScriptedPeer, from: PeerIp): Promise<void> {
  p.close();
  await waitFor(() => !a.gateway.manager.isConnected(from), { message: `${from} gone` });
}

async function readyz(a: TestNode): Promise<{ status: number; body: { checks: Record<string, boolean>; reasons?: Record<string, string> } }> {
  const r = await fetch(`http://127.0.0.1:${a.gateway.metricsPort}/readyz`);
  return { status: r.status, body: (await r.json()) as { checks: Record<string, boolean>; reasons?: Record<string, string> } };
}

describe("source IPs masked by a proxy", () => {
  test("three different peers from one private address: error, gauge 1, /readyz fails with the reason; nobody is closed or refused", async () => {
    const a = await node("127.0.11.10", { sourceIpWatch: { bridgeIp: null, isPrivate: (ip) => ip === PROXY } });
    assert.equal(await metricValue(a.gateway, "timenet_gateway_source_ip_masked"), 0);
    assert.equal((await readyz(a)).status, 200);

    // Three different peers from an address that is not private: one IP, many
    // keys over time is not what the check is about there.
    for (let i = 0; i < 3; i++) await leave(a, await arrive(a, HONEST), HONEST);
    // The same peer reconnecting from the private address, twice: one peer.
    const again = ScriptedPeer.identity();
    await leave(a, await arrive(a, PROXY, again), PROXY);
    await leave(a, await arrive(a, PROXY, again), PROXY);
    // A second peer from it: two is not yet "every peer".
    await leave(a, await arrive(a, PROXY), PROXY);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_source_ip_masked"), 0);
    assert.equal((await readyz(a)).status, 200);

    const third = await arrive(a, PROXY);
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_source_ip_masked")) === 1, { message: "masked gauge" });
    const r = await readyz(a);
    assert.equal(r.status, 503);
    assert.deepEqual(r.body.checks, { nats: true, source_ips_visible: false });
    assert.match(r.body.reasons?.source_ips_visible ?? "", /3 different peers connected from 127\.0\.11\.1.*userland-proxy/);

    // It only reports: the third peer stays connected, later peers from the
    // same address and from others still get in, the gateway closed nobody.
    assert.equal(a.gateway.manager.isConnected(PROXY), true);
    assert.equal(third.closed, false);
    await leave(a, third, PROXY);
    await leave(a, await arrive(a, PROXY), PROXY);
    const honest = await arrive(a, HONEST);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_disconnects_total", { initiator: "local" }), 0);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_accept_refused_total"), 0);
    assert.equal(a.gateway.admission.isBanned(PROXY), false);
    honest.close();
  });

  test("two different peers from the container's default gateway (the bridge) are enough", async () => {
    const a = await node("127.0.11.20", { sourceIpWatch: { bridgeIp: PROXY } });
    await leave(a, await arrive(a, PROXY), PROXY);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_source_ip_masked"), 0);
    const second = await arrive(a, PROXY);
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_source_ip_masked")) === 1, { message: "masked gauge" });
    const r = await readyz(a);
    assert.equal(r.status, 503);
    assert.match(r.body.reasons?.source_ips_visible ?? "", /2 different peers connected from 127\.0\.11\.1, this container's default gateway/);
    assert.equal(a.gateway.manager.isConnected(PROXY), true);
    second.close();
  });

  test("the alarm ends once no new peer has come from that address within the window; the same strangers coming back raise it again", async () => {
    const a = await node("127.0.11.30", { sourceIpWatch: { bridgeIp: null, isPrivate: (ip) => ip === PROXY, windowMs: 4_000 } });
    const strangers = [ScriptedPeer.identity(), ScriptedPeer.identity(), ScriptedPeer.identity()];
    for (const s of strangers) await leave(a, await arrive(a, PROXY, s), PROXY);
    assert.equal((await readyz(a)).status, 503);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_source_ip_masked"), 1);
    // Nobody comes from there any more: /readyz is healthy again, not until a restart.
    await waitFor(async () => (await readyz(a)).status === 200, { timeoutMs: 15_000, intervalMs: 100, message: "alarm ended" });
    assert.equal(await metricValue(a.gateway, "timenet_gateway_source_ip_masked"), 0);
    for (const s of strangers) await leave(a, await arrive(a, PROXY, s), PROXY);
    assert.equal((await readyz(a)).status, 503, "raised again by fresh evidence");
  });

  test("the default gateway is read from a /proc/net/route table", () => {
    const table = [
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
      "eth0\t0000110A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
      "eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0",
    ].join("\n");
    assert.equal(parseDefaultGateway(table), "172.17.0.1");
    assert.equal(parseDefaultGateway(table.split("\n").slice(0, 2).join("\n")), undefined);
  });
});
