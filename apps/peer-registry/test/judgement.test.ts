import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { status } from "@grpc/grpc-js";
import { fromBinary } from "@bufbuild/protobuf";
import { AdmissionPolicySchema, Buckets, OffenceKind, OffenceSchema, PeerState, SendToPeerSchema, StateKeys, Subjects } from "@timenet/proto";
import { StateBucket } from "@timenet/bus";
import { waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { gatewayMetric, gatewayPeers, nodePool, registryMetric, waitLinked } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

const OTHER_GENESIS = "77".repeat(32);

/** Opens a raw TCP socket from a given local address; resolves with what happened to it. */
async function rawSocket(target: { ip: string; port: number }, localAddress: string): Promise<{ socket: Socket; firstBytes: Promise<boolean>; closed: Promise<void> }> {
  const socket = connect({ host: target.ip, port: target.port, localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => undefined);
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  const firstBytes = new Promise<boolean>((r) => {
    socket.once("data", () => r(true));
    socket.once("close", () => r(false));
  });
  return { socket, firstBytes, closed };
}

describe("bans and admission", () => {
  test("a wrong-genesis node is banned at once and refused at accept on its next attempt, with no handshake", async () => {
    const a = await node(100);
    // w (higher IP) keeps dialling a: it is in w's bootstrap list.
    const w = await node(101, { gatewayEnv: { GENESIS_HASH: OTHER_GENESIS }, registry: { bootstrapPeers: [a.endpoint] } });
    await waitFor(async () => (await a.registryClient().getPeer({ ip: w.ip }).catch(() => undefined))?.peer?.state === PeerState.BANNED, {
      message: "a's registry banned w",
    });
    const banned = (await a.registryClient().getPeer({ ip: w.ip })).peer!;
    assert.equal(banned.banReason, "wrong_genesis");
    assert.ok(banned.banUntilMs > BigInt(Date.now() + 30 * 60_000), "the default first ban lasts an hour");
    assert.equal(await registryMetric(a, "timenet_registry_bans_total", { reason: "wrong_genesis" }), 1);
    assert.equal(await registryMetric(a, "timenet_registry_offences_total", { kind: "wrong_genesis", severity: "fatal" }), 1);
    // w's gateway judged a the same way (each side bans the other), so the
    // next attempt from w's address is a raw connect: refused before any byte, once a's gateway has the
    // registry's policy (it comes by a NATS KV watch, moments after the registry's book says banned).
    await waitFor(async () => (await gatewayMetric(a, "timenet_gateway_banned_ips")) === 1, { message: "a's gateway enforces the ban" });
    const again = await rawSocket({ ip: a.ip, port: a.p2pPort }, w.ip);
    assert.equal(await again.firstBytes, false, "no Hello for a banned address");
    assert.equal(await gatewayMetric(a, "timenet_gateway_accept_refused_total", { reason: "banned" }), 1);
    await waitFor(async () => (await w.registryClient().getPeer({ ip: a.ip })).peer!.state === PeerState.BANNED, { message: "w banned a too" });
    assert.equal(await gatewayMetric(a, "timenet_gateway_handshake_failures_total", { reason: "wrong_genesis" }), 1, "exactly one handshake ever");
    assert.equal((await gatewayPeers(a)).size, 0);
  });

  test("an allow-listed peer that misbehaves is disconnected and redialled, never banned; a stranger doing the same is banned", async () => {
    // a accepts frames of at most 1 KiB; its peers send it 4 KiB ones (FRAME_TOO_LARGE: a mid-grade offence).
    const friend = await node(102);
    const stranger = await node(103);
    const a = await node(104, {
      gatewayEnv: { MAX_FRAME_BYTES: "1024" },
      registry: { allowList: [friend.ip], bootstrapPeers: [friend.endpoint, stranger.endpoint], backoffMinMs: 50 },
    });
    const big = { payload: { case: "tx" as const, value: { data: new Uint8Array(4096) } } };
    for (let round = 1; round <= 3; round++) {
      await waitLinked(a, friend);
      const before = (await gatewayPeers(a)).get(friend.ip)!.connId;
      friend.bus.publish(Subjects.peerOutSend, SendToPeerSchema, { peerIp: a.ip, envelope: big });
      // Closed for the offence, then redialled by a's registry: a new connection.
      await waitFor(async () => {
        const now = (await gatewayPeers(a)).get(friend.ip);
        return now !== undefined && now.connId !== before;
      }, { timeoutMs: 10_000, message: `round ${round}: friend redialled` });
    }
    const f = (await a.registryClient().getPeer({ ip: friend.ip })).peer!;
    assert.equal(f.allowListed, true);
    assert.equal(f.banUntilMs, 0n);
    assert.ok(f.score <= -100, `score ${f.score} is low, yet no ban`);
    assert.equal(await registryMetric(a, "timenet_registry_offences_total", { kind: "frame_too_large" }), 3);

    // The stranger: two mid-grade offences in a row reach the ban threshold.
    for (let round = 1; round <= 2; round++) {
      await waitLinked(a, stranger);
      stranger.bus.publish(Subjects.peerOutSend, SendToPeerSchema, { peerIp: a.ip, envelope: big });
      await waitFor(async () => !(await gatewayPeers(a)).has(stranger.ip), { message: `round ${round}: stranger dropped` });
    }
    await waitFor(async () => (await a.registryClient().getPeer({ ip: stranger.ip })).peer!.state === PeerState.BANNED, { message: "stranger banned" });
    assert.equal(await registryMetric(a, "timenet_registry_bans_total", { reason: "frame_too_large" }), 1);
    assert.equal(await registryMetric(a, "timenet_registry_bans_total"), 1, "the friend was never banned");
  });

  test("a flood of connections from one /24 is capped at accept; allow-listed addresses are not", async () => {
    const a = await node(110, { registry: { maxPerSubnet: 3, maxInbound: 64, allowList: ["127.0.0.130" as PeerIp] } });
    await waitFor(async () => (await gatewayMetric(a, "timenet_gateway_admission_policy_version")) > 0, { message: "policy in force" });
    const flood = [];
    for (let i = 0; i < 10; i++) flood.push(await rawSocket({ ip: a.ip, port: a.p2pPort }, `127.0.0.${111 + i}`));
    const greeted = await Promise.all(flood.map((f) => f.firstBytes));
    // Three strangers got a Hello; seven were closed before a single byte.
    assert.equal(greeted.filter(Boolean).length, 3);
    assert.equal(await gatewayMetric(a, "timenet_gateway_accept_refused_total", { reason: "too_many_connections" }), 7);
    const friend = await rawSocket({ ip: a.ip, port: a.p2pPort }, "127.0.0.130");
    assert.equal(await friend.firstBytes, true, "the allow-listed address is admitted");
    for (const f of [...flood, friend]) f.socket.destroy();
  });

  test("a flood of offenders is banned within MAX_BANS: the latest refused at accept, the earliest lifted early, the honest link untouched", async () => {
    const b = await node(140);
    const a = await node(141, { registry: { maxBans: 3, bootstrapPeers: [b.endpoint] } });
    await waitLinked(a, b);
    const linkBefore = (await gatewayPeers(a)).get(b.ip)!.connId;
    // Ten addresses each commit a fatal offence (as a's gateway reports one), one after another.
    const offenders = Array.from({ length: 10 }, (_, i) => `127.0.0.${150 + i}`);
    for (const ip of offenders) {
      a.bus.publish(Subjects.offence, OffenceSchema, { ip, kind: OffenceKind.WRONG_GENESIS, detail: "flood" });
      await a.bus.flush();
      await waitFor(async () => (await a.registryClient().getPeer({ ip }).catch(() => undefined))?.peer?.state === PeerState.BANNED, { message: `${ip} banned` });
    }
    assert.equal(await registryMetric(a, "timenet_registry_bans_total", { reason: "wrong_genesis" }), 10);
    assert.equal(await registryMetric(a, "timenet_registry_unbans_total", { reason: "evicted" }), 7);
    const states = await Promise.all(offenders.map(async (ip) => (await a.registryClient().getPeer({ ip })).peer!.state));
    assert.deepEqual(states.map((st) => st === PeerState.BANNED), [...Array(7).fill(false), true, true, true], "the three latest stay banned");
    // What a's gateway enforces, on real sockets: the latest offender is refused before a byte, the earliest is greeted.
    // The policy is published whole: once it refuses the latest, it holds every change before.
    await waitFor(
      async () => {
        const latest = await rawSocket({ ip: a.ip, port: a.p2pPort }, offenders[9]!);
        const greeted = await latest.firstBytes;
        latest.socket.destroy();
        return !greeted;
      },
      { message: "the latest offender is refused at accept" },
    );
    assert.equal(await gatewayMetric(a, "timenet_gateway_banned_ips"), 3, "the gateway holds MAX_BANS bans, not ten");
    const earliest = await rawSocket({ ip: a.ip, port: a.p2pPort }, offenders[0]!);
    assert.equal(await earliest.firstBytes, true, "the earliest offender's ban was lifted to make room");
    earliest.socket.destroy();
    assert.equal((await gatewayPeers(a)).get(b.ip)?.connId, linkBefore, "the honest link was never touched");
    assert.equal((await a.registryClient().getPeer({ ip: b.ip })).peer!.score, 0, "nor its IP penalised");
  });

  test("bans that come every 10 ms are written as a policy at most once per 100 ms, and the gateway ends up enforcing every one", async () => {
    const a = await node(142);
    const writesBefore = await registryMetric(a, "timenet_registry_admission_policy_publishes_total", { result: "ok" });
    // 40 addresses, each with a fatal offence, one every 10 ms (each its own turn of the registry's loop).
    const offenders = Array.from({ length: 40 }, (_, i) => `127.0.33.${1 + i}`);
    const began = performance.now();
    for (const ip of offenders) {
      a.bus.publish(Subjects.offence, OffenceSchema, { ip, kind: OffenceKind.WRONG_GENESIS, detail: "spaced" });
      await a.bus.flush();
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor(async () => (await gatewayMetric(a, "timenet_gateway_banned_ips")) === offenders.length, {
      // On a timeout: did an offence not reach the registry, did it never write the last ban (the bucket holds fewer), or did the gateway's watch miss it?
      message: async () => {
        const stored = await (await StateBucket.follow(a.bus, Buckets.admission)).get(StateKeys.admissionPolicy, (v) => fromBinary(AdmissionPolicySchema, v));
        return (
          `the gateway enforces all ${offenders.length} bans (now ${await gatewayMetric(a, "timenet_gateway_banned_ips")}, ` +
          `its policy version ${await gatewayMetric(a, "timenet_gateway_admission_policy_version")}; ` +
          `the bucket holds version ${stored?.version} with ${stored?.bans.length} bans; ` +
          `registry writes ${await registryMetric(a, "timenet_registry_admission_policy_publishes_total", { result: "ok" })} ok, ` +
          `${await registryMetric(a, "timenet_registry_admission_policy_publishes_total", { result: "error" })} failed; ` +
          `registry offences ${await registryMetric(a, "timenet_registry_offences_total")}, bans ${await registryMetric(a, "timenet_registry_bans_total")})`
        );
      },
    });
    const tookMs = performance.now() - began;
    const writes = (await registryMetric(a, "timenet_registry_admission_policy_publishes_total", { result: "ok" })) - writesBefore;
    // One write per 100 ms over the whole time, and one at the start of it: without the spacing, ~40.
    assert.ok(writes >= 1 && writes <= Math.ceil(tookMs / 100) + 1, `${writes} policy writes in ${Math.round(tookMs)} ms`);
    assert.ok(writes < offenders.length / 2, `${writes} policy writes for ${offenders.length} bans`);
    const last = await rawSocket({ ip: a.ip, port: a.p2pPort }, offenders.at(-1)!);
    assert.equal(await last.firstBytes, false, "the last offender is refused at accept");
  });

  test("operators ban and unban over gRPC; bad input is a clear error", async () => {
    const b = await node(121);
    const a = await node(122, { registry: { bootstrapPeers: [b.endpoint] } });
    await waitLinked(a, b);
    const linked = (await gatewayPeers(a)).get(b.ip)!.connId;
    const client = a.registryClient();
    const res = await client.banPeer({ ip: b.ip, durationMs: 60_000n, reason: "testing" });
    assert.equal(res.peer!.banReason, "operator: testing");
    await waitFor(async () => !(await gatewayPeers(a)).has(b.ip), {
      // On a timeout: was it the first link that stayed (the policy never arrived) or a new one (admitted despite it)?
      message: async () =>
        `banned peer disconnected (link #${linked}, now #${(await gatewayPeers(a)).get(b.ip)?.connId}; ` +
        `policies written ${await registryMetric(a, "timenet_registry_admission_policy_publishes_total", { result: "ok" })}, ` +
        `failed ${await registryMetric(a, "timenet_registry_admission_policy_publishes_total", { result: "error" })}; ` +
        `gateway's policy version ${await gatewayMetric(a, "timenet_gateway_admission_policy_version")}, ` +
        `banned ${await gatewayMetric(a, "timenet_gateway_banned_ips")})`,
    });
    await waitFor(async () => (await client.getPeer({ ip: b.ip })).peer!.state === PeerState.BANNED, { message: "state banned" });
    assert.equal(await registryMetric(a, "timenet_registry_bans_total", { reason: "operator" }), 1);
    // Unban: the policy lifts it and the registry redials the bootstrap peer.
    await client.unbanPeer({ ip: b.ip });
    await waitLinked(a, b);
    assert.equal(await registryMetric(a, "timenet_registry_unbans_total", { reason: "operator" }), 1);

    await assert.rejects(client.getPeer({ ip: "1.2.3" }), (e: { code: number; details: string }) => e.code === status.INVALID_ARGUMENT && /not an IP address/.test(e.details));
    await assert.rejects(client.getPeer({ ip: "10.9.9.9" }), (e: { code: number }) => e.code === status.NOT_FOUND);
    await assert.rejects(client.addPeer({ endpoint: "nonsense:1:2" }), (e: { code: number }) => e.code === status.INVALID_ARGUMENT);
  });
});
