// The turn rule: whose height it is, and when the others may stand in.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEVNET, devnetProducerKey, expectedProducer, hashHex } from "@timenet/chain";
import { rankDistance, turnBaseMs, turnFor } from "../src/turn.js";

const I = 5_000;
const T = 1_800_000_000_000;
/** The earliest moment producer `me` of 3 may make `height`, whose expected producer has index height % 3. */
const notBefore = (me: number, height: number, parentTs = T, seen?: number) =>
  turnFor({ height, parentTimestampMs: parentTs, parentSeenMs: seen, myIndex: me, expectedIndex: height % 3, producers: 3, intervalMs: I }).notBeforeMs;

test("devnet heights are round-robin over its three producers", () => {
  for (let h = 1; h <= 9; h++) assert.equal(hashHex(expectedProducer(h, DEVNET)), hashHex(devnetProducerKey(h % 3).publicKey), `height ${h}`);
});

test("rank distance counts forward from the expected producer, wrapping around", () => {
  assert.deepEqual([0, 1, 2].map((me) => rankDistance(me, 0, 3)), [0, 1, 2]);
  assert.deepEqual([0, 1, 2].map((me) => rankDistance(me, 2, 3)), [1, 2, 0]);
  assert.equal(rankDistance(4, 4, 5), 0);
});

test("normal order: only the expected producer may make a height one interval after its parent", () => {
  // Height 4 is producer 1's (4 % 3); 0 and 2 are its fallbacks, in the order 2, then 0.
  assert.equal(notBefore(1, 4), T + I);
  assert.equal(notBefore(2, 4), T + 2 * I);
  assert.equal(notBefore(0, 4), T + 3 * I);
  const t = turnFor({ height: 4, parentTimestampMs: T, myIndex: 1, expectedIndex: 1, producers: 3, intervalMs: I });
  assert.deepEqual(t, { height: 4, rank: 0, notBeforeMs: T + I });
  // Along a chain whose blocks all come on time, each height has exactly one producer allowed at its moment.
  for (let h = 1; h <= 12; h++) {
    const allowed = [0, 1, 2].filter((me) => notBefore(me, h) <= T + I);
    assert.deepEqual(allowed, [h % 3], `height ${h}`);
  }
});

test("fallback: the parent late by one interval lets the first fallback in; late by two, the second", () => {
  // Height 5's producer (2) is silent: one interval past its turn, producer 0 (rank 1) may make it, producer 1 not yet.
  const lateBy1 = T + 2 * I;
  assert.deepEqual([0, 1, 2].filter((me) => notBefore(me, 5) <= lateBy1), [0, 2]);
  assert.equal(notBefore(0, 5), lateBy1);
  assert.ok(notBefore(1, 5) > lateBy1);
  // Producer 0 is silent too: one more interval and producer 1 (rank 2) may.
  const lateBy2 = T + 3 * I;
  assert.equal(notBefore(1, 5), lateBy2);
  assert.deepEqual([0, 1, 2].filter((me) => notBefore(me, 5) <= lateBy2), [0, 1, 2]);
});

test("a parent learned of late (genesis, our start) counts as made one interval before we saw it", () => {
  const genesisTs = T - 86_400_000;
  const seen = T;
  assert.equal(turnBaseMs(genesisTs, seen, I), T - I);
  // Height 1 (producer 1's): it goes at once; its fallbacks still wait one and two intervals, not all at once.
  assert.equal(notBefore(1, 1, genesisTs, seen), T);
  assert.equal(notBefore(2, 1, genesisTs, seen), T + I);
  assert.equal(notBefore(0, 1, genesisTs, seen), T + 2 * I);
  // A parent seen on time keeps its own timestamp as the base: never earlier than the plain rule.
  assert.equal(turnBaseMs(T, T + 30, I), T);
  assert.equal(notBefore(1, 4, T, T + 30), T + I);
});

test("a producer that signed the parent rests: it goes after every other producer, and still goes", () => {
  // Height 4 is producer 1's; producer 1 also made height 3 (standing in): its block would weigh 0.
  const resting = turnFor({ height: 4, parentTimestampMs: T, myIndex: 1, expectedIndex: 1, producers: 3, intervalMs: I, signedParent: true });
  assert.equal(resting.rank, 0);
  assert.equal(resting.notBeforeMs, T + 4 * I, "after both stand-ins (T+2I, T+3I)");
  // Alone on its network it is never held back.
  assert.equal(turnFor({ height: 4, parentTimestampMs: T, myIndex: 0, expectedIndex: 0, producers: 1, intervalMs: I, signedParent: true }).notBeforeMs, T + I);
});
