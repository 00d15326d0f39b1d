// The parts of serving that need no store: the spliced reply, the byte
// budgets, the log throttle and the configuration's cross-checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { BlockSchema, SendToPeerSchema } from "@timenet/proto";
import { ConfigError } from "@timenet/config";
import { parseBlockStoreEnv } from "../src/config.js";
import { LogThrottle } from "@timenet/telemetry";
import { ServeBudget } from "../src/serve-budget.js";
import { encodeBlocksReply } from "../src/serve-reply.js";
import { buildChain, GENESIS } from "./chain-builder.js";

test("the spliced reply is byte for byte protobuf-es's SendToPeer, whatever is zero or large", () => {
  const small = buildChain(GENESIS, 3);
  const large = buildChain(GENESIS, 1, { padBytes: 300_000, salt: "large" });
  const cases = [
    { to: { peerIp: "203.0.113.7", connId: 42, requestId: 100 }, blocks: small },
    { to: { peerIp: "2001:db8::1", connId: 2 ** 32 - 1, requestId: 2 ** 32 - 1 }, blocks: large },
    { to: { peerIp: "198.51.100.1", connId: 0, requestId: 0 }, blocks: [] },
    { to: { peerIp: "", connId: 7, requestId: 128 }, blocks: small.slice(0, 1) },
  ];
  for (const { to, blocks } of cases) {
    const expected = toBinary(
      SendToPeerSchema,
      create(SendToPeerSchema, { peerIp: to.peerIp, connId: to.connId, envelope: { requestId: to.requestId, payload: { case: "blocks", value: { blocks } } } }),
    );
    const spliced = encodeBlocksReply(
      to,
      blocks.map((b) => toBinary(BlockSchema, b)),
    );
    assert.deepEqual(Buffer.from(spliced), Buffer.from(expected), JSON.stringify(to));
    assert.equal(spliced.byteLength, spliced.buffer.byteLength, "the reply owns its buffer (it is transferred, not copied)");
  }
  // A refusal for load says so (Blocks.busy), byte for byte as protobuf-es writes it.
  const to = { peerIp: "198.51.100.1", connId: 3, requestId: 9 };
  const busy = toBinary(SendToPeerSchema, create(SendToPeerSchema, { ...to, envelope: { requestId: 9, payload: { case: "blocks", value: { blocks: [], busy: true } } } }));
  assert.deepEqual(Buffer.from(encodeBlocksReply(to, [], true)), Buffer.from(busy));
});

test("byte budgets: a peer's burst then its rate; everyone's budget shared; idle peers forgotten, busy ones keep their place", () => {
  let now = 0;
  const b = new ServeBudget({ peer: { bytesPerSec: 1_000, burstBytes: 5_000 }, global: { bytesPerSec: 3_000, burstBytes: 8_000 }, maxPeers: 2 }, () => now);
  assert.deepEqual(b.allowance("a"), { bytes: 5_000, by: "peer_budget" });
  b.spend("a", 5_000);
  assert.deepEqual(b.allowance("a"), { bytes: 0, by: "peer_budget" }, "a peer's burst spent");
  assert.deepEqual(b.allowance("b"), { bytes: 3_000, by: "global_budget" }, "what is left of everyone's budget limits another peer");
  b.spend("b", 3_000);
  now = 500;
  assert.deepEqual(b.allowance("a"), { bytes: 500, by: "peer_budget" }, "half a second refills 500 bytes of the peer's budget");
  assert.equal(b.allowance("c"), "peers_full", "two peers tracked, both still spending");
  now = 10_000;
  assert.deepEqual(b.allowance("c"), { bytes: 5_000, by: "peer_budget" }, "refilled peers are forgotten to make room");
  assert.equal(b.size, 1);
});

test("the log throttle: the first line of a window, then one line counting what was not logged", () => {
  let now = 0;
  const t = new LogThrottle(1_000, 2, () => now);
  assert.equal(t.tick("a"), 0);
  assert.equal(t.tick("a"), undefined);
  assert.equal(t.tick("a"), undefined);
  assert.equal(t.tick("b"), 0);
  assert.equal(t.tick("c"), 0, "a full table is cleared rather than silencing a new peer");
  now = 1_000;
  assert.equal(t.tick("c"), 0);
  assert.equal(t.tick("a"), 0, "a was forgotten with its count when the table was cleared");
});

test("configuration: serving budgets have defaults, and a burst smaller than one full answer is refused", () => {
  const c = parseBlockStoreEnv({});
  assert.equal(c.SERVE_PEER_RATE, 8 * 1024 * 1024);
  assert.equal(c.SERVE_PEER_BURST, 16 * 1024 * 1024);
  assert.equal(c.SERVE_GLOBAL_RATE, 32 * 1024 * 1024);
  assert.equal(c.SERVE_GLOBAL_BURST, 64 * 1024 * 1024);
  assert.equal(c.SERVE_QUEUE, 64);
  assert.equal(c.SERVE_QUEUE_PER_PEER, 16);
  assert.equal(c.SERVE_MAX_PEERS, 1024);
  assert.equal(c.SERVE_MAX_BACKLOG, 64 * 1024 * 1024);
  assert.throws(() => parseBlockStoreEnv({ SERVE_MAX_BYTES: "8MiB", SERVE_PEER_BURST: "4MiB" }), (e: unknown) => e instanceof ConfigError && /SERVE_MAX_BYTES <= SERVE_PEER_BURST/.test(e.message));
  assert.throws(() => parseBlockStoreEnv({ SERVE_PEER_BURST: "128MiB" }), (e: unknown) => e instanceof ConfigError && /SERVE_PEER_BURST <= SERVE_GLOBAL_BURST/.test(e.message));
  assert.throws(() => parseBlockStoreEnv({ SERVE_QUEUE: "8" }), (e: unknown) => e instanceof ConfigError && /SERVE_QUEUE_PER_PEER <= SERVE_QUEUE/.test(e.message));
  assert.throws(() => parseBlockStoreEnv({ SERVE_PEER_RATE: "fast" }), ConfigError);
});
