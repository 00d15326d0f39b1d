import { test } from "node:test";
import assert from "node:assert/strict";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { DisconnectReason, EnvelopeSchema, type Envelope, type Hello } from "@timenet/proto";
import { Handshake } from "../src/handshake.js";
import type { LocalIdentity } from "../src/hello.js";
import { ScriptedPeer } from "./harness.js";
import { ManualClock } from "./manual-clock.js";

const TIMEOUT = 1_000;

/** One end of a handshake on a manual clock, recording what it sends and how it ends. */
function end(local: LocalIdentity, observedIp: string, clock = new ManualClock()) {
  const sent: Envelope[] = [];
  let completed: Hello | undefined;
  let failed: { reason: DisconnectReason; detail: string } | undefined;
  const hs = new Handshake(
    {
      send: (e) => sent.push(e),
      complete: (peerHello) => (completed = peerHello),
      fail: (reason, detail) => (failed = { reason, detail }),
    },
    { local, observedIp, helloTimestampMs: BigInt(Date.now()), timeoutMs: TIMEOUT, clock },
  );
  // Functions, not fields: the compiler must not assume they stay as last checked.
  return { hs, sent, clock, completed: () => completed, failed: () => failed };
}

/** Delivers what each end sent to the other until both are quiet. */
function exchange(a: ReturnType<typeof end>, b: ReturnType<typeof end>): void {
  let ai = 0;
  let bi = 0;
  while (ai < a.sent.length || bi < b.sent.length) {
    if (ai < a.sent.length) b.hs.onFrame(a.sent[ai++]!);
    if (bi < b.sent.length) a.hs.onFrame(b.sent[bi++]!);
  }
}

const frame = (payload: MessageInitShape<typeof EnvelopeSchema>["payload"]): Envelope => create(EnvelopeSchema, { payload });

test("both ends complete with each other's Hello, and the timeout is disarmed", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3");
  const bob = end(ScriptedPeer.identity(), "127.0.0.2");
  alice.hs.start();
  bob.hs.start();
  exchange(alice, bob);
  assert.equal(alice.completed(), bob.hs.ourHello);
  assert.equal(bob.completed(), alice.hs.ourHello);
  assert.equal(alice.failed(), undefined);
  assert.deepEqual(alice.sent.map((e) => e.payload.case), ["hello", "helloAck"]);
  assert.equal(alice.hs.ourHello.observedIp, "127.0.0.3");
  assert.equal(alice.clock.pendingTimers, 0);
  alice.clock.advance(10 * TIMEOUT);
  assert.equal(alice.failed(), undefined);
});

test("no complete handshake within the timeout fails with HANDSHAKE_TIMEOUT", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3");
  const bob = end(ScriptedPeer.identity(), "127.0.0.2");
  alice.hs.start();
  // Bob's Hello arrives, but never his HelloAck.
  bob.hs.start();
  alice.hs.onFrame(bob.sent[0]!);
  alice.clock.advance(TIMEOUT - 1);
  assert.equal(alice.failed(), undefined);
  alice.clock.advance(1);
  assert.equal(alice.failed()?.reason, DisconnectReason.HANDSHAKE_TIMEOUT);
  assert.equal(alice.completed(), undefined);
});

test("a cancelled handshake (the connection closed) never times out", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3");
  alice.hs.start();
  alice.hs.cancel();
  alice.clock.advance(10 * TIMEOUT);
  assert.equal(alice.failed(), undefined);
});

test("only Hello then HelloAck are accepted before the handshake completes, the Hello once", () => {
  const bobHello = () => {
    const bob = end(ScriptedPeer.identity(), "127.0.0.2");
    bob.hs.start();
    return bob.sent[0]!;
  };
  const cases: Array<[Envelope[], string]> = [
    [[frame({ case: "tx", value: { data: new Uint8Array([1]) } })], "tx before the handshake completed"],
    [[frame({ case: "ping", value: { nonce: 1n } })], "ping before the handshake completed"],
    [[frame({ case: "helloAck", value: { signature: new Uint8Array(64) } })], "hello ack before hello"],
    [[bobHello(), bobHello()], "second hello"],
  ];
  for (const [frames, detail] of cases) {
    const alice = end(ScriptedPeer.identity(), "127.0.0.3");
    alice.hs.start();
    for (const f of frames) alice.hs.onFrame(f);
    assert.equal(alice.failed()?.reason, DisconnectReason.PROTOCOL_ERROR, detail);
    assert.equal(alice.failed()?.detail, detail);
  }
});

test("a refused Hello fails with its reason; an ack signed for another Hello (a replay) is BAD_SIGNATURE", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3");
  const stranger = end(ScriptedPeer.identity({ network: "mainnet" }), "127.0.0.2");
  alice.hs.start();
  stranger.hs.start();
  alice.hs.onFrame(stranger.sent[0]!);
  assert.equal(alice.failed()?.reason, DisconnectReason.WRONG_NETWORK);
  assert.equal(alice.sent.length, 1, "no ack for a refused Hello");

  // Bob acknowledges an earlier Hello of Alice's, not the one on this connection.
  const aliceIdentity = ScriptedPeer.identity();
  const earlier = end(aliceIdentity, "127.0.0.3");
  const now = end(aliceIdentity, "127.0.0.3");
  const bob = end(ScriptedPeer.identity(), "127.0.0.2");
  earlier.hs.start();
  now.hs.start();
  bob.hs.start();
  bob.hs.onFrame(earlier.sent[0]!);
  const replayedAck = bob.sent.find((e) => e.payload.case === "helloAck")!;
  now.hs.onFrame(bob.sent[0]!);
  now.hs.onFrame(replayedAck);
  assert.equal(now.failed()?.reason, DisconnectReason.BAD_SIGNATURE);
  assert.equal(now.completed(), undefined);
});

test("our own Hello coming back is a self-connection", () => {
  const me = ScriptedPeer.identity();
  const a = end(me, "127.0.0.2");
  const b = end(me, "127.0.0.2");
  a.hs.start();
  b.hs.start();
  a.hs.onFrame(b.sent[0]!);
  assert.equal(a.failed()?.reason, DisconnectReason.SELF_CONNECTION);
});
