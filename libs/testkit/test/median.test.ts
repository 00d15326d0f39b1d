import { test } from "node:test";
import assert from "node:assert/strict";
import { median } from "../src/index.js";

test("median: the middle of an odd count, the mean of the two middles of an even one, NaN of none; the input is not reordered", () => {
  const xs = [5, 1, 3];
  assert.equal(median(xs), 3);
  assert.deepEqual(xs, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});
