// The records and their storage: one per IP, written through, bounded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { OffenceKind, PeerSchema, PeerSource, PeerState } from "@timenet/proto";
import { conn, ip, makeBook, offence, peerOf, run } from "./book-fixture.js";

const addr = (a: string) => ({ $typeName: "timenet.p2p.v1.PeerAddress" as const, ip: a, port: 24100, lastSeenMs: 0n });

test("the book is bounded: the worst learned entry is evicted; configured, connected, banned and pending ones never", async () => {
  const b = await makeBook({ maxBookSize: 10, bootstrapPeers: [{ ip: ip("10.0.1.1"), port: 1 }] });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("10.0.1.2", 1), 1_000);
  b.judge.onOffence(offence("10.0.1.3", OffenceKind.WRONG_GENESIS), 1_000);
  b.addresses.ingest(ip("10.0.1.2"), [addr("10.0.2.1")], 1_000);
  b.planner.markSent(ip("10.0.2.1"), 1_000);
  const removed: string[] = [];
  b.records.events.on("removed", (a, why) => void removed.push(`${a}/${why}`));
  for (let i = 10; i < 40; i++) b.addresses.ingest(ip("10.0.1.2"), [addr(`10.0.3.${i}`)], 1_000 + i);
  assert.equal(b.records.size, 10);
  for (const kept of ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.2.1"]) assert.ok(b.records.has(ip(kept)), `${kept} kept`);
  assert.ok(removed.length > 0 && removed.every((r) => r.endsWith("/evicted")));
  // Facts about connections are kept even when every entry is pinned.
  const full = await makeBook({ maxBookSize: 10 });
  full.connections.apply(run(1), 1_000);
  full.connections.markInitialized(1_000);
  for (let i = 1; i <= 12; i++) full.connections.apply(conn(`10.0.4.${i}`, i), 1_000);
  assert.equal(full.records.counts().connected, 12);
  assert.equal(full.addresses.ingest(ip("10.0.4.1"), [addr("10.0.5.1")], 1_000).book_full, 1, "a learned candidate is refused");
});

test("every change is written through: a reopened store has the same records; an IP is never there twice", async () => {
  const b = await makeBook({ bootstrapPeers: [{ ip: ip("10.0.6.1"), port: 24100 }] });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("10.0.6.2", 2), 1_000);
  b.connections.apply(conn("::ffff:10.0.6.2", 2), 1_000); // the same machine, written as IPv4-mapped IPv6
  b.judge.ban(ip("10.0.6.3"), 60_000, "x", 1_000);
  await b.store.flushed();
  const again = await b.reopen(2_000);
  assert.deepEqual(
    again.records.list().map((p) => [p.ip, p.source, p.state]),
    [
      ["10.0.6.1", PeerSource.CONFIG, PeerState.DISCONNECTED],
      ["10.0.6.2", PeerSource.UNSPECIFIED, PeerState.CONNECTED],
      ["10.0.6.3", PeerSource.OPERATOR, PeerState.BANNED],
    ],
  );
  assert.equal(peerOf(again, "10.0.6.1").persistent, true);
});

test("a listener that throws is counted and logged; the change it listened to still happens everywhere", async () => {
  const b = await makeBook({ forgetAfterFailures: 1 });
  b.records.events.on("removed", () => {
    throw new Error("listener bug");
  });
  let after = 0;
  b.records.events.on("removed", () => void after++);
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("10.0.9.1", 1), 1_000);
  b.addresses.ingest(ip("10.0.9.1"), [addr("10.0.9.2")], 1_000);
  b.planner.markSent(ip("10.0.9.2"), 1_000);
  b.planner.onDialFailed({ $typeName: "timenet.registry.v1.DialFailed", ip: "10.0.9.2", port: 24100, reason: 0, socketError: "econnrefused", detail: "" }, 2_000);
  assert.equal(b.records.has(ip("10.0.9.2")), false, "forgotten");
  assert.equal(b.planner.isPending(ip("10.0.9.2")), false, "the planner forgot it too");
  assert.equal(after, 1, "a listener after the throwing one still ran");
  assert.equal(await b.metric("timenet_registry_listener_errors_total", { event: "removed" }), 1);
});

test("a book written before the limits is clipped as it loads", async () => {
  const b = await makeBook();
  b.store.put(create(PeerSchema, { ip: "10.0.9.7", softwareVersion: "x".repeat(1 << 20), banReason: "operator: " + "y".repeat(10_000), bestHash: new Uint8Array(64) }));
  await b.store.flushed();
  const again = await b.reopen(2_000);
  const p = peerOf(again, "10.0.9.7");
  assert.deepEqual([p.softwareVersion.length, p.banReason.length, p.bestHash.length], [128, 256, 0]);
  assert.equal(await again.metric("timenet_registry_clipped_fields_total", { field: "softwareVersion" }), 1);
});

test("a peer's rising claim is kept at once and written to disk at most every claimSaveEveryMs, and before a stop", async () => {
  const b = await makeBook();
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("10.0.6.1", 1), 1_000); // its Hello claims 7
  const p = peerOf(b, "10.0.6.1");
  const stored = async () => {
    await b.store.flushed();
    return b.store.load(() => undefined).find((r) => r.ip === "10.0.6.1")?.bestHeight;
  };
  assert.equal(await stored(), 7);
  // Announced on the gateway's entry and over NATS (raiseClaim), block after block: readers see each at once.
  b.connections.apply(conn("10.0.6.1", 1, { announced: 12 }), 1_100);
  assert.equal(p.bestHeight, 12);
  for (let h = 13; h <= 40; h++) assert.ok(b.records.raiseClaim(p, h, new Uint8Array(32).fill(h)));
  assert.equal(b.records.raiseClaim(p, 39, new Uint8Array(32)), false, "a lower claim changes nothing");
  assert.equal(p.bestHeight, 40);
  assert.equal(await stored(), 7, "not written per announcement");
  b.records.saveClaims(2_000, 10_000);
  assert.equal(await stored(), 40, "the first due write");
  b.records.raiseClaim(p, 41, new Uint8Array(32).fill(41));
  b.records.saveClaims(5_000, 10_000);
  assert.equal(await stored(), 40, "3 s after the last write: not yet");
  b.records.saveClaims(12_000, 10_000);
  assert.equal(await stored(), 41);
  // Another save of the record (any change) writes the claim with it; a stop writes what is left (everyMs 0).
  b.records.raiseClaim(p, 42, new Uint8Array(32).fill(42));
  b.records.saveClaims(12_500, 0);
  const again = await b.reopen(13_000);
  assert.equal(peerOf(again, "10.0.6.1").bestHeight, 42, "a restart reads the last claim written");
});
