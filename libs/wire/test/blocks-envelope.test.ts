import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { BlockSchema, BlocksSchema, EnvelopeSchema, type Block } from "@timenet/proto";
import { blocksEntryBytes, blocksEnvelopeLength, encodeBlocksEnvelope, writeBlocksEnvelope } from "../src/blocks-envelope.js";

// Bodies of 0, 1, 127, 128 and 20,000 bytes: every varint length from 1 to 3 bytes.
const block = (n: number): Block => create(BlockSchema, { header: { height: n + 1, timestampMs: 10n ** 12n }, txs: n === 0 ? [] : [new Uint8Array(n).fill(9)] });
const SIZES = [0, 1, 127, 128, 20_000];

test("a Blocks answer spliced around blocks' bytes is byte for byte what protobuf-es encodes", () => {
  const blocks = SIZES.map(block);
  const bytes = blocks.map((b) => toBinary(BlockSchema, b));
  for (const requestId of [0, 1, 300, 2 ** 32 - 1]) {
    for (const busy of [false, true]) {
      for (const some of [[], blocks.slice(0, 1), blocks]) {
        const expected = toBinary(EnvelopeSchema, create(EnvelopeSchema, { requestId, payload: { case: "blocks", value: { blocks: some, busy } } }));
        const got = encodeBlocksEnvelope(requestId, bytes.slice(0, some.length), busy);
        assert.deepEqual(Buffer.from(got), Buffer.from(expected), `request ${requestId}, busy ${busy}, ${some.length} blocks`);
        assert.equal(blocksEnvelopeLength(requestId, bytes.slice(0, some.length), busy), expected.length);
      }
    }
  }
  // Written inside a bigger message: nothing before `pos` or after the answer is touched.
  const out = new Uint8Array(3 + blocksEnvelopeLength(7, bytes) + 2).fill(0xee);
  const end = writeBlocksEnvelope(out, 3, 7, bytes);
  assert.equal(end, out.length - 2);
  assert.deepEqual([...out.subarray(0, 3), ...out.subarray(end)], [0xee, 0xee, 0xee, 0xee, 0xee]);
  // What one block adds is what it adds to an encoded Blocks.
  for (const b of blocks) assert.equal(blocksEntryBytes(toBinary(BlockSchema, b).length), toBinary(BlocksSchema, create(BlocksSchema, { blocks: [b] })).length);
});
