// The mempool: one copy per tx hash, bounded, oldest first, and emptied of what the chain already holds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Mempool } from "../src/mempool.js";

/** A distinct tx per n (< 256) and size. */
const tx = (n: number, size = 10) => Uint8Array.from({ length: size }, (_, i) => (i === 0 ? n : 7));
const limits = { maxTxs: 5, maxBytes: 1_000, maxTxBytes: 200 };

test("a tx is held once: a second copy, or one already in a block, is a duplicate", () => {
  const m = new Mempool(limits);
  assert.equal(m.add(tx(1)), "added");
  assert.equal(m.add(tx(1)), "duplicate");
  assert.equal(m.add(new Uint8Array(tx(1))), "duplicate", "same bytes, another array");
  assert.equal(m.add(tx(2)), "added");
  assert.equal(m.size, 2);
  assert.equal(m.bytes, 20);
  assert.equal(m.markIncluded([tx(1)]), 1);
  assert.equal(m.add(tx(1)), "duplicate", "a late copy of an included tx is not taken again");
  // A tx included by another producer that we never held is remembered as well.
  assert.equal(m.markIncluded([tx(9)]), 0);
  assert.equal(m.add(tx(9)), "duplicate");
});

test("bounded by count and by bytes: when full, new txs are dropped and the waiting ones keep their place", () => {
  const m = new Mempool(limits);
  for (let i = 0; i < 5; i++) assert.equal(m.add(tx(i)), "added");
  assert.equal(m.add(tx(5)), "full");
  assert.equal(m.size, 5);
  m.markIncluded([tx(0)]);
  assert.equal(m.add(tx(5)), "added", "room again once a tx left");

  const small = new Mempool({ maxTxs: 100, maxBytes: 450, maxTxBytes: 200 });
  assert.equal(small.add(tx(1, 200)), "added");
  assert.equal(small.add(tx(2, 200)), "added");
  assert.equal(small.add(tx(3, 200)), "full", "would exceed the bytes");
  assert.equal(small.add(tx(4, 50)), "added", "a smaller one still fits");
  assert.equal(small.bytes, 450);
  assert.equal(small.add(tx(5, 201)), "too_large", "could never fit a block");
});

test("select: oldest first, within the block's tx count and byte budget, passing over what does not fit", () => {
  const m = new Mempool({ maxTxs: 100, maxBytes: 10_000, maxTxBytes: 1_000 });
  m.add(tx(1, 100));
  m.add(tx(2, 500));
  m.add(tx(3, 100));
  m.add(tx(4, 100));
  assert.deepEqual(m.select(10, 10_000), [tx(1, 100), tx(2, 500), tx(3, 100), tx(4, 100)]);
  assert.deepEqual(m.select(2, 10_000), [tx(1, 100), tx(2, 500)]);
  assert.deepEqual(m.select(10, 350), [tx(1, 100), tx(3, 100), tx(4, 100)], "the 500-byte tx waits for a block with room");
  assert.deepEqual(m.select(10, 350, (t) => t.length + 50), [tx(1, 100), tx(3, 100)], "costed per tx");
  assert.equal(m.size, 4, "selecting takes nothing out");
});

test("eviction: the txs of a block leave the mempool, others stay in order", () => {
  const m = new Mempool({ maxTxs: 100, maxBytes: 10_000, maxTxBytes: 1_000 });
  for (let i = 1; i <= 6; i++) m.add(tx(i));
  assert.equal(m.markIncluded([tx(2), tx(4), tx(5), tx(77)]), 3);
  assert.equal(m.size, 3);
  assert.equal(m.bytes, 30);
  assert.deepEqual(m.select(10, 10_000), [tx(1), tx(3), tx(6)]);
  assert.equal(m.markIncluded([tx(2)]), 0, "a second eviction of the same block changes nothing");
});

test("included hashes are remembered up to a bound, oldest forgotten first", () => {
  const m = new Mempool({ ...limits, rememberIncluded: 3 });
  m.markIncluded([tx(1), tx(2), tx(3), tx(4)]);
  assert.equal(m.add(tx(1)), "added", "forgotten: taken again");
  assert.equal(m.add(tx(4)), "duplicate");
});
