import { test } from "node:test";
import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import { toBinary } from "@bufbuild/protobuf";
import { DisconnectReason, HelloSchema, type Hello } from "@timenet/proto";
import { Handshake } from "../src/handshake.js";
import { buildHello, MAX_HELLO_BYTES, type LocalIdentity } from "../src/hello.js";
import type { SecureSession } from "../src/secure-channel.js";
import { ScriptedPeer } from "./harness.js";
import { ManualClock } from "./manual-clock.js";

const TIMEOUT = 1_000;

/** One end of a handshake on a manual clock, recording how it ends. */
function end(local: LocalIdentity, observedIp: string, initiator: boolean, clock = new ManualClock()) {
  let completed: Hello | undefined;
  let failed: { reason: DisconnectReason; detail: string } | undefined;
  const hs = new Handshake(
    {
      complete: (peerHello) => (completed = peerHello),
      fail: (reason, detail) => (failed = { reason, detail }),
    },
    { local, observedIp, helloTimestampMs: BigInt(Date.now()), initiator, timeoutMs: TIMEOUT, clock },
  );
  // Functions, not fields: the compiler must not assume they stay as last checked.
  return { hs, clock, local, completed: () => completed, failed: () => failed };
}

type End = ReturnType<typeof end>;

const encoded = (h: Hello | undefined) => (h ? Buffer.from(toBinary(HelloSchema, h)) : undefined);

/** What SecureChannel hands `to` when its channel with `from` opens: `from`'s Hello bytes (made for `binding`), the node id proved. */
function sessionFrom(from: End, o: { binding?: Uint8Array; checkedAgainst?: Uint8Array; otherNetwork?: boolean; hello?: Uint8Array } = {}): SecureSession {
  const binding = o.binding ?? randomBytes(32);
  return {
    remoteNodeId: from.local.key.publicKey,
    otherNetwork: o.otherNetwork ?? false,
    peerHello: o.hello ?? from.hs.helloFor(binding),
    peerHelloBinding: o.checkedAgainst ?? binding,
  };
}

test("both ends complete with each other's Hello, the timeout disarmed, each timing its own round trip", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3", true);
  const bob = end(ScriptedPeer.identity(), "127.0.0.2", false);
  alice.hs.start();
  bob.hs.start();
  // Message 1 takes 40 ms; Bob's Hello rides in message 2 (40 ms back); Alice's in message 3 (40 ms more).
  alice.clock.advance(40);
  bob.clock.advance(40);
  const toAlice = sessionFrom(bob);
  alice.clock.advance(40);
  bob.clock.advance(40);
  const toBob = sessionFrom(alice);
  alice.hs.open(toAlice);
  assert.deepEqual(encoded(alice.completed()), encoded(bob.hs.ourHello));
  bob.clock.advance(40);
  bob.hs.open(toBob);
  assert.deepEqual(encoded(bob.completed()), encoded(alice.hs.ourHello));
  assert.equal(alice.failed() ?? bob.failed(), undefined);
  assert.equal(alice.hs.ourHello?.observedIp, "127.0.0.3");
  // The dialler's round trip: message 1 out, message 2 in; the acceptor's: message 2 out, message 3 in.
  assert.equal(alice.hs.clockSample?.rttMs, 80);
  assert.equal(bob.hs.clockSample?.rttMs, 80);
  assert.equal(alice.clock.pendingTimers + bob.clock.pendingTimers, 0);
  alice.clock.advance(10 * TIMEOUT);
  assert.equal(alice.failed(), undefined);
});

test("no Noise handshake within the timeout fails with HANDSHAKE_TIMEOUT; a cancelled one never does", () => {
  const carol = end(ScriptedPeer.identity(), "127.0.0.4", true);
  carol.hs.start();
  carol.clock.advance(TIMEOUT - 1);
  assert.equal(carol.failed(), undefined);
  carol.clock.advance(1);
  assert.equal(carol.failed()?.reason, DisconnectReason.HANDSHAKE_TIMEOUT);
  const dave = end(ScriptedPeer.identity(), "127.0.0.5", false);
  dave.hs.start();
  dave.hs.cancel();
  dave.clock.advance(10 * TIMEOUT);
  assert.equal(dave.failed(), undefined);
});

test("a Hello for another network is refused with its reason, and nothing completes", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3", true);
  const stranger = end(ScriptedPeer.identity({ network: "mainnet" }), "127.0.0.2", false);
  alice.hs.start();
  alice.hs.open(sessionFrom(stranger, { otherNetwork: true }));
  assert.equal(alice.failed()?.reason, DisconnectReason.WRONG_NETWORK);
  assert.equal(alice.completed(), undefined);
});

test("a Hello made for another connection, or signed by another id than the channel proved, is BAD_SIGNATURE", () => {
  const alice = end(ScriptedPeer.identity(), "127.0.0.3", true);
  const bob = end(ScriptedPeer.identity(), "127.0.0.2", false);
  alice.hs.start();
  // Bob's genuine Hello, signed for an earlier connection's handshake hash, replayed on this one.
  alice.hs.open(sessionFrom(bob, { binding: randomBytes(32), checkedAgainst: randomBytes(32) }));
  assert.equal(alice.failed()?.reason, DisconnectReason.BAD_SIGNATURE);

  // Carol signs a Hello for this very connection, but the channel proved Bob.
  const alice2 = end(ScriptedPeer.identity(), "127.0.0.3", true);
  const carol = end(ScriptedPeer.identity(), "127.0.0.2", false);
  alice2.hs.start();
  alice2.hs.open({ ...sessionFrom(carol), remoteNodeId: bob.local.key.publicKey });
  assert.equal(alice2.failed()?.reason, DisconnectReason.BAD_SIGNATURE);
  assert.equal(alice2.completed(), undefined);
});

test("a Hello that does not decode, breaks a field rule, is too big, or names our network on a channel whose fingerprints differed is a protocol error", () => {
  const bob = end(ScriptedPeer.identity(), "127.0.0.2", false);
  const binding = randomBytes(32);
  const signed = (change: Partial<Hello>) => toBinary(HelloSchema, { ...buildHello(bob.local, "127.0.0.3", 1n, binding), ...change });
  const cases: Array<[SecureSession, RegExp]> = [
    [sessionFrom(bob, { hello: Uint8Array.of(0xff, 0xff, 0xff) }), /does not decode/],
    [sessionFrom(bob, { binding, hello: signed({ bestHash: new Uint8Array(40) }) }), /best_hash/],
    [sessionFrom(bob, { binding, hello: signed({ softwareVersion: "x".repeat(MAX_HELLO_BYTES) }) }), /bytes \(at most 2048\)/],
    [sessionFrom(bob, { otherNetwork: true }), /fingerprint/],
  ];
  for (const [session, detail] of cases) {
    const alice = end(ScriptedPeer.identity(), "127.0.0.3", true);
    alice.hs.start();
    alice.hs.open(session);
    assert.equal(alice.failed()?.reason, DisconnectReason.PROTOCOL_ERROR, String(detail));
    assert.match(alice.failed()!.detail, detail);
    assert.equal(alice.completed(), undefined);
  }
});
