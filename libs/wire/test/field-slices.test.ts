import { test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BlockSchema, PutBlocksRequestSchema } from "@timenet/proto";
import { fieldSlices } from "../src/field-slices.js";
import { FrameError } from "../src/frame-error.js";

test("field slices are each repeated entry's bytes as sent, in order; other fields are skipped; a cut message is BAD_FRAME", () => {
  const blocks = [0, 1, 300].map((n) =>
    create(BlockSchema, { header: { height: n + 1, timestampMs: 10n ** 12n }, txs: [new Uint8Array(n).fill(7)] }),
  );
  const bytes = toBinary(PutBlocksRequestSchema, create(PutBlocksRequestSchema, { blocks }));
  const slices = fieldSlices(bytes, 1);
  assert.equal(slices.length, 3);
  for (const [i, s] of slices.entries()) {
    assert.deepEqual(s, toBinary(BlockSchema, blocks[i]!));
    assert.equal(s.buffer, bytes.buffer, "a view, not a copy");
  }
  assert.deepEqual(
    fieldSlices(bytes, 2).map((s) => s.length),
    [],
    "a field that is not there has no slices",
  );
  // Other fields (here a varint 2 and a fixed64 3) in between are skipped.
  const mixed = Uint8Array.of(0x10, 0x96, 0x01, 0x0a, 0x02, 0xaa, 0xbb, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x00);
  assert.deepEqual(fieldSlices(mixed, 1), [Uint8Array.of(0xaa, 0xbb), new Uint8Array(0)]);
  assert.equal(fromBinary(PutBlocksRequestSchema, bytes).blocks.length, slices.length);
  assert.throws(() => fieldSlices(bytes.subarray(0, bytes.length - 1), 1), (e: unknown) => e instanceof FrameError && e.code === "BAD_FRAME");
});
