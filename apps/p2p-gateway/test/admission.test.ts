import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { AdmissionPolicySchema, DialFailedSchema, DisconnectReason, EnvelopeSchema, OffenceKind, OffenceSchema, PeerMessageSchema, Subjects } from "@timenet/proto";
import { AdmissionControl } from "../src/admission.js";
import { waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { dialVia, metricValue, nodePool, pushPolicy, record, ScriptedPeer, waitConnected, writePolicy } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

/** True when the gateway closed the socket without sending a single frame (refused at accept). */
async function refusedAtAccept(p: ScriptedPeer): Promise<boolean> {
  await p.waitClosed();
  // Not even the preamble: refused before any byte of ours.
  return p.bytesIn === 0;
}

describe("admission policy from the registry", () => {
  test("a ban closes the peer's connection, refuses it at accept without a handshake byte, and lapses by itself", async () => {
    const a = await node(60);
    const b = await node(61);
    await dialVia(b, a);
    await waitConnected(a, b);
    const banMs = 1_500;
    await pushPolicy(a, { bans: [{ ip: "127.0.0.61", untilMs: BigInt(Date.now() + banMs), reason: "test" }] });
    await waitFor(() => !a.gateway.manager.isConnected(b.ip), { message: "banned peer disconnected" });
    assert.equal(await metricValue(a.gateway, "timenet_gateway_disconnects_total", { reason: "banned", initiator: "local" }), 1);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_banned_ips"), 1);

    const p = await ScriptedPeer.connect(a.endpoint, "127.0.0.61");
    assert.equal(await refusedAtAccept(p), true);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_accept_refused_total", { reason: "banned" }), 1);
    // a will not dial a banned IP either.
    await dialVia(a, b);
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_dial_requests_total", { result: "banned" })) === 1, { message: "dial skipped" });

    // The ban lapses with no new policy: the same IP completes a handshake.
    await waitFor(() => !a.gateway.admission.isBanned(b.ip), { timeoutMs: banMs + 1_000, message: "ban expired" });
    const again = await ScriptedPeer.dial(a.endpoint, "127.0.0.61");
    await again.handshake();
    await waitFor(() => a.gateway.manager.isConnected(b.ip), { message: "accepted after the ban" });
    again.close();
  });

  test("inbound sockets per subnet and in all are capped; allow-listed peers bypass both", async () => {
    const a = await node(62);
    await pushPolicy(a, { maxPerSubnet: 2, maxInbound: 3, subnetPrefixV4: 24, allowList: ["127.0.0.69"] });
    const first = await ScriptedPeer.dial(a.endpoint, "127.0.0.63");
    const second = await ScriptedPeer.dial(a.endpoint, "127.0.0.64");
    await first.handshake();
    await second.handshake();
    // A third stranger from 127.0.0.0/24 is over the per-subnet cap.
    const third = await ScriptedPeer.connect(a.endpoint, "127.0.0.65");
    assert.equal(await refusedAtAccept(third), true);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_accept_refused_total", { reason: "too_many_connections" }), 1);
    // The allow-listed IP is admitted, and does not use up a slot.
    const friend = await ScriptedPeer.dial(a.endpoint, "127.0.0.69");
    await friend.handshake();
    await waitFor(() => a.gateway.manager.connections().length === 3, { message: "three established" });

    // Raising the subnet cap leaves the total cap (3 strangers) in force:
    // a newcomer beyond it takes the slot eviction frees (here the youngest
    // of the one subnet; the oldest stays, by subnet and by uptime).
    await pushPolicy(a, { maxPerSubnet: 10, maxInbound: 3, allowList: ["127.0.0.69"] });
    const fourth = await ScriptedPeer.dial(a.endpoint, "127.0.0.66");
    await fourth.handshake();
    const fifth = await ScriptedPeer.dial(a.endpoint, "127.0.0.67");
    await fifth.handshake();
    await fourth.waitClosed();
    assert.equal(fourth.goodbyeReason(), DisconnectReason.EVICTED);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_evictions_total"), 1);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_accept_refused_total", { reason: "too_many_connections" }), 1);
    assert.equal(first.closed || second.closed || friend.closed, false);
    for (const p of [first, second, friend, fifth]) p.close();
  });

  test("a dial still connecting when its IP is banned is dropped as it connects: no handshake, no link, and the registry is not told of a failure", async () => {
    const a = await node(74);
    const b = await node(75);
    const failed: string[] = [];
    const sub = a.bus.subscribe(Subjects.dialFailed, DialFailedSchema, (m) => void failed.push(m.ip));
    await a.bus.flush();
    // The policy arrives (closing every socket of the IP) between the dial's start and its connect:
    // the socket to close did not exist yet.
    const dialing = a.gateway.manager.dial(b.endpoint);
    const applied = a.gateway.admission.apply(create(AdmissionPolicySchema, { epoch: "e", version: 1n, bans: [{ ip: b.ip, untilMs: BigInt(Date.now() + 60_000), reason: "test" }] }));
    assert.equal(applied, true);
    await assert.rejects(dialing, (e: { code: string }) => e.code === "BANNED");
    assert.equal(await metricValue(a.gateway, "timenet_gateway_dial_failures_total", { reason: "banned" }), 1);
    // b saw a socket open and close without a byte: no handshake, no connection on either side.
    await waitFor(() => b.gateway.manager.socketCount(a.ip) === 0, { message: "b's end of the dropped socket closed" });
    assert.equal(a.gateway.manager.isConnected(b.ip), false);
    assert.equal(b.gateway.manager.isConnected(a.ip), false);
    await a.bus.flush();
    assert.deepEqual(failed, [], "a ban is the registry's own doing, not the peer's failure");
    sub.unsubscribe();
  });

  test("an older policy never replaces a newer one", async () => {
    const a = await node(68);
    await pushPolicy(a, { maxInbound: 1 });
    await writePolicy(a, { version: 1n, bans: [{ ip: "127.0.0.70", untilMs: BigInt(Date.now() + 60_000) }] });
    await pushPolicy(a, { maxInbound: 1 });
    assert.equal(a.gateway.admission.isBanned("127.0.0.70" as PeerIp), false);
  });

  test("a restarted registry's epoch replaces the policy whatever its version; an old epoch's huge version is not sticky", async () => {
    const a = await node("127.0.4.73");
    const ban = (ip: string) => [{ ip, untilMs: BigInt(Date.now() + 60_000), reason: "test" }];
    const banned = (ip: string) => a.gateway.admission.isBanned(ip as PeerIp);
    // A run that wrote version 2^63 (the attack of a rogue writer before per-service users).
    await writePolicy(a, { epoch: "run-1", version: 2n ** 63n, bans: ban("127.0.0.80") });
    await waitFor(() => banned("127.0.0.80"), { message: "run-1's policy applied" });
    // Within run-1 an older version is ignored; the next run's version 1 then replaces both.
    await writePolicy(a, { epoch: "run-1", version: 5n, bans: ban("127.0.0.81") });
    await writePolicy(a, { epoch: "run-2", version: 1n, bans: ban("127.0.0.82") });
    await waitFor(() => banned("127.0.0.82"), { message: "run-2's version 1 applied" });
    assert.equal(banned("127.0.0.80"), false, "run-1's version 2^63 no longer holds");
    assert.equal(banned("127.0.0.81"), false);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_admission_policy_version"), 1);
    // Within run-2 versions move forward.
    await writePolicy(a, { epoch: "run-2", version: 2n, bans: ban("127.0.0.83") });
    await waitFor(() => banned("127.0.0.83"), { message: "run-2's version 2 applied" });
  });
});

describe("AdmissionControl epochs", () => {
  test("within one epoch only newer versions apply; another epoch always applies", () => {
    const c = new AdmissionControl();
    const policy = (epoch: string, version: bigint, ip: string) => create(AdmissionPolicySchema, { epoch, version, bans: [{ ip, untilMs: BigInt(Date.now() + 60_000) }] });
    assert.equal(c.apply(policy("e1", 10n, "10.0.0.1")), true);
    assert.equal(c.apply(policy("e1", 9n, "10.0.0.2")), false, "older within the epoch");
    assert.equal(c.isBanned("10.0.0.1" as PeerIp), true);
    assert.equal(c.apply(policy("e1", 11n, "10.0.0.3")), true);
    assert.equal(c.apply(policy("e0", 1n, "10.0.0.4")), true, "another epoch: the registry's latest write");
    assert.equal(c.isBanned("10.0.0.3" as PeerIp), false);
    assert.equal(c.apply(policy("e0", 0n, "10.0.0.5")), false);
    assert.equal(c.isBanned("10.0.0.4" as PeerIp), true);
  });
});

describe("rate limits", () => {
  test("a flood of GetPeers is dropped and counted; sustained, it becomes one RATE_LIMIT offence; the connection stays", async () => {
    const a = await node(71, {
      rateLimits: { getPeers: { count: 1, periodMs: 10_000, burst: 3 }, abuse: { count: 1, periodMs: 60_000, burst: 50 } },
    });
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const asked = record(a.bus, Subjects.peerIn("get_peers"), PeerMessageSchema);
    const p = await ScriptedPeer.dial(a.endpoint, "127.0.0.72");
    await p.handshake();
    await waitFor(() => a.gateway.manager.isConnected("127.0.0.72" as PeerIp), { message: "established" });
    for (let i = 0; i < 60; i++) p.send(create(EnvelopeSchema, { requestId: i + 1, payload: { case: "getPeers", value: { max: 10 } } }));
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_rate_limited_total", { kind: "get_peers" })) === 57, { message: "57 dropped" });
    await waitFor(() => offences.length === 1, { message: "one offence" });
    assert.equal(offences[0]!.kind, OffenceKind.RATE_LIMIT);
    assert.equal(offences[0]!.ip, "127.0.0.72");
    await a.bus.flush();
    assert.equal(asked.length, 3, "only the burst reached the bus");
    assert.equal(a.gateway.manager.isConnected("127.0.0.72" as PeerIp), true);
    assert.equal(p.closed, false);
    p.close();
  });

  test("a GetBlocks over the limit is answered busy at once, never left to time out; at most at the limit's rate again, the rest skipped", async () => {
    const a = await node(73, { rateLimits: { getBlocks: { count: 1, periodMs: 60_000, burst: 3 }, abuse: { count: 1, periodMs: 60_000, burst: 1_000 } } });
    const asked = record(a.bus, Subjects.peerIn("get_blocks"), PeerMessageSchema);
    const p = await ScriptedPeer.dial(a.endpoint, "127.0.0.74");
    await p.handshake();
    await waitFor(() => a.gateway.manager.isConnected("127.0.0.74" as PeerIp), { message: "established" });
    for (let i = 1; i <= 10; i++) p.send(create(EnvelopeSchema, { requestId: i, payload: { case: "getBlocks", value: { fromHeight: 1, count: 16 } } }));
    // 3 within the limit go to the store; the next 3 are answered busy (the same rate again); the last 4 get nothing.
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_busy_answers_total", { result: "skipped" })) === 4, { message: "4 skipped" });
    const busy = () => p.frames.filter((f) => f.payload.case === "blocks" && f.payload.value.busy && f.payload.value.blocks.length === 0);
    await waitFor(() => busy().length === 3, { message: "3 busy answers" });
    assert.deepEqual(
      busy().map((f) => f.requestId),
      [4, 5, 6],
    );
    assert.equal(await metricValue(a.gateway, "timenet_gateway_busy_answers_total", { result: "sent" }), 3);
    await a.bus.flush();
    assert.deepEqual(
      asked.map((m) => m.envelope?.requestId),
      [1, 2, 3],
      "only the burst reached the store",
    );
    assert.equal(p.closed, false);
    assert.equal(a.gateway.manager.isConnected("127.0.0.74" as PeerIp), true);
    p.close();
  });
});
