import { test } from "node:test";
import { randomBytes } from "node:crypto";
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
  return { hs, sent, clock, local, completed: () => completed, failed: () => failed };
}

type End = ReturnType<typeof end>;

/** Both ends' channel opened with one handshake hash (what SecureChannel gives them): each sends its Hello. */
function open(a: End, b: End, handshakeHash: Uint8Array = randomBytes(32), otherNetwork = false): Uint8Array {
  a.hs.start();
  b.hs.start();
  a.hs.begin({ remoteNodeId: b.local.key.publicKey, handshakeHash, otherNetwork });
  b.hs.begin({ remoteNodeId: a.local.key.publicKey, handshakeHash, otherNetwork });
  return handshakeHash;
}

/** Delivers what each end sent to the other until both are quiet. */
function exchange(a: End, b: End): void {
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
  open(alice, bob);
  exchange(alice, bob);
  assert.equal(alice.completed(), bob.hs.ourHello);
  assert.equal(bob.completed(), alice.hs.ourHello);
  assert.equal(alice.failed(), undefined);
  assert.deepEqual(alice.sent.map((e) => e.payload.case), ["hello", "helloAck"]);
  assert.equal(alice.hs.ourHello?.observedIp, "127.0.0.3");
  assert.equal(alice.clock.pendingTimers, 0);
  alice.clock.advance(10 * TIMEOUT);
  assert.equal(alice.failed(), undefined);
});

test("no complete handshake within the timeout fails with HANDSHAKE_TIMEOUT, the Noise stage included", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3");
  const bob = end(ScriptedPeer.identity(), "127.0.0.2");
  open(alice, bob);
  // Bob's Hello arrives, but never his HelloAck.
  alice.hs.onFrame(bob.sent[0]!);
  alice.clock.advance(TIMEOUT - 1);
  assert.equal(alice.failed(), undefined);
  alice.clock.advance(1);
  assert.equal(alice.failed()?.reason, DisconnectReason.HANDSHAKE_TIMEOUT);
  assert.equal(alice.completed(), undefined);
  // The timer runs from the socket's start: a channel that never opens times out too.
  const carol = end(ScriptedPeer.identity(), "127.0.0.4");
  carol.hs.start();
  carol.clock.advance(TIMEOUT);
  assert.match(carol.failed()?.detail ?? "", /noise stage/);
});

test("a cancelled handshake (the connection closed) never times out", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3");
  alice.hs.start();
  alice.hs.cancel();
  alice.clock.advance(10 * TIMEOUT);
  assert.equal(alice.failed(), undefined);
});

test("only Hello then HelloAck are accepted before the handshake completes, the Hello once", () => {
  const cases: Array<[(bob: End) => Envelope[], string]> = [
    [() => [frame({ case: "tx", value: { data: new Uint8Array([1]) } })], "tx before the handshake completed"],
    [() => [frame({ case: "ping", value: { nonce: 1n } })], "ping before the handshake completed"],
    [() => [frame({ case: "helloAck", value: { signature: new Uint8Array(64) } })], "hello ack before hello"],
    [(bob) => [bob.sent[0]!, bob.sent[0]!], "second hello"],
  ];
  for (const [frames, detail] of cases) {
    const alice = end(ScriptedPeer.identity(), "127.0.0.3");
    const bob = end(ScriptedPeer.identity(), "127.0.0.2");
    open(alice, bob);
    for (const f of frames(bob)) alice.hs.onFrame(f);
    assert.equal(alice.failed()?.reason, DisconnectReason.PROTOCOL_ERROR, detail);
    assert.equal(alice.failed()?.detail, detail);
  }
});

test("a refused Hello fails with its reason; an ack signed on another connection (a replay) is BAD_SIGNATURE", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3");
  const stranger = end(ScriptedPeer.identity({ network: "mainnet" }), "127.0.0.2");
  open(alice, stranger, randomBytes(32), true);
  alice.hs.onFrame(stranger.sent[0]!);
  assert.equal(alice.failed()?.reason, DisconnectReason.WRONG_NETWORK);
  assert.equal(alice.sent.length, 1, "no ack for a refused Hello");

  // Bob acknowledges Alice's Hello of an earlier connection, not the one on this connection.
  const aliceIdentity = ScriptedPeer.identity();
  const bobIdentity = ScriptedPeer.identity();
  const earlier = end(aliceIdentity, "127.0.0.3");
  const bobEarlier = end(bobIdentity, "127.0.0.2");
  open(earlier, bobEarlier);
  bobEarlier.hs.onFrame(earlier.sent[0]!);
  const replayedAck = bobEarlier.sent.find((e) => e.payload.case === "helloAck")!;
  const now = end(aliceIdentity, "127.0.0.3");
  const bob = end(bobIdentity, "127.0.0.2");
  open(now, bob);
  now.hs.onFrame(bob.sent[0]!);
  now.hs.onFrame(replayedAck);
  assert.equal(now.failed()?.reason, DisconnectReason.BAD_SIGNATURE);
  assert.equal(now.completed(), undefined);
});

test("a Hello from another connection, or signed by another id than the channel proved, is BAD_SIGNATURE", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3");
  const bob = end(ScriptedPeer.identity(), "127.0.0.2");
  open(alice, bob);
  // Bob's genuine Hello, recorded on another connection, replayed here.
  const replayedFrom = end(bob.local, "127.0.0.2");
  open(end(ScriptedPeer.identity(), "127.0.0.9"), replayedFrom);
  alice.hs.onFrame(replayedFrom.sent[0]!);
  assert.equal(alice.failed()?.reason, DisconnectReason.BAD_SIGNATURE);

  // Carol signs a Hello for this very channel, but the channel proved Bob.
  const alice2 = end(ScriptedPeer.identity(), "127.0.0.3");
  const bob2 = end(ScriptedPeer.identity(), "127.0.0.2");
  const hh = open(alice2, bob2);
  const carol = end(ScriptedPeer.identity(), "127.0.0.2");
  carol.hs.start();
  carol.hs.begin({ remoteNodeId: alice2.local.key.publicKey, handshakeHash: hh, otherNetwork: false });
  alice2.hs.onFrame(carol.sent[0]!);
  assert.equal(alice2.failed()?.reason, DisconnectReason.BAD_SIGNATURE);
});

test("on a channel whose network fingerprints differed, a Hello that names our network is a protocol error", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3");
  const bob = end(ScriptedPeer.identity(), "127.0.0.2");
  open(alice, bob, randomBytes(32), true);
  alice.hs.onFrame(bob.sent[0]!);
  assert.equal(alice.failed()?.reason, DisconnectReason.PROTOCOL_ERROR);
});
