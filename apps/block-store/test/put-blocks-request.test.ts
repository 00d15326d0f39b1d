// PutBlocks keeps each block's bytes as they came: checked by the workers and
// written by the commit without the writer encoding them again.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { Client, credentials } from "@grpc/grpc-js";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BlockSchema, PutBlocksRequestSchema, PutBlocksResponseSchema, PutResult, type PutBlocksResponse } from "@timenet/proto";
import { encodeVarint } from "@timenet/wire";
import { blockBytesAsSent, decodePutBlocksRequest } from "../src/put-blocks-request.js";
import { buildChain, GENESIS } from "./chain-builder.js";
import { startTestStore } from "./harness.js";

const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops) await s();
});

/** A Block's fields in the other order (txs, then header): the same block, bytes protobuf-es would not write. */
function txsFirst(bytes: Uint8Array): Uint8Array {
  const block = fromBinary(BlockSchema, bytes);
  const header = toBinary(BlockSchema, create(BlockSchema, { header: block.header }));
  const txs = toBinary(BlockSchema, create(BlockSchema, { txs: block.txs }));
  return Buffer.concat([txs, header]);
}

/** A PutBlocksRequest of these block bytes as they are (field 1, length-delimited). */
function request(blocks: readonly Uint8Array[]): Buffer {
  return Buffer.concat(blocks.flatMap((b) => [Uint8Array.of(0x0a), encodeVarint(b.length), b]));
}


test("decodePutBlocksRequest decodes what fromBinary decodes and keeps each block's bytes, from its own copy of the request", () => {
  const blocks = buildChain(GENESIS, 3, { padBytes: 100 });
  const bytes = Buffer.from(toBinary(PutBlocksRequestSchema, create(PutBlocksRequestSchema, { blocks })));
  const req = decodePutBlocksRequest(bytes);
  assert.ok(equals(PutBlocksRequestSchema, req, fromBinary(PutBlocksRequestSchema, bytes)));
  const kept = blockBytesAsSent(req)!;
  assert.deepEqual(kept.map((b) => Buffer.from(b).toString("hex")), blocks.map((b) => Buffer.from(toBinary(BlockSchema, b)).toString("hex")));
  bytes.fill(0);
  assert.ok(equals(BlockSchema, fromBinary(BlockSchema, kept[2]!), blocks[2]!), "a copy: the request buffer may be reused");
  assert.equal(blockBytesAsSent(create(PutBlocksRequestSchema, { blocks })), undefined, "a request built here has no bytes as sent");
});

test("over gRPC, the store checks and writes the bytes as sent: a block whose fields came in another order is stored in that order", async () => {
  const s = await startTestStore();
  stops.push(() => s.stop());
  const chain = buildChain(GENESIS, 20, { padBytes: 200 });
  const sent = chain.map((b) => txsFirst(toBinary(BlockSchema, b)));
  const raw = new Client(`127.0.0.1:${s.handle.grpcPort}`, credentials.createInsecure());
  stops.push(async () => raw.close());
  const res = await new Promise<PutBlocksResponse>((resolve, reject) =>
    raw.makeUnaryRequest(
      "/timenet.chain.v1.BlockStoreService/PutBlocks",
      (b: Buffer) => b,
      (b: Buffer) => fromBinary(PutBlocksResponseSchema, b),
      request(sent),
      (err, value) => (err ? reject(err) : resolve(value!)),
    ),
  );
  assert.equal(res.result, PutResult.APPLIED, res.detail);
  assert.equal(res.applied, 20);
  for (let h = 1; h <= 20; h++) {
    assert.deepEqual(Buffer.from(s.handle.store.encodedAt(h)!), Buffer.from(sent[h - 1]!), `block ${h} as sent`);
    assert.ok(equals(BlockSchema, s.handle.store.blockAt(h)!, chain[h - 1]!), `block ${h} decodes to the block`);
  }
});
