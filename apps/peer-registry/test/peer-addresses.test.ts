// Peer exchange's addresses: what we share, what we take.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DisconnectReason, OffenceKind, PeerSource } from "@timenet/proto";
import { conn, ip, makeBook, offence, peerOf, run } from "./book-fixture.js";

const addr = (a: string, port = 24100) => ({ $typeName: "timenet.p2p.v1.PeerAddress" as const, ip: a, port, lastSeenMs: 0n });

test("candidates: a bounded number per source, and the budget survives reconnects; bad, private, self and known ones are refused", async () => {
  const b = await makeBook({ candidateRate: { count: 4, periodMs: 600_000, burst: 4 }, publicIp: ip("198.51.100.50") });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("198.51.100.1", 1), 1_000);
  const src = ip("198.51.100.1");
  const t = b.addresses.ingest(src, [addr("198.51.100.2"), addr("not an ip"), addr("192.168.1.1"), addr("198.51.100.50"), addr("198.51.100.1"), addr("198.51.100.3", 0)], 1_000);
  assert.deepEqual(t, { accepted: 1, invalid: 2, private: 1, self: 1, known: 1 });
  // Every new address examined cost one of the 4 (unparseable and known ones
  // cost nothing). The source reconnects: its budget is not refilled.
  b.connections.apply(conn("198.51.100.1", 1, { ended: { reason: 1, livedMs: 10 } }), 2_000);
  b.connections.apply(conn("198.51.100.1", 2, { at: 3_000 }), 3_000);
  const t2 = b.addresses.ingest(src, [addr("198.51.100.4"), addr("198.51.100.5"), addr("198.51.100.6")], 3_000);
  assert.deepEqual(t2, { rate_limited: 3 });
  // Addresses from an IP the book does not hold are not taken (and leave nothing behind).
  assert.deepEqual(b.addresses.ingest(ip("203.0.113.77"), [addr("203.0.113.78")], 3_000), { unknown_source: 1 });
  assert.equal(b.records.has(ip("203.0.113.78")), false);
});

test("sharing: only peers we were connected to, recently, not banned; never private addresses to a public peer", async () => {
  const b = await makeBook({ peerExchangeMaxAgeMs: 10_000 });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("198.51.100.1", 1), 1_000); // connected now
  b.connections.apply(conn("198.51.100.2", 2), 1_000);
  b.connections.apply(conn("198.51.100.2", 2, { ended: { reason: 1, livedMs: 1 } }), 1_500); // seen at 1.5 s
  b.connections.apply(conn("10.0.0.3", 3), 1_000); // private
  b.connections.apply(conn("198.51.100.4", 4), 1_000);
  b.judge.onOffence(offence("198.51.100.4", OffenceKind.WRONG_GENESIS), 1_000); // banned
  b.addresses.ingest(ip("198.51.100.1"), [addr("198.51.100.5")], 1_000); // never connected
  const toPublic = b.addresses.share(ip("203.0.113.9"), 32, 2_000).map((a) => a.ip);
  assert.deepEqual(toPublic, ["198.51.100.1", "198.51.100.2"]);
  const toPrivate = b.addresses.share(ip("10.0.0.9"), 32, 20_000).map((a) => a.ip).sort();
  assert.deepEqual(toPrivate, ["10.0.0.3", "198.51.100.1"], "198.51.100.2 was last seen too long ago");
  assert.deepEqual(b.addresses.share(ip("198.51.100.1"), 32, 2_000).map((a) => a.ip).includes("198.51.100.1"), false, "never the asker itself");
});

test("a source's budget is keyed by its IP: leaving the book and coming back does not refill it; the budgets are bounded, the fullest forgotten first", async () => {
  const b = await makeBook({ candidateRate: { count: 2, periodMs: 3_600_000, burst: 2 }, peerExchangeSources: 2, publicIp: ip("198.51.100.50") });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  const [m, s2, s3] = [ip("198.51.100.11"), ip("198.51.100.12"), ip("198.51.100.13")];
  for (const [k, s] of [m, s2, s3].entries()) b.connections.apply(conn(s, k + 1), 1_000);
  assert.deepEqual(b.addresses.ingest(m, [addr("198.51.100.21"), addr("198.51.100.22")], 1_000), { accepted: 2 });
  // m leaves the book (an operator's forget, an eviction, dial failures) and connects again: a new record, the same budget.
  b.records.remove(m, "evicted");
  b.connections.apply(conn(m, 9, { at: 2_000 }), 2_000);
  assert.deepEqual(b.addresses.ingest(m, [addr("198.51.100.23")], 2_000), { rate_limited: 1 });
  // A third source: the bound is 2, and the fullest budget goes (s2 has a token left), never m's spent one.
  assert.deepEqual(b.addresses.ingest(s2, [addr("198.51.100.24")], 2_000), { accepted: 1 });
  assert.deepEqual(b.addresses.ingest(s3, [addr("198.51.100.25"), addr("198.51.100.26")], 2_000), { accepted: 2 });
  assert.equal(await b.metric("timenet_registry_peer_exchange_sources"), 2);
  assert.deepEqual(b.addresses.ingest(m, [addr("198.51.100.27")], 2_000), { rate_limited: 1 }, "m's budget was kept");
});

test("a claim never changes an entry the book holds: a verified peer's port, a bootstrap peer's, an allow-listed one's", async () => {
  const b = await makeBook({ bootstrapPeers: [{ ip: ip("10.0.10.2"), port: 24102 }], allowList: [ip("10.0.10.3")] });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  b.connections.apply(conn("10.0.10.1", 1, { port: 24101 }), 1_000); // verified: a handshake completed
  b.connections.apply(conn("10.0.10.1", 1, { port: 24101, ended: { reason: DisconnectReason.PING_TIMEOUT, livedMs: 90_000 } }), 2_000);
  b.connections.apply(conn("10.0.10.9", 9), 2_000); // the teller
  const claims = ["10.0.10.1", "10.0.10.2", "10.0.10.3"].map((a) => addr(a, 22));
  assert.deepEqual(b.addresses.ingest(ip("10.0.10.9"), claims, 3_000), { known: 3 });
  assert.deepEqual(["10.0.10.1", "10.0.10.2", "10.0.10.3"].map((a) => peerOf(b, a).port), [24101, 24102, 0]);
  assert.equal(peerOf(b, "10.0.10.1").source, PeerSource.UNSPECIFIED);
});
