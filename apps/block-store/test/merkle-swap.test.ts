// A block's body swapped under its signed header for the one 64-byte tx that
// the old merkle scheme could not tell from its two txs: the real store refuses it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { clone } from "@bufbuild/protobuf";
import { BlockInvalidReason, BlockSchema, PutResult } from "@timenet/proto";
import { DEVNET, blockHash, devnetProducerKey, hashHex, signBlock, txHash } from "@timenet/chain";
import { startTestStore, type TestStore } from "./harness.js";
import { GENESIS } from "./chain-builder.js";

let s: TestStore | undefined;
after(() => s?.stop());

test("a block whose txs [a, b] are swapped for the 64-byte tx H(a)||H(b) under the same header is INVALID, BAD_MERKLE_ROOT", async () => {
  s = await startTestStore();
  const a = new TextEncoder().encode("pay alice 5");
  const b = new TextEncoder().encode("pay bob 7");
  const block = signBlock(
    { height: 1, prevHash: GENESIS.hash, timestampMs: GENESIS.timestampMs + BigInt(DEVNET.blockIntervalMs), txs: [a, b] },
    devnetProducerKey(1),
  );
  const swapped = clone(BlockSchema, block);
  swapped.txs = [new Uint8Array([...txHash(a), ...txHash(b)])];
  assert.equal(hashHex(blockHash(swapped.header!)), hashHex(blockHash(block.header!)), "same header, same block hash");

  const res = await s.client.putBlocks({ blocks: [swapped] });
  assert.equal(res.result, PutResult.INVALID, res.detail);
  assert.equal(res.invalidReason, BlockInvalidReason.BAD_MERKLE_ROOT, res.detail);
  assert.equal(res.tip!.height, 0, "nothing written");
  assert.equal(await s.metric("timenet_store_validation_failures_total", { reason: "bad_merkle_root" }), 1);

  // The honest body under that header is what the store keeps.
  const honest = await s.client.putBlocks({ blocks: [block] });
  assert.equal(honest.result, PutResult.APPLIED, honest.detail);
  const stored = await s.client.getBlock({ by: { case: "height", value: 1 } });
  assert.equal(stored.block!.txs.length, 2);
});
