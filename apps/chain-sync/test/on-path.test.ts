// The chain goes on while an attacker on the path keeps breaking the link:
// two honest nodes (gateway, registry, store, chain-sync and a real producer
// each) linked only through a relay that flips one bit of the stream every
// second. Each flip closes the link as authentication_failed; the registries
// redial; both chains keep growing and agree; nobody reports anybody.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEVNET, networkFileJson, withLimits } from "@timenet/chain";
import { OffenceSchema, PeerRegistryService, Subjects } from "@timenet/proto";
import { createGrpcClient } from "@timenet/grpc";
import { startTcpRelay, tempDir, waitFor } from "@timenet/testkit";
import { FAST, nodePool, startProducerProcess, startRegistryProcess, type SyncNode } from "./harness.js";

const I = 500;
const NETWORK = withLimits(DEVNET, { blockIntervalMs: I, maxFutureDriftMs: 150 });
const { node, stopAll } = nodePool();
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await stopAll();
});

async function metric(n: SyncNode, name: string, labels: string): Promise<number> {
  const text = await (await fetch(n.gatewayMetricsUrl)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

describe("an attacker on the path between two producing nodes", () => {
  test("flipping a bit every second breaks the link again and again; the chain goes on and nobody is blamed", async () => {
    const dir = await tempDir("on-path-");
    cleanups.push(() => dir.remove());
    const networkFile = join(dir.path, "devnet-500ms.json");
    writeFileSync(networkFile, networkFileJson(NETWORK));
    // a (higher IP) dials b at B_SEEN_AS:b's port, where the relay listens; b never dials.
    const B_SEEN_AS = "127.0.0.226";
    const b = await node(227, { network: networkFile });
    const a = await node(228, { network: networkFile });
    let flipping = false;
    const firstSeen = new Map<number, number>();
    const relay = await startTcpRelay({
      host: B_SEEN_AS,
      port: b.p2pPort,
      target: { host: b.ip, port: b.p2pPort },
      upstreamLocalAddress: a.ip,
      onChunk: (chunk, dir, link) => {
        if (dir !== "down") return undefined;
        // Only inside established links (the handshake takes milliseconds here): the breaks to count are the transport's.
        if (!firstSeen.has(link.id)) firstSeen.set(link.id, Date.now());
        if (!flipping || Date.now() - firstSeen.get(link.id)! < 300) return undefined;
        flipping = false;
        const out = Buffer.from(chunk);
        out[out.length >> 1]! ^= 0x10;
        return out;
      },
    });
    cleanups.push(() => relay.stop());
    const offences: unknown[] = [];
    for (const n of [a, b]) n.bus.subscribe(Subjects.offence, OffenceSchema, (o) => void offences.push(o));
    const fast = { BACKOFF_MIN: "100ms", BACKOFF_MAX: "1s", STABLE_AFTER: "500ms" };
    const ra = await startRegistryProcess(a, join(dir.path, "peers-a"), { ...fast, BOOTSTRAP_PEERS: `${B_SEEN_AS}:${b.p2pPort}` });
    const rb = await startRegistryProcess(b, join(dir.path, "peers-b"), { ...fast, PASSIVE_WAIT: "10m" });
    cleanups.push(() => Promise.all([ra.process.stop(), rb.process.stop()]));
    for (const n of [a, b]) await n.startSync(FAST);
    const producers = await Promise.all([startProducerProcess(a, 0, networkFile), startProducerProcess(b, 1, networkFile)]);
    cleanups.push(() => Promise.all(producers.map((p) => p.stop())));

    await waitFor(async () => (await a.height()) >= 5 && (await b.height()) >= 5, { timeoutMs: 30_000, message: "both at height 5" });
    const startHeight = await a.height();
    // One flip a second for 12 s: every link is broken within a second of being made.
    const flips = setInterval(() => (flipping = true), 1_000);
    cleanups.push(async () => clearInterval(flips));
    await new Promise((r) => setTimeout(r, 12_000));
    clearInterval(flips);
    flipping = false;
    const breaks = await metric(a, "timenet_gateway_authentication_failures_total", 'stage="transport"');
    assert.ok(breaks >= 3, `the link was broken ${breaks} times`);
    assert.ok(relay.links.length >= 4, `a redialled after each break (${relay.links.length} links)`);

    // The chain went on through it, and both ends agree once the path is clean.
    const target = startHeight + 10;
    await waitFor(async () => (await a.height()) >= target && (await b.height()) >= target, { timeoutMs: 60_000, message: `both past height ${target}` });
    await waitFor(async () => (await a.tipHash()) === (await b.tipHash()) || Math.abs((await a.height()) - (await b.height())) <= 1, {
      timeoutMs: 10_000,
      message: "a and b agree within a block",
    });
    await Promise.all([a.bus.flush(), b.bus.flush()]);
    assert.deepEqual(offences, [], "nobody reported");
    const registries = [createGrpcClient(PeerRegistryService, ra.grpcAddress), createGrpcClient(PeerRegistryService, rb.grpcAddress)];
    try {
      for (const [client, peerIp] of [[registries[0]!, B_SEEN_AS], [registries[1]!, a.ip]] as const) {
        const p = (await client.getPeer({ ip: peerIp })).peer!;
        assert.equal(p.score, 0, `${peerIp} not penalised`);
        assert.equal(p.banUntilMs, 0n, `${peerIp} not banned`);
      }
    } finally {
      registries.forEach((c) => c.close());
    }
  });
});
