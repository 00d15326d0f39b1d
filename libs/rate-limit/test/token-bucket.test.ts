import { test } from "node:test";
import assert from "node:assert/strict";
import { formatRate, parseRate, TokenBucket } from "../src/index.js";

test("a bucket allows its burst at once, then the sustained rate", () => {
  const b = new TokenBucket({ count: 10, periodMs: 1_000, burst: 5 }, 0);
  for (let i = 0; i < 5; i++) assert.equal(b.take(1, 0), true);
  assert.equal(b.take(1, 0), false);
  assert.equal(b.take(1, 99), false); // 0.99 tokens
  assert.equal(b.take(1, 100), true); // 10/s = one per 100 ms
  assert.equal(b.take(1, 10_000), true);
  assert.equal(b.available(10_000), 4); // capped at the burst
});

test("spending goes into debt for what already happened: the wait repays it, so the sustained rate is exact", () => {
  const b = new TokenBucket({ count: 10, periodMs: 1_000, burst: 5 }, 0);
  assert.equal(b.spend(5, 0), 0, "the burst");
  assert.equal(b.spend(2, 0), 200, "two tokens in debt: 200 ms at 10/s");
  assert.equal(b.take(1, 100), false, "still in debt");
  assert.equal(b.spend(1, 200), 100, "repaid at 200 ms, and one more owed");
  assert.equal(b.available(300), 0);
  assert.equal(b.take(1, 400), true);
});

test("rates parse from count/period:burst and print back", () => {
  assert.deepEqual(parseRate("20/s:200"), { count: 20, periodMs: 1_000, burst: 200 });
  assert.deepEqual(parseRate("1/10s:5"), { count: 1, periodMs: 10_000, burst: 5 });
  assert.deepEqual(parseRate("100/m"), { count: 100, periodMs: 60_000, burst: 100 });
  assert.equal(formatRate(parseRate("1/10s:5")), "1/10s:5");
  assert.equal(formatRate(parseRate("20/s:200")), "20/s:200");
  assert.throws(() => parseRate("fast"), /not a rate/);
  assert.throws(() => parseRate("0/s"), /positive/);
});
