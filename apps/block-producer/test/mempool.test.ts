// The mempool: one copy per tx hash, bounded, oldest first, and emptied of what the chain already holds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Mempool, txKey } from "../src/mempool.js";

/** A distinct tx per n (< 256) and size. */
const tx = (n: number, size = 10) => Uint8Array.from({ length: size }, (_, i) => (i === 0 ? n : 7));
const limits = { maxTxs: 5, maxBytes: 1_000, maxTxBytes: 200 };

test("a tx is held once: a second copy is a duplicate, one already in a block is included", () => {
  const m = new Mempool(limits);
  assert.equal(m.add(tx(1)), "added");
  assert.equal(m.add(tx(1)), "duplicate");
  assert.equal(m.add(new Uint8Array(tx(1))), "duplicate", "same bytes, another array");
  assert.equal(m.add(tx(2)), "added");
  assert.equal(m.size, 2);
  assert.equal(m.bytes, 20);
  assert.equal(m.markIncluded([tx(1)]), 1);
  assert.equal(m.add(tx(1)), "included", "a late copy of an included tx is not taken again");
  // A tx included by another producer that we never held is remembered as well.
  assert.equal(m.markIncluded([tx(9)]), 0);
  assert.equal(m.add(tx(9)), "included");
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
  assert.equal(m.add(tx(4)), "included");
});

test("reinstate: txs of a block that left the chain wait again, ahead of newer ones, in their old order", () => {
  const m = new Mempool({ maxTxs: 100, maxBytes: 10_000, maxTxBytes: 1_000 });
  for (const n of [1, 2, 3, 4]) m.add(tx(n));
  m.markIncluded([tx(1), tx(2), tx(3), tx(20)]); // a block: three of ours and one from elsewhere
  m.add(tx(5));
  assert.deepEqual(m.select(10, 10_000), [tx(4), tx(5)]);
  assert.equal(m.add(tx(2)), "included");

  // The block left the main chain; tx 2 is in the new branch, so only 1, 3 and 20 come back.
  assert.deepEqual(m.reinstate([tx(1), tx(3), tx(20)]), { reinstated: 3, didNotFit: 0 });
  assert.deepEqual(m.select(10, 10_000), [tx(1), tx(3), tx(20), tx(4), tx(5)], "the old ones first, in block order");
  assert.equal(m.size, 5);
  assert.equal(m.bytes, 50);
  assert.equal(m.add(tx(3)), "duplicate", "a resent copy is waiting, not refused as included");
  assert.equal(m.add(tx(2)), "included", "a tx in the new branch stays included");

  // Reinstating what is already waiting changes nothing; once mined again they are included again.
  assert.deepEqual(m.reinstate([tx(5)]), { reinstated: 1, didNotFit: 0 });
  assert.deepEqual(m.select(10, 10_000), [tx(1), tx(3), tx(20), tx(4), tx(5)]);
  assert.equal(m.markIncluded([tx(1), tx(3), tx(20)]), 3);
  assert.equal(m.add(tx(20)), "included");
});

test("reinstate within the bounds: the waiting txs keep their place, what does not fit is counted and forgotten", () => {
  const m = new Mempool({ maxTxs: 4, maxBytes: 10_000, maxTxBytes: 1_000 });
  m.markIncluded([tx(1), tx(2), tx(3)]);
  m.add(tx(7));
  m.add(tx(8));
  assert.deepEqual(m.reinstate([tx(1), tx(2), tx(3)]), { reinstated: 2, didNotFit: 1 });
  assert.deepEqual(m.select(10, 10_000), [tx(1), tx(2), tx(7), tx(8)]);
  assert.equal(m.add(tx(3)), "full", "no longer included: refused only for room");

  const bytes = new Mempool({ maxTxs: 100, maxBytes: 100, maxTxBytes: 100 });
  bytes.add(tx(9, 60));
  assert.deepEqual(bytes.reinstate([tx(1, 50), tx(2, 30), tx(3, 10)]), { reinstated: 2, didNotFit: 1 });
  assert.deepEqual(bytes.select(10, 10_000), [tx(2, 30), tx(3, 10), tx(9, 60)], "a smaller one still fits");
  assert.equal(bytes.bytes, 100);
});

test("forget: a tx whose block left the chain and cannot be read back is taken again when resent", () => {
  const m = new Mempool(limits);
  m.markIncluded([tx(1), tx(2)]);
  m.forget([txKey(tx(1))]);
  assert.equal(m.add(tx(1)), "added");
  assert.equal(m.add(tx(2)), "included");
});
