import { randomBytes } from "node:crypto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { NodeKey } from "@timenet/node-key";
import { DisconnectReason } from "@timenet/proto";
import { SeenCache } from "../src/seen-cache.js";
import { PeerRateLimits } from "../src/peer-rate-limits.js";
import { InboundByteBudget } from "../src/inbound-byte-budget.js";
import { DEFAULT_RATE_LIMITS } from "../src/options.js";
import { buildHello, checkHello } from "../src/hello.js";
import { gatewayEnvSchema, parseGatewayEnv } from "../src/config.js";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ScriptedPeer } from "./harness.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, PeerMessageSchema, PeerResponseSchema, SendToPeerSchema } from "@timenet/proto";
import { decodeSendToPeer, encodePeerMessage, encodePeerResponse } from "../src/peer-message.js";

test("a PeerMessage spliced around raw envelope bytes equals the normal encoding", () => {
  for (const size of [0, 1, 127, 128, 300, 70_000]) {
    const envelope = create(EnvelopeSchema, { requestId: 9, payload: { case: "tx", value: { data: new Uint8Array(size).fill(3) } } });
    const raw = toBinary(EnvelopeSchema, envelope);
    const want = toBinary(PeerMessageSchema, create(PeerMessageSchema, { peerIp: "2001:db8::1", connId: 300, envelope }));
    assert.deepEqual(Buffer.from(encodePeerMessage("2001:db8::1", 300, raw)), Buffer.from(want), `size ${size}`);
  }
});

test("SendToPeer read around its envelope's bytes: the fields protobuf decodes, the envelope as sent; a PeerResponse spliced as protobuf encodes it", () => {
  for (const size of [0, 1, 127, 128, 70_000]) {
    const envelope = create(EnvelopeSchema, { requestId: 9, payload: { case: "tx", value: { data: new Uint8Array(size).fill(3) } } });
    const bytes = toBinary(SendToPeerSchema, create(SendToPeerSchema, { peerIp: "2001:db8::1", connId: 300, envelope }));
    const m = decodeSendToPeer(bytes);
    assert.equal(m.peerIp, "2001:db8::1");
    assert.equal(m.connId, 300);
    assert.deepEqual(m.envelope!.body, toBinary(EnvelopeSchema, envelope));
    assert.equal(m.envelope!.head.kind, "tx");
    assert.deepEqual(encodePeerResponse(m.envelope!.body), toBinary(PeerResponseSchema, create(PeerResponseSchema, { result: { case: "envelope", value: envelope } })));
  }
  assert.equal(decodeSendToPeer(toBinary(SendToPeerSchema, create(SendToPeerSchema, { peerIp: "10.0.0.1" }))).envelope, undefined);
  const twice = toBinary(SendToPeerSchema, create(SendToPeerSchema, { envelope: { payload: { case: "ping", value: { nonce: 1n } } } }));
  assert.throws(() => decodeSendToPeer(Uint8Array.of(...twice, ...twice)), /two envelopes/);
});

test("seen cache is bounded and forgets the oldest first", () => {
  const s = new SeenCache(3);
  assert.equal(s.add("a"), true);
  assert.equal(s.add("a"), false);
  s.add("b");
  s.add("c");
  s.add("d");
  assert.equal(s.size, 3);
  assert.equal(s.has("a"), false);
  assert.equal(s.has("d"), true);
});

test("hello signatures bind the node key, the hello fields and the connection", () => {
  const alice = ScriptedPeer.identity();
  const bob = ScriptedPeer.identity();
  const hh = randomBytes(32);
  const proof = { remoteNodeId: alice.key.publicKey, handshakeHash: hh, otherNetwork: false };
  const h = buildHello(alice, "127.0.0.3", 1n, hh);
  assert.equal(checkHello(bob, h, proof), undefined);
  const tampered = { ...h, listenPort: h.listenPort + 1 };
  assert.equal(checkHello(bob, tampered, proof)?.reason, DisconnectReason.BAD_SIGNATURE);
  const otherKey = { ...h, nodeId: NodeKey.generate().publicKey };
  assert.equal(checkHello(bob, otherKey, proof)?.reason, DisconnectReason.BAD_SIGNATURE);
  assert.equal(checkHello(bob, h, { ...proof, handshakeHash: randomBytes(32) })?.reason, DisconnectReason.BAD_SIGNATURE, "another connection's hello");
  assert.equal(checkHello({ ...bob, genesisHash: new Uint8Array(32) }, h, proof)?.reason, DisconnectReason.WRONG_GENESIS);
  assert.equal(checkHello({ ...bob, minProtocolVersion: h.protocolVersion + 1 }, h, proof)?.reason, DisconnectReason.BAD_VERSION);
});

test("configuration defaults follow the design's port plan", () => {
  const c = parseGatewayEnv({});
  assert.equal(c.P2P_PORT, 24100);
  assert.equal(c.GRPC_PORT, 50051);
  assert.equal(c.METRICS_PORT, 9101);
  assert.equal(c.PING_INTERVAL, 10_000);
  assert.equal(c.MISSED_PONGS, 3);
  assert.equal(c.MAX_FRAME_BYTES, 8 * 1024 * 1024);
  assert.deepEqual(c.RATE_LIMIT_GET_BLOCKS, { count: 20, periodMs: 1_000, burst: 200 });
  assert.deepEqual(parseGatewayEnv({ RATE_LIMIT_PING: "5/s:20" }).RATE_LIMIT_PING, { count: 5, periodMs: 1_000, burst: 20 });
  assert.deepEqual(parseGatewayEnv({ NAMED_PEERS: "127.0.0.2, ::ffff:127.0.0.3" }).NAMED_PEERS, ["127.0.0.2", "127.0.0.3"]);
});

test("rate limits: a burst passes, excess is dropped, and only sustained excess is abuse", () => {
  const limits = new PeerRateLimits({
    ...DEFAULT_RATE_LIMITS,
    getBlocks: { count: 10, periodMs: 1_000, burst: 100 },
    abuse: { count: 1, periodMs: 1_000, burst: 20 },
  }, 0);
  // A sync burst of 100 GetBlocks at once is within the burst.
  for (let i = 0; i < 100; i++) assert.equal(limits.check("get_blocks", 0, 0), "ok");
  // Then excess is dropped; the 21st drop without the abuse bucket refilling is abuse, once.
  const verdicts = Array.from({ length: 25 }, () => limits.check("get_blocks", 0, 0));
  assert.deepEqual(verdicts.slice(0, 20), Array(20).fill("drop"));
  assert.equal(verdicts[20], "abuse");
  assert.deepEqual(verdicts.slice(21), Array(4).fill("drop"));
  // Unlimited kinds and other kinds have their own budget.
  assert.equal(limits.check("get_peers", 0, 0), "ok");
  assert.equal(limits.check("blocks_response_not_limited", 0, 0), "ok");
  // A second later the rate has refilled ten.
  assert.equal(limits.check("get_blocks", 0, 1_000), "ok");
});

test("gossip is limited by its bytes too: a few large messages exhaust what many small ones would not", () => {
  const limits = new PeerRateLimits({ ...DEFAULT_RATE_LIMITS, gossipBytes: { count: 1_000, periodMs: 1_000, burst: 4_000 } }, 0);
  assert.equal(limits.check("tx", 3_000, 0), "ok");
  assert.equal(limits.check("tx", 3_000, 0), "drop", "over the byte burst");
  assert.equal(limits.check("tx", 500, 0), "ok", "small ones still fit what is left");
  assert.equal(limits.check("tx", 3_000, 3_000), "ok", "refilled after three seconds");
});

test("pushed blocks have their own budget on top of gossip's: over it they are announcements only, never abuse", () => {
  const limits = new PeerRateLimits({ ...DEFAULT_RATE_LIMITS, pushes: { count: 1, periodMs: 1_000, burst: 2 }, abuse: { count: 1, periodMs: 60_000, burst: 3 } }, 0);
  const push = () => limits.check("new_block_push", 60_000, 0);
  assert.deepEqual([push(), push()], ["ok", "ok"], "the burst");
  assert.deepEqual(Array.from({ length: 50 }, push), Array(50).fill("announce_only"), "50 more: their blocks dropped, and never abuse");
  assert.equal(limits.check("new_block", 200, 0), "ok", "announcements are not pushes");
  assert.equal(limits.check("new_block_push", 60_000, 1_000), "ok", "one more a second later");
  // Within the push budget, a push still spends gossip's bytes: a byte flood is gossip's abuse as before.
  const tight = new PeerRateLimits({ ...DEFAULT_RATE_LIMITS, gossipBytes: { count: 1, periodMs: 1_000, burst: 100_000 } }, 0);
  assert.equal(tight.check("new_block_push", 60_000, 0), "ok");
  assert.equal(tight.check("new_block_push", 60_000, 0), "drop", "over gossip's bytes");
});

test("the node-wide budget holds only the heaviest senders once it is spent, and only until they are back within their share", () => {
  const budget = new InboundByteBudget({ count: 1_000_000, periodMs: 1_000, burst: 1_000_000 }, 0);
  const heavy = budget.usage(0);
  const light = budget.usage(0);
  assert.equal(budget.charge(light, 1_000, 0), 0);
  assert.equal(budget.charge(heavy, 999_000, 0), 0, "within the burst: nobody waits");
  assert.equal(budget.fairShare(0), 500_000, "two senders this period share the rate");
  const hold = budget.charge(heavy, 1_000, 0);
  // Its recent million bytes decay to the 500 000 share in ln(2) of the period.
  assert.equal(hold, Math.round(1_000 * Math.log(2)), "the bucket is spent and the heavy sender is over its share");
  assert.equal(budget.charge(light, 1_000, 0), 0, "a light sender is never held for the heavy one, however spent the bucket");
  assert.equal(budget.charge(light, 1_000, 1), 0);
  // A second later the bucket holds a second's rate again, and the heavy sender's past has decayed.
  assert.equal(budget.charge(heavy, 500_000, 1_000), 0);
  // Many senders split the rate: each may send a share without waiting, even when the bucket is dry.
  const many = new InboundByteBudget({ count: 1_000_000, periodMs: 1_000, burst: 100_000 }, 0);
  const senders = Array.from({ length: 10 }, () => many.usage(0));
  for (const u of senders) many.charge(u, 10_000, 0);
  assert.equal(many.fairShare(0), 100_000);
  assert.deepEqual(senders.map((u) => many.charge(u, 80_000, 0)), Array(10).fill(0), "each within its share of 100 000");
  assert.ok(senders.every((u) => many.charge(u, 20_000, 0) > 0), "each held once beyond it, with the bucket dry");
  assert.ok(many.charge(senders[0]!, 1_000_000, 0) <= 2_000, "never held longer than 2 s: its pings are answered after it");
  // Senders silent for two periods no longer count against the share of those still sending.
  const lone = many.usage(0);
  many.charge(lone, 1, 2_500);
  assert.equal(many.fairShare(2_500), 1_000_000);
});

test("the README's configuration table lists every variable the gateway reads", () => {
  const readme = readFileSync(fileURLToPath(new URL("../../../../README.md", import.meta.url)), "utf8");
  for (const name of Object.keys(gatewayEnvSchema)) assert.match(readme, new RegExp("\\| `" + name + "` \\|"), name);
});

test("values fine alone but not together stop the gateway with one line naming both", () => {
  assert.throws(() => parseGatewayEnv({ MAX_FRAME_BYTES: "16MiB", MAX_SEND_QUEUE: "8MiB" }), {
    message: 'invalid configuration: MAX_FRAME_BYTES="16MiB", MAX_SEND_QUEUE="8MiB": expected MAX_FRAME_BYTES <= MAX_SEND_QUEUE',
  });
  assert.throws(() => parseGatewayEnv({ MAX_SOCKETS_PER_IP: "10", MAX_CONNECTIONS: "5" }), /expected MAX_SOCKETS_PER_IP <= MAX_CONNECTIONS$/);
  // Our GetBlocks pace above the inbound limit (which peers share by default) would overrun them.
  assert.deepEqual(parseGatewayEnv({}).GET_BLOCKS_PACE, { count: 16, periodMs: 1_000, burst: 160 });
  assert.throws(() => parseGatewayEnv({ GET_BLOCKS_PACE: "30/s:100" }), /GET_BLOCKS_PACE="30\/s:100", RATE_LIMIT_GET_BLOCKS="20\/s:200": expected GET_BLOCKS_PACE no faster/);
  assert.throws(() => parseGatewayEnv({ GET_BLOCKS_PACE: "10/s:300" }), /expected GET_BLOCKS_PACE no faster and no burstier than RATE_LIMIT_GET_BLOCKS$/);
  assert.equal(parseGatewayEnv({ GET_BLOCKS_PACE: "40/s:400", RATE_LIMIT_GET_BLOCKS: "50/s:500" }).GET_BLOCKS_PACE.count, 40);
  // The same for pushes: one the peer skips over its limit loses its announcement too.
  assert.deepEqual(parseGatewayEnv({}).PUSH_PACE, { count: 1.6, periodMs: 1_000, burst: 6 });
  assert.throws(() => parseGatewayEnv({ PUSH_PACE: "3/s:6" }), /PUSH_PACE="3\/s:6", RATE_LIMIT_PUSHES="2\/s:8": expected PUSH_PACE no faster and no burstier than RATE_LIMIT_PUSHES$/);
  assert.throws(() => parseGatewayEnv({ PUSH_PACE: "1/s:10" }), /expected PUSH_PACE no faster and no burstier than RATE_LIMIT_PUSHES$/);
});
