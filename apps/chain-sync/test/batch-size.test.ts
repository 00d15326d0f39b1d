// Big blocks make short batches: a batch longer than one answer is fetched
// round after round, each round waiting for the batch before it, so the
// planner sizes batches to one answer once it knows the blocks' size.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { blockHash, DEVNET } from "@timenet/chain";
import { batchBlocks, buildChain, nodePool, putChain, waitHeight } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

// ~20 KB blocks: 12 fill a 256 KiB batch.
const CHAIN = buildChain(DEVNET.genesis.header!, 300, { txBytes: 20_000 });

describe("batch size", () => {
  test("once blocks of ~20 KB were applied, batches hold at most SYNC_BATCH_MAX_BYTES (12 blocks, not 128), and the sync completes", async () => {
    const good = await node(197);
    await putChain(good, CHAIN, 50);
    const c = await node(198);
    await c.dial(good);
    // A window of exactly one batch: the planner stays one batch ahead of the tip, so the batches after the
    // first few are planned after blocks were applied (a wider window, sized from the first measured rate and
    // fetch time, may plan the whole chain in full batches before any put is answered).
    await c.startSync({ batchSize: 128, batchMaxBytes: 256 * 1024, windowMinBatches: 1, windowMaxBatches: 1 });
    await waitHeight(c, 300, 60_000);
    assert.equal(await c.tipHash(), Buffer.from(blockHash(CHAIN[299]!.header!)).toString("hex"));
    const size = await batchBlocks(c);
    const blockBytes = CHAIN[0]!.txs[0]!.length;
    assert.ok(size !== undefined && size >= 10 && size <= Math.floor((256 * 1024) / blockBytes), `batches of ${size} blocks`);
  });
});
