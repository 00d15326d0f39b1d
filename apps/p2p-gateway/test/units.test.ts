import { test } from "node:test";
import assert from "node:assert/strict";
import { NodeKey } from "@timenet/node-key";
import { DisconnectReason } from "@timenet/proto";
import { ExponentialBackoff } from "../src/backoff.js";
import { SeenCache } from "../src/seen-cache.js";
import { buildHello, checkHello, signAck, verifyAck } from "../src/hello.js";
import { gatewayEnvSchema, parseGatewayEnv } from "../src/config.js";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ScriptedPeer } from "./harness.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, PeerMessageSchema } from "@timenet/proto";
import { encodePeerMessage } from "../src/peer-message.js";

test("a PeerMessage spliced around raw envelope bytes equals the normal encoding", () => {
  for (const size of [0, 1, 127, 128, 300, 70_000]) {
    const envelope = create(EnvelopeSchema, { requestId: 9, payload: { case: "tx", value: { data: new Uint8Array(size).fill(3) } } });
    const raw = toBinary(EnvelopeSchema, envelope);
    const want = toBinary(PeerMessageSchema, create(PeerMessageSchema, { peerIp: "2001:db8::1", connId: 300, envelope }));
    assert.deepEqual(Buffer.from(encodePeerMessage("2001:db8::1", 300, raw)), Buffer.from(want), `size ${size}`);
  }
});

test("backoff grows from min to max with jitter, and resets", () => {
  let r = 0;
  const b = new ExponentialBackoff(1000, 60_000, () => r);
  const lows: number[] = [];
  for (let i = 0; i < 10; i++) {
    b.fail();
    lows.push(b.nextDelayMs());
  }
  assert.deepEqual(lows, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  r = 0.999999;
  assert.equal(b.nextDelayMs(), 60_000);
  b.reset();
  b.fail();
  assert.ok(b.nextDelayMs() <= 1000);
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

test("hello signatures and acks bind the node key, the hello fields and the fresh nonce", () => {
  const alice = ScriptedPeer.identity();
  const bob = ScriptedPeer.identity();
  const h = buildHello(alice, "127.0.0.3");
  assert.equal(checkHello(bob, h), undefined);
  const tampered = { ...h, listenPort: h.listenPort + 1 };
  assert.equal(checkHello(bob, tampered)?.reason, DisconnectReason.BAD_SIGNATURE);
  const otherKey = { ...h, nodeId: NodeKey.generate().publicKey };
  assert.equal(checkHello(bob, otherKey)?.reason, DisconnectReason.BAD_SIGNATURE);
  assert.equal(checkHello(alice, h)?.reason, DisconnectReason.SELF_CONNECTION);
  assert.equal(checkHello({ ...bob, genesisHash: new Uint8Array(32) }, h)?.reason, DisconnectReason.WRONG_GENESIS);
  assert.equal(checkHello({ ...bob, minProtocolVersion: 2 }, h)?.reason, DisconnectReason.BAD_VERSION);
  const ack = signAck(bob, h);
  assert.equal(verifyAck(h, bob.key.publicKey, ack), true);
  // An ack for another hello (a replay) does not verify.
  assert.equal(verifyAck(buildHello(alice, "127.0.0.3"), bob.key.publicKey, ack), false);
});

test("configuration defaults follow the design's port plan", () => {
  const c = parseGatewayEnv({});
  assert.equal(c.P2P_PORT, 24100);
  assert.equal(c.GRPC_PORT, 50051);
  assert.equal(c.METRICS_PORT, 9101);
  assert.equal(c.PING_INTERVAL, 10_000);
  assert.equal(c.MISSED_PONGS, 3);
  assert.equal(c.PASSIVE_WAIT, 30_000);
  assert.equal(c.MAX_FRAME_BYTES, 8 * 1024 * 1024);
  assert.deepEqual(parseGatewayEnv({ BOOTSTRAP_PEERS: "127.0.0.2, [::ffff:127.0.0.3]:5" }).BOOTSTRAP_PEERS, [
    { ip: "127.0.0.2", port: 24100 },
    { ip: "127.0.0.3", port: 5 },
  ]);
});

test("the README's configuration table lists every variable the gateway reads", () => {
  const readme = readFileSync(fileURLToPath(new URL("../../../../README.md", import.meta.url)), "utf8");
  for (const name of Object.keys(gatewayEnvSchema)) assert.match(readme, new RegExp("\\| `" + name + "` \\|"), name);
});
