import { test } from "node:test";
import assert from "node:assert/strict";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { varintLength } from "../src/varint-length.js";
import { writeVarint } from "../src/embedded-field.js";

// Every boundary of 1 to 10 bytes, as protobuf-es writes them (uint32 for numbers, uint64 for bigints).
const NUMBERS = [0, 1, 127, 128, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1];
const BIGINTS = [0n, 127n, 128n, 1_700_000_000_000n, 2n ** 35n - 1n, 2n ** 35n, 2n ** 63n - 1n, 2n ** 64n - 1n];

test("varintLength and writeVarint agree with protobuf-es for numbers and uint64 bigints", () => {
  for (const n of NUMBERS) {
    const expected = new BinaryWriter().uint32(n).finish();
    assert.equal(varintLength(n), expected.length, `length of ${n}`);
    const out = new Uint8Array(expected.length);
    assert.equal(writeVarint(out, 0, n), expected.length, `end of ${n}`);
    assert.deepEqual(out, expected, `bytes of ${n}`);
  }
  for (const n of BIGINTS) assert.equal(varintLength(n), new BinaryWriter().uint64(n).finish().length, `length of ${n}n`);
});
