// Peer exchange's addresses: what we share, what we take.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OffenceKind } from "@timenet/proto";
import { conn, ip, makeBook, offence, run } from "./book-fixture.js";

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
