import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { TxSchema } from "@timenet/proto";
import { encodeVarint, lengthDelimitedBytes, varintLength, writeVarint } from "../src/varint.js";

test("varint lengths at every 7-bit boundary, and a length-delimited field's bytes as protobuf-es writes them", () => {
  assert.deepEqual([0, 127, 128, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 32 - 1].map(varintLength), [1, 1, 2, 2, 3, 3, 4, 5]);
  // Tx { bytes data = 1 }: one field of n bytes behind a 1-byte tag.
  for (const n of [1, 127, 128, 300, 20_000]) assert.equal(toBinary(TxSchema, create(TxSchema, { data: new Uint8Array(n) })).length, lengthDelimitedBytes(n));
  assert.equal(lengthDelimitedBytes(5, 2), 8, "a field numbered 16 or more has a 2-byte tag");
});

// Numbers at every boundary up to uint32's 5 bytes; bigints (uint64: timestamps) up to 10 bytes.
const NUMBERS = [0, 1, 127, 128, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1];
const BIGINTS = [0n, 127n, 128n, 1_700_000_000_000n, 2n ** 35n - 1n, 2n ** 35n, 2n ** 63n - 1n, 2n ** 64n - 1n];

test("varintLength, writeVarint and encodeVarint agree with protobuf-es for numbers and uint64 bigints", () => {
  for (const n of NUMBERS) {
    const expected = new BinaryWriter().uint32(n).finish();
    assert.equal(varintLength(n), expected.length, `length of ${n}`);
    const out = new Uint8Array(expected.length);
    assert.equal(writeVarint(out, 0, n), expected.length, `end of ${n}`);
    assert.deepEqual(out, expected, `bytes of ${n}`);
    assert.deepEqual(encodeVarint(n), expected, `encodeVarint(${n})`);
  }
  for (const n of BIGINTS) assert.equal(varintLength(n), new BinaryWriter().uint64(n).finish().length, `length of ${n}n`);
});
