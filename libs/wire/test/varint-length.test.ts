import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { TxSchema } from "@timenet/proto";
import { lengthDelimitedBytes, varintLength } from "../src/varint-length.js";

test("varint lengths at every 7-bit boundary, and a length-delimited field's bytes as protobuf-es writes them", () => {
  assert.deepEqual([0, 127, 128, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 32 - 1].map(varintLength), [1, 1, 2, 2, 3, 3, 4, 5]);
  // Tx { bytes data = 1 }: one field of n bytes behind a 1-byte tag.
  for (const n of [1, 127, 128, 300, 20_000]) assert.equal(toBinary(TxSchema, create(TxSchema, { data: new Uint8Array(n) })).length, lengthDelimitedBytes(n));
  assert.equal(lengthDelimitedBytes(5, 2), 8, "a field numbered 16 or more has a 2-byte tag");
});
