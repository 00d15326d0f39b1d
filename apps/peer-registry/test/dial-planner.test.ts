// Whom to dial and when, on an explicit clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { DialFailedSchema, Direction, DisconnectReason, OffenceKind, PeerState } from "@timenet/proto";
import { conn, ip, makeBook, offence, peerOf, run } from "./book-fixture.js";
import { backoffDelayMs } from "../src/backoff.js";

const dialFailed = (addr: string, socketError: string, reason = DisconnectReason.UNSPECIFIED, port = 24100) => create(DialFailedSchema, { ip: addr, port, socketError, reason });

test("backoff doubles with jitter and is capped", () => {
  assert.deepEqual([1, 2, 3, 4, 10].map((f) => backoffDelayMs(f, 1_000, 60_000, () => 0)), [500, 1_000, 2_000, 4_000, 30_000]);
  assert.equal(backoffDelayMs(10, 1_000, 60_000, () => 0.999999), 60_000);
});

test("dial plan: persistent peers always, learned ones up to the target, never a connected, banned or pending one; the lower IP waits", async () => {
  const b = await makeBook({ targetOutbound: 2, bootstrapPeers: [{ ip: ip("10.0.0.1"), port: 1 }, { ip: ip("10.0.0.99"), port: 1 }] });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  const tally = b.addresses.ingest(ip("10.0.0.1"), ["10.0.0.2", "10.0.0.3", "10.0.0.4"].map((a) => ({ $typeName: "timenet.p2p.v1.PeerAddress", ip: a, port: 24100, lastSeenMs: 0n })), 1_000);
  assert.equal(tally.accepted, 3);
  // 10.0.0.99 is higher than us (10.0.0.50): it is given PASSIVE_WAIT to dial us first.
  const orders = b.planner.due(1_000);
  assert.deepEqual(orders.map((o) => `${o.ip}/${o.why}`), ["10.0.0.1/persistent", "10.0.0.2/fill"]);
  for (const o of orders) b.planner.markSent(o.ip, 1_000);
  // Pending dials count towards the target: nothing more until they resolve.
  assert.deepEqual(b.planner.due(1_001), []);
  b.connections.apply(conn("10.0.0.1", 1), 1_100);
  b.connections.apply(conn("10.0.0.2", 2), 1_100);
  assert.equal(b.planner.pendingCount, 0, "connections resolve their dials");
  assert.deepEqual(b.planner.due(1_200), []);
  // The passive wait is over for the higher bootstrap peer: dialled although the target is met (persistent).
  assert.deepEqual(b.planner.due(31_001).map((o) => o.ip), ["10.0.0.99"]);
  // A banned candidate is skipped.
  b.connections.apply(conn("10.0.0.2", 2, { ended: { reason: DisconnectReason.PING_TIMEOUT, livedMs: 10 } }), 40_000);
  b.judge.onOffence(offence("10.0.0.3", OffenceKind.BAD_SIGNATURE), 40_000);
  // 10.0.0.99 dialled us meanwhile (inbound: not an outbound slot); one slot is
  // free, and the candidate that never failed goes before the one that did.
  b.connections.apply(conn("10.0.0.99", 9, { direction: Direction.INBOUND }), 41_000);
  assert.deepEqual(b.planner.due(60_000).map((o) => `${o.ip}/${o.why}`), ["10.0.0.4/fill"]);
});

test("dial failures back off and learned peers are forgotten after too many; a stable connection resets the count", async () => {
  const b = await makeBook({ backoffMinMs: 1_000, forgetAfterFailures: 3, stableAfterMs: 5_000, bootstrapPeers: [{ ip: ip("10.0.0.1"), port: 1 }] });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("10.0.0.1", 1), 1_000);
  b.addresses.ingest(ip("10.0.0.1"), [{ $typeName: "timenet.p2p.v1.PeerAddress", ip: "10.0.0.7", port: 24100, lastSeenMs: 0n }, { $typeName: "timenet.p2p.v1.PeerAddress", ip: "10.0.0.8", port: 24100, lastSeenMs: 0n }], 1_000);
  b.planner.markSent(ip("10.0.0.7"), 1_000);
  b.planner.onDialFailed(dialFailed("10.0.0.7", "econnrefused"), 2_000);
  assert.equal(peerOf(b, "10.0.0.7").consecutiveDialFailures, 1);
  assert.equal(Number(peerOf(b, "10.0.0.7").nextDialMs), 2_000 + 750);
  b.planner.onDialFailed(dialFailed("10.0.0.7", "econnrefused"), 3_000);
  assert.equal(Number(peerOf(b, "10.0.0.7").nextDialMs), 3_000 + 1_500);
  b.planner.onDialFailed(dialFailed("10.0.0.7", "bogus label!"), 4_000);
  assert.equal(b.records.get(ip("10.0.0.7")), undefined, "forgotten after three failures");
  assert.equal(await b.metric("timenet_registry_dial_failures_total", { reason: "other" }), 1, "an unknown label is bounded");
  // It never answered as a peer: dropped as an unverified claim (the lower of the two limits applies).
  assert.equal(await b.metric("timenet_registry_forgotten_total", { reason: "unverified" }), 1);

  b.planner.onDialFailed(dialFailed("10.0.0.8", "etimedout"), 2_000);
  b.connections.apply(conn("10.0.0.8", 5, { at: 3_000 }), 3_000);
  b.planner.tick(4_000);
  assert.equal(peerOf(b, "10.0.0.8").consecutiveDialFailures, 1, "not reset at connect");
  b.planner.tick(8_001);
  assert.equal(peerOf(b, "10.0.0.8").consecutiveDialFailures, 0, "reset once stable");
});

test("a dial the gateway never reported (our gateway was away) is retried after DIAL_GIVE_UP, not counted; blameless ends never count", async () => {
  const b = await makeBook({ dialGiveUpMs: 5_000, backoffMinMs: 1_000, stableAfterMs: 60_000, bootstrapPeers: [{ ip: ip("10.0.0.1"), port: 1 }] });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.planner.markSent(ip("10.0.0.1"), 1_000);
  b.planner.tick(5_999);
  assert.equal(b.planner.isPending(ip("10.0.0.1")), true);
  b.planner.tick(6_000);
  assert.equal(b.planner.isPending(ip("10.0.0.1")), false, "given up");
  assert.equal(peerOf(b, "10.0.0.1").consecutiveDialFailures, 0, "silence from our own gateway is not the peer's fault");
  assert.equal(await b.metric("timenet_registry_dial_failures_total", { reason: "no_answer" }), 1);
  assert.deepEqual(b.planner.due(6_000), [], "retried after a backoff");
  assert.deepEqual(b.planner.due(7_000).map((o) => o.ip), ["10.0.0.1"]);
  // A dial sent to a gateway that then restarted is dropped at once, also without blame.
  b.planner.markSent(ip("10.0.0.1"), 7_000);
  b.connections.apply(run(2), 7_500);
  assert.equal(b.planner.pendingCount, 0);
  assert.deepEqual(b.planner.due(7_500).map((o) => o.ip), ["10.0.0.1"], "redialled through the new gateway now");
  b.planner.onDialFailed(dialFailed("10.0.0.1", "econnrefused", DisconnectReason.UNSPECIFIED, 1), 7_600);
  assert.equal(peerOf(b, "10.0.0.1").consecutiveDialFailures, 1, "a reported failure counts");
  for (const [k, reason] of [DisconnectReason.SHUTDOWN, DisconnectReason.OPERATOR, DisconnectReason.DUPLICATE, DisconnectReason.LOCAL_RESTART, DisconnectReason.BANNED].entries()) {
    b.connections.apply(conn("10.0.0.1", 10 + k, { run: 2, at: 8_000 + k }), 8_000 + k);
    b.connections.apply(conn("10.0.0.1", 10 + k, { run: 2, at: 8_000 + k, ended: { reason, livedMs: 5 } }), 8_000 + k);
  }
  assert.equal(peerOf(b, "10.0.0.1").consecutiveDialFailures, 1, "none of those ends is the peer's fault");
  assert.ok(Number(peerOf(b, "10.0.0.1").nextDialMs) <= 8_004 + 1_000);
  // Its own address, reported by the gateway: never dialled again.
  b.planner.onDialFailed(dialFailed("10.0.0.1", "", DisconnectReason.SELF_CONNECTION), 9_000);
  assert.equal(peerOf(b, "10.0.0.1").isSelf, true);
  assert.deepEqual(b.planner.due(1_000_000), []);
});

test("the planner's pending dials are bounded by the book: a forgotten, evicted or banned IP leaves nothing behind", async () => {
  const b = await makeBook({ maxBookSize: 20, forgetAfterFailures: 1, bootstrapPeers: [{ ip: ip("10.0.0.1"), port: 1 }] });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("10.0.0.1", 1), 1_000);
  const all: string[] = [];
  for (let round = 0; round < 50; round++) {
    const addrs = Array.from({ length: 10 }, (_, i) => ({ $typeName: "timenet.p2p.v1.PeerAddress" as const, ip: `10.1.${round}.${i + 1}`, port: 24100, lastSeenMs: 0n }));
    const at = 1_000 + round * 600_000; // a fresh candidate budget each round
    b.addresses.ingest(ip("10.0.0.1"), addrs, at);
    for (const a of addrs) if (b.records.has(ip(a.ip))) b.planner.markSent(ip(a.ip), at);
    for (const a of addrs.slice(0, 5)) b.planner.onDialFailed(dialFailed(a.ip, "econnrefused"), at); // forgotten at once
    b.judge.onOffence(offence(addrs[5]!.ip, OffenceKind.WRONG_GENESIS), at); // banned
    all.push(...addrs.map((a) => a.ip));
  }
  for (const a of all) {
    if (!b.records.has(ip(a))) assert.equal(b.planner.isPending(ip(a)), false, `${a} left the book but not the planner`);
    if (peerOf(b, "10.0.0.1") && b.records.get(ip(a))?.state === PeerState.BANNED) assert.equal(b.planner.isPending(ip(a)), false, `${a} is banned`);
  }
  assert.ok(b.planner.pendingCount <= b.records.size);
  assert.ok(await b.metric("timenet_registry_forgotten_total", { reason: "evicted" }) > 0, "the bound was reached");
});

test("an address learned from peer exchange: its failures are never held against the IP; it is dropped quietly; a failure of a port the record no longer holds counts for nothing", async () => {
  const b = await makeBook({ backoffMinMs: 1_000, forgetAfterFailures: 8, unverifiedMaxFailures: 2, bootstrapPeers: [{ ip: ip("10.0.0.1"), port: 1 }] });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("10.0.0.1", 1), 1_000);
  const claim = (a: string, port: number) => ({ $typeName: "timenet.p2p.v1.PeerAddress" as const, ip: a, port, lastSeenMs: 0n });
  b.addresses.ingest(ip("10.0.0.1"), [claim("10.0.0.7", 22), claim("10.0.0.8", 22)], 1_000);
  // 10.0.0.7 never answers as a peer: two failures and it is gone, with no score, no ban, no offence.
  for (const at of [2_000, 3_000]) {
    b.planner.markSent(ip("10.0.0.7"), at);
    b.planner.onDialFailed(dialFailed("10.0.0.7", "", DisconnectReason.FRAME_TOO_LARGE, 22), at);
  }
  assert.equal(b.records.has(ip("10.0.0.7")), false, "dropped after two failures, not FORGET_AFTER_FAILURES");
  assert.equal(await b.metric("timenet_registry_forgotten_total", { reason: "unverified" }), 1);
  assert.equal(await b.metric("timenet_registry_offences_total"), 0);
  assert.equal(b.judge.policy(3_000).bans.length, 0);
  // 10.0.0.8 fails once at the claimed port, then connects in: its Hello names 24108.
  b.planner.markSent(ip("10.0.0.8"), 2_000);
  b.planner.onDialFailed(dialFailed("10.0.0.8", "econnrefused", DisconnectReason.UNSPECIFIED, 22), 2_000);
  b.planner.markSent(ip("10.0.0.8"), 4_000); // a second dial to port 22 is out
  b.connections.apply(conn("10.0.0.8", 8, { direction: Direction.INBOUND, port: 24108, at: 5_000 }), 5_000);
  b.connections.apply(conn("10.0.0.8", 8, { port: 24108, at: 5_000, ended: { reason: DisconnectReason.SHUTDOWN, livedMs: 100 } }), 5_500);
  // The dial to port 22 fails after the peer proved its own port: not the peer's failure.
  b.planner.onDialFailed(dialFailed("10.0.0.8", "", DisconnectReason.FRAME_TOO_LARGE, 22), 6_000);
  const p = peerOf(b, "10.0.0.8");
  assert.deepEqual([p.port, p.consecutiveDialFailures, p.score, p.isSelf], [24108, 0, 0, false]);
  assert.equal(await b.metric("timenet_registry_dial_failures_total", { reason: "stale_address" }), 1);
  // Verified now: its own failures count again, and it is forgotten only after FORGET_AFTER_FAILURES.
  for (let k = 0; k < 3; k++) b.planner.onDialFailed(dialFailed("10.0.0.8", "econnrefused", DisconnectReason.UNSPECIFIED, 24108), 7_000 + k);
  assert.equal(peerOf(b, "10.0.0.8").consecutiveDialFailures, 3);
  assert.equal(await b.metric("timenet_registry_forgotten_total", { reason: "unverified" }), 1);
});

test("a node connected under one IP is not dialled under another (the redial would only win the next duplicate race); once it is gone, both addresses are dialled", async () => {
  const b = await makeBook({ backoffMinMs: 100, bootstrapPeers: [{ ip: ip("10.0.0.1"), port: 1 }, { ip: ip("10.0.0.2"), port: 1 }] });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  // Both addresses answered as node 7; the peer kept the socket of 10.0.0.1, the other lost the duplicate race.
  b.connections.apply(conn("10.0.0.1", 1, { node: 7 }), 1_000);
  b.connections.apply(conn("10.0.0.2", 2, { node: 7 }), 1_000);
  b.connections.apply(conn("10.0.0.2", 2, { node: 7, ended: { reason: DisconnectReason.DUPLICATE, livedMs: 10 } }), 1_100);
  assert.deepEqual(b.planner.due(60_000), [], "not redialled while node 7 is held under 10.0.0.1");
  assert.equal(await b.metric("timenet_registry_redials_deferred_total", { reason: "same_node_connected" }), 1);
  assert.equal(peerOf(b, "10.0.0.2").consecutiveDialFailures, 0, "nothing held against the address");
  b.connections.apply(conn("10.0.0.1", 1, { node: 7, ended: { reason: DisconnectReason.PING_TIMEOUT, livedMs: 100_000 } }), 61_000);
  assert.deepEqual(b.planner.due(200_000).map((o) => `${o.ip}/${o.why}`).sort(), ["10.0.0.1/persistent", "10.0.0.2/persistent"]);
});

test("the same hold when the loser's end reaches the registry before the winner's start: held back once it is due, counted once however often it is planned", async () => {
  const b = await makeBook({ backoffMinMs: 100, bootstrapPeers: [{ ip: ip("10.0.0.1"), port: 1 }, { ip: ip("10.0.0.2"), port: 1 }] });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  // The two sockets' events cross: 10.0.0.2 lost and ended while 10.0.0.1 was not yet connected.
  b.connections.apply(conn("10.0.0.2", 2, { node: 7 }), 1_000);
  b.connections.apply(conn("10.0.0.2", 2, { node: 7, ended: { reason: DisconnectReason.DUPLICATE, livedMs: 10 } }), 1_050);
  b.connections.apply(conn("10.0.0.1", 1, { node: 7 }), 1_100);
  assert.equal(await b.metric("timenet_registry_redials_deferred_total", { reason: "same_node_connected" }), 0, "nothing due yet");
  for (const at of [60_000, 61_000, 62_000]) assert.deepEqual(b.planner.due(at), [], `held back at ${at}`);
  assert.equal(await b.metric("timenet_registry_redials_deferred_total", { reason: "same_node_connected" }), 1);
  // Once the node is gone the address is dialled; a later hold is counted again.
  b.connections.apply(conn("10.0.0.1", 1, { node: 7, ended: { reason: DisconnectReason.PING_TIMEOUT, livedMs: 100_000 } }), 63_000);
  assert.deepEqual(b.planner.due(200_000).map((o) => o.ip).sort(), ["10.0.0.1", "10.0.0.2"]);
});
