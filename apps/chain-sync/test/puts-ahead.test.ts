// A replica puts a fetched batch only when at most SYNC_PUTS_AHEAD batches lie between it and the one the
// store is writing: those are in the store before it needs them, and any further ahead wait, fetched, in
// the buffer, costing the store nothing. Seen here while the first batch's answer is held back by its peer.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OffenceSchema, Subjects } from "@timenet/proto";
import { blockHash, DEVNET } from "@timenet/chain";
import { waitFor } from "@timenet/testkit";
import { answerInPlaceOfStore, buildChain, nodePool, syncMetric, waitHeight, type SyncNode } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

const BATCH = 32;
const BATCHES = 8;
const N = BATCH * BATCHES;
const CHAIN = buildChain(DEVNET.genesis.header!, N);

/**
 * A node claiming the chain's tip whose store is replaced by a responder: it answers every GetBlocks from
 * CHAIN at once, but holds the answers that start at height 1 until `release()`.
 */
async function slowFirstBatch(k: number): Promise<{ node: SyncNode; release: () => void }> {
  const src = await node(k);
  let released = false;
  const held: Array<() => void> = [];
  await answerInPlaceOfStore(
    src,
    (q) => {
      const answer = () => q.answer(CHAIN.slice(q.fromHeight - 1, q.fromHeight - 1 + q.count));
      if (q.fromHeight === 1 && !released) held.push(answer);
      else answer();
    },
    CHAIN[N - 1]!.header!,
  );
  return {
    node: src,
    release: () => {
      released = true;
      held.splice(0).forEach((answer) => answer());
    },
  };
}

describe("puts ahead of the tip", () => {
  for (const putsAhead of [0, 2]) {
    test(`with SYNC_PUTS_AHEAD=${putsAhead}, ${putsAhead} batches beyond the one being written reach the store; the rest wait fetched in the buffer, and the chain completes once the first arrives`, async () => {
      const { node: src, release } = await slowFirstBatch(210 + putsAhead);
      const c = await node(220 + putsAhead);
      // Slow, not lying: holding an answer back within the request timeout is no offence.
      const offences: string[] = [];
      c.bus.subscribe(Subjects.offence, OffenceSchema, (o) => void offences.push(`${o.ip} ${o.kind}`));
      await c.dial(src);
      // The whole chain in the window at once, and time enough for the held answer.
      const s = await c.startSync({ batchSize: BATCH, putsAhead, windowMinBatches: BATCHES, windowMaxBatches: BATCHES, requestTimeoutMs: 30_000, maxWaitMs: 30_000 });
      // Every batch but the first fetched and waiting: the ones put came back "parent unknown" after the
      // store's STORE_PARENT_WAIT and wait too. Nothing else can be put until the tip moves.
      await waitFor(async () => (await syncMetric(s, "timenet_sync_buffered_blocks")) === N - BATCH, { timeoutMs: 30_000, message: "batches 2.. fetched and parked" });
      assert.equal(await syncMetric(s, "timenet_sync_puts_total"), putsAhead, "puts before the first batch arrived");
      assert.equal(await syncMetric(s, "timenet_sync_puts_total", "parent_unknown"), putsAhead);
      assert.equal(await c.height(), 0);
      release();
      await waitHeight(c, N, 30_000);
      assert.equal(await c.tipHash(), Buffer.from(blockHash(CHAIN[N - 1]!.header!)).toString("hex"));
      assert.equal(await syncMetric(s, "timenet_sync_buffered_blocks"), 0, "the buffer emptied");
      await c.bus.flush();
      assert.deepEqual(offences, [], "the slow peer is not reported");
    });
  }
});
