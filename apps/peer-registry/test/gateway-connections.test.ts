// The book's connection state comes from the gateway's published state only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { DialFailedSchema, Direction, DisconnectReason, PeerDirection, PeerState } from "@timenet/proto";
import { conn, deleted, ip, makeBook, peerOf, run } from "./book-fixture.js";

test("connections and their ends arrive as state; the reason and lifetime of each end reach the dial planner", async () => {
  const b = await makeBook({ backoffMinMs: 1_000, stableAfterMs: 60_000 });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("10.0.3.1", 1, { direction: Direction.INBOUND, port: 24111 }), 1_100);
  const p = peerOf(b, "10.0.3.1");
  assert.equal(p.state, PeerState.CONNECTED);
  assert.equal(p.direction, PeerDirection.INBOUND);
  assert.equal(p.port, 24111, "the listen port from the Hello, not the socket's");
  assert.equal(p.bestHeight, 7);
  assert.equal(p.totalConnections, 1);
  // The same state again (a rewrite) is not a new connection.
  b.connections.apply(conn("10.0.3.1", 1, { direction: Direction.INBOUND, port: 24111 }), 1_200);
  assert.equal(p.totalConnections, 1);
  // Written again with a block the peer announced (one this registry may not have heard): its claim rises, nothing else.
  b.connections.apply(conn("10.0.3.1", 1, { direction: Direction.INBOUND, port: 24111, announced: 12 }), 1_300);
  assert.equal(p.bestHeight, 12);
  assert.deepEqual(p.bestHash, new Uint8Array(32).fill(12));
  assert.equal(p.totalConnections, 1);
  assert.equal(await b.metric("timenet_registry_gateway_state_total", { change: "connected" }), 1);
  b.connections.apply(conn("10.0.3.1", 1, { ended: { reason: DisconnectReason.PING_TIMEOUT, livedMs: 500 } }), 2_000);
  assert.equal(p.state, PeerState.DISCONNECTED);
  assert.equal(p.lastDisconnectReason, DisconnectReason.PING_TIMEOUT);
  assert.equal(p.consecutiveDialFailures, 1, "a short-lived connection that timed out is a failure");
  // The end of a connection the book no longer holds changes nothing.
  b.connections.apply(conn("10.0.3.1", 1, { ended: { reason: DisconnectReason.BAD_FRAME, livedMs: 1 } }), 2_100);
  assert.equal(p.lastDisconnectReason, DisconnectReason.PING_TIMEOUT);
  assert.equal(await b.metric("timenet_registry_gateway_state_total", { change: "disconnected" }), 1);
});

test("a crash of our own gateway is nobody's fault: its new run ends every connection with LOCAL_RESTART, no failure counted", async () => {
  const b = await makeBook({ backoffMinMs: 1_000 });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  for (const [k, a] of ["10.0.0.41", "10.0.0.42", "10.0.0.43"].entries()) b.connections.apply(conn(a, k + 1), 1_000);
  assert.equal(b.records.counts().connected, 3);
  // (They are lower IPs than ours, 10.0.0.50: we dial them.)
  // The gateway crashed (no end was written) and started again: its run entry comes first.
  b.connections.apply(run(2), 5_000);
  for (const a of ["10.0.0.41", "10.0.0.42", "10.0.0.43"]) {
    const p = peerOf(b, a);
    assert.equal(p.state, PeerState.DISCONNECTED, a);
    assert.equal(p.lastDisconnectReason, DisconnectReason.LOCAL_RESTART, a);
    assert.equal(p.consecutiveDialFailures, 0, `${a}: not counted against the peer`);
    assert.ok(Number(p.nextDialMs) <= 5_000 + 1_000, `${a}: redialled promptly, not after a failure backoff`);
  }
  // The new run deletes the old run's entries: nothing more happens.
  for (const a of ["10.0.0.41", "10.0.0.42", "10.0.0.43"]) b.connections.apply(deleted(a), 5_001);
  assert.equal(await b.metric("timenet_registry_gateway_state_total", { change: "end_missed" }), 3);
  // Entries still carrying the old run are ignored; the new run's count.
  b.connections.apply(conn("10.0.0.41", 1, { run: 1 }), 5_002);
  assert.equal(peerOf(b, "10.0.0.41").state, PeerState.DISCONNECTED);
  b.connections.apply(conn("10.0.0.41", 1, { run: 2, at: 5_100 }), 5_100);
  assert.equal(peerOf(b, "10.0.0.41").state, PeerState.CONNECTED);
  assert.equal(peerOf(b, "10.0.0.41").totalConnections, 2);
});

test("a registry restart: stored connections are trusted only when the gateway's state still holds them", async () => {
  const first = await makeBook();
  first.connections.apply(run(1), 1_000);
  first.connections.markInitialized(1_000);
  first.connections.apply(conn("10.0.5.1", 1, { at: 1_000 }), 1_000); // still up after the restart
  first.connections.apply(conn("10.0.5.2", 2, { at: 1_000 }), 1_000); // ended while the registry was down, entry gone
  first.connections.apply(conn("10.0.5.3", 3, { at: 1_000 }), 1_000); // ended while down, its end still stored
  first.connections.apply(conn("10.0.5.4", 4, { at: 1_000 }), 1_000); // replaced while down by a new connection with a reused id
  const b = await first.reopen(10_000);
  assert.equal(b.records.counts().connected, 4, "as stored, until the gateway's state is read");
  b.connections.apply(run(1), 10_000);
  b.connections.apply(conn("10.0.5.1", 1, { at: 1_000 }), 10_000);
  b.connections.apply(conn("10.0.5.3", 3, { at: 1_000, ended: { reason: DisconnectReason.BAD_FRAME, livedMs: 10 } }), 10_000);
  b.connections.apply(conn("10.0.5.4", 4, { at: 9_000 }), 10_000);
  b.connections.markInitialized(10_000);
  assert.equal(peerOf(b, "10.0.5.1").state, PeerState.CONNECTED);
  assert.equal(peerOf(b, "10.0.5.1").totalConnections, 1, "the same connection, not a new one");
  assert.equal(peerOf(b, "10.0.5.2").lastDisconnectReason, DisconnectReason.LOCAL_RESTART);
  assert.equal(peerOf(b, "10.0.5.2").consecutiveDialFailures, 0);
  assert.equal(peerOf(b, "10.0.5.3").lastDisconnectReason, DisconnectReason.BAD_FRAME, "the stored end keeps its reason");
  assert.equal(peerOf(b, "10.0.5.3").consecutiveDialFailures, 1);
  assert.equal(peerOf(b, "10.0.5.4").state, PeerState.CONNECTED);
  assert.equal(peerOf(b, "10.0.5.4").totalConnections, 2, "a reused connection id of a later connection is a new connection");
  assert.equal(peerOf(b, "10.0.5.4").connectedSinceMs, 9_000n);
  assert.equal(b.records.counts().connected, 2);
});

test("an entry whose key and IP disagree, or whose IP is not one, is ignored and counted", async () => {
  const b = await makeBook();
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  const forged = conn("10.0.6.1", 1);
  b.connections.apply({ ...forged, key: "c.10.0.6.2" }, 1_000);
  const bad = conn("10.0.6.3", 2);
  if (bad.op === "put" && "connection" in bad.value) bad.value.connection.ip = "not-an-ip";
  b.connections.apply(bad, 1_000);
  assert.equal(b.records.size, 0);
  assert.equal(await b.metric("timenet_registry_gateway_state_total", { change: "invalid" }), 2);
  // IPv6 keys write ':' as '_' and are read back.
  b.connections.apply(conn("2001:db8::7", 3), 1_000);
  assert.equal(peerOf(b, "2001:db8::7").state, PeerState.CONNECTED);
  b.connections.apply(deleted("2001:db8::7"), 1_100);
  assert.equal(peerOf(b, "2001:db8::7").lastDisconnectReason, DisconnectReason.LOCAL_RESTART);
  assert.equal(b.records.get(ip("2001:db8::7"))!.state, PeerState.DISCONNECTED);
});

test("the peer's own Hello corrects a claimed port (and the claim's failures go with it); a huge string in it is clipped before it is stored", async () => {
  const b = await makeBook({ unverifiedMaxFailures: 3 });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("10.0.7.9", 9), 1_000);
  b.addresses.ingest(ip("10.0.7.9"), [{ $typeName: "timenet.p2p.v1.PeerAddress", ip: "10.0.7.1", port: 22, lastSeenMs: 0n }], 1_000);
  b.planner.onDialFailed(create(DialFailedSchema, { ip: "10.0.7.1", port: 22, reason: DisconnectReason.BAD_FRAME }), 1_500);
  assert.equal(peerOf(b, "10.0.7.1").consecutiveDialFailures, 1);
  const inbound = conn("10.0.7.1", 1, { direction: Direction.INBOUND, port: 24107, at: 2_000 });
  if (inbound.op === "put" && "connection" in inbound.value) {
    const hello = inbound.value.connection.hello!;
    hello.softwareVersion = "v".repeat(4 << 20);
    hello.network = "n".repeat(1_000);
    hello.bestHash = new Uint8Array(1 << 20);
    hello.nodeId = new Uint8Array(1 << 20);
  }
  b.connections.apply(inbound, 2_000);
  const p = peerOf(b, "10.0.7.1");
  assert.deepEqual([p.port, p.consecutiveDialFailures, p.state], [24107, 0, PeerState.CONNECTED]);
  assert.equal(await b.metric("timenet_registry_port_corrections_total", { was: "unverified" }), 1);
  assert.deepEqual([p.softwareVersion.length, p.network.length, p.bestHash.length, p.nodeId], [128, 64, 0, ""]);
  assert.equal(await b.metric("timenet_registry_clipped_fields_total"), 3);
  // What is on disk is what ListPeers shows: clipped.
  await b.store.flushed();
  const again = await b.reopen(3_000);
  assert.equal(peerOf(again, "10.0.7.1").softwareVersion.length, 128);
});
