import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Direction } from "@timenet/proto";
import { resolveDuplicate, type Link } from "../src/duplicate-resolution.js";
import { buildHello, HelloTimestamps, type LocalIdentity } from "../src/hello.js";
import { ScriptedPeer } from "./harness.js";

/** A node as resolution sees it: an address, a session, and the session's Hello clock. */
interface Node {
  ip: string;
  session: LocalIdentity;
  timestamps: HelloTimestamps;
}

const nodeAt = (ip: string): Node => ({ ip, session: ScriptedPeer.identity(), timestamps: new HelloTimestamps() });

type End = Link & { socket: string };

/** One socket from `dialer` to `acceptor`, as each end records it after the handshake. */
function dial(name: string, dialer: Node, acceptor: Node, nowMs = Date.now()): { onDialer: End; onAcceptor: End } {
  // Resolution reads the Hellos' fields only; the channel's hash is irrelevant here.
  const handshakeHash = randomBytes(32);
  const dialerHello = buildHello(dialer.session, acceptor.ip, dialer.timestamps.next(nowMs), handshakeHash);
  const acceptorHello = buildHello(acceptor.session, dialer.ip, acceptor.timestamps.next(nowMs), handshakeHash);
  return {
    onDialer: { socket: name, direction: Direction.OUTBOUND, remoteIp: acceptor.ip, ourHello: dialerHello, peerHello: acceptorHello },
    onAcceptor: { socket: name, direction: Direction.INBOUND, remoteIp: dialer.ip, ourHello: acceptorHello, peerHello: dialerHello },
  };
}

/** What each end keeps, in both orders of establishment (each end may see the two sockets complete in either order). */
function kept(x: { onDialer: End; onAcceptor: End }, y: { onDialer: End; onAcceptor: End }, ends: Array<"onDialer" | "onAcceptor"> = ["onDialer", "onAcceptor"]) {
  return ends.flatMap((end) => [resolveDuplicate(x[end], y[end]), resolveDuplicate(y[end], x[end])]).map((r) => [r.keep.socket, r.rule]);
}

test("a node that dials twice: both ends keep the newer socket, even when both dials fall in the same millisecond", () => {
  const a = nodeAt("10.0.0.1");
  const b = nodeAt("10.0.0.2");
  const first = dial("first", a, b);
  const second = dial("second", a, b);
  assert.deepEqual(kept(first, second), Array(4).fill(["second", "newer_dial"]));

  // Same millisecond on the dialler's clock, and a clock that stepped back: still the later dial.
  const c = nodeAt("10.0.0.3");
  const d = nodeAt("10.0.0.4");
  const early = dial("early", d, c, 5_000);
  const sameMs = dial("same-ms", d, c, 5_000);
  const stepBack = dial("step-back", d, c, 4_000);
  assert.deepEqual(kept(early, sameMs), Array(4).fill(["same-ms", "newer_dial"]));
  assert.deepEqual(kept(sameMs, stepBack), Array(4).fill(["step-back", "newer_dial"]));
});

test("Hello timestamps of a session strictly increase and follow the wall clock when it moves on", () => {
  const t = new HelloTimestamps();
  assert.deepEqual([t.next(1_000), t.next(1_000), t.next(999), t.next(5_000), t.next(5_000)], [1_000n, 1_001n, 1_002n, 5_000n, 5_001n]);
});

test("a simultaneous dial: both ends keep the socket dialled by the higher IP", () => {
  const low = nodeAt("10.0.0.1");
  const high = nodeAt("10.0.0.2");
  const byLow = dial("by-low", low, high);
  const byHigh = dial("by-high", high, low);
  // On low's end byLow is outbound and byHigh inbound; on high's end the reverse.
  const ends = [
    [byLow.onDialer, byHigh.onAcceptor],
    [byLow.onAcceptor, byHigh.onDialer],
  ];
  for (const [x, y] of ends) {
    assert.deepEqual([resolveDuplicate(x!, y!), resolveDuplicate(y!, x!)].map((r) => [r.keep.socket, r.rule]), Array(2).fill(["by-high", "dialed_by_higher_ip"]));
  }
});

test("Hellos with equal timestamps (a peer that does not keep them increasing) fall to the nonce hash, and both ends still agree", () => {
  const a = nodeAt("10.0.0.1");
  const b = nodeAt("10.0.0.2");
  for (let i = 0; i < 16; i++) {
    const x = dial("x", a, b);
    a.timestamps = new HelloTimestamps(); // the dialler forgets: the second Hello repeats the first one's timestamp
    const y = dial("y", a, b, Number(x.onDialer.ourHello.timestampMs));
    const decisions = kept(x, y);
    assert.ok(decisions.every(([, rule]) => rule === "tiebreak"));
    assert.equal(new Set(decisions.map(([socket]) => socket)).size, 1, "one socket on both ends");
  }
});

test("a peer that restarted: both ends keep the socket to its newer session", () => {
  const a = nodeAt("10.0.0.1");
  const before = nodeAt("10.0.0.2");
  const after = { ...before, session: { ...before.session, sessionId: randomBytes(16), sessionStartedMs: before.session.sessionStartedMs + 1n } };
  const old = dial("old", before, a);
  const fresh = dial("fresh", after, a);
  // Only a holds both (the restarted process never had the old socket).
  assert.deepEqual(kept(old, fresh, ["onAcceptor"]), Array(2).fill(["fresh", "peer_restarted"]));
});
