// Two producers (devnet indexes 0 and 1; producer 2 never runs) on a real
// nats-server and the real block-store process, at a 200 ms interval.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { DEVNET, expectedProducer, hashHex, txHash } from "@timenet/chain";
import { BlockProducerService, type Block } from "@timenet/proto";
import { createGrpcClient } from "@timenet/grpc";
import { waitFor } from "@timenet/testkit";
import { rankDistance } from "../src/turn.js";
import { metricValue, producerIndex, startChain, type TestChain } from "./harness.js";

const I = 200;
const expectedIndex = (h: number) => DEVNET.producers.findIndex((p) => hashHex(p) === hashHex(expectedProducer(h, DEVNET)));

/**
 * Who must have made height h when only `running` produce: the running one
 * that waits least, where a producer waits its rank distance, or (it signed
 * the parent, `previous`) after all n producers.
 */
function rightfulProducer(h: number, running: number[], previous: number): { index: number; waits: number } {
  const e = expectedIndex(h);
  const n = DEVNET.producers.length;
  const [best] = running
    .map((index) => ({ index, waits: index === previous ? n : rankDistance(index, e, n) }))
    .sort((a, b) => a.waits - b.waits);
  return best!;
}

/** Every block from `fromHeight` was made by its rightful producer, no earlier than its turn allowed. */
function assertTurns(blocks: Block[], fromHeight: number, running: number[]): void {
  for (const b of blocks) {
    const h = b.header!.height;
    if (h < fromHeight) continue;
    const previous = h < 2 ? -1 : producerIndex(blocks[h - 2]!);
    const want = rightfulProducer(h, running, previous);
    assert.equal(producerIndex(b), want.index, `height ${h}: expected producer ${expectedIndex(h)}, running ${running.join(",")}, parent by ${previous}`);
    if (h < 2) continue; // height 1's parent is the genesis, long ago
    const gap = Number(b.header!.timestampMs - blocks[h - 2]!.header!.timestampMs);
    assert.ok(gap >= I * (1 + want.waits), `height ${h}: ${gap} ms after its parent, waits ${want.waits} intervals`);
  }
}

async function tipHeight(chain: TestChain): Promise<number> {
  return (await chain.storeClient.getTip({})).tip!.height;
}

describe("block production", () => {
  let chain: TestChain;
  before(async () => {
    chain = await startChain(I);
    // Started together, so height 1 (producer 1's) is not taken by producer 0 standing in for a slow start.
    await Promise.all([chain.startProducer(0), chain.startProducer(1)]);
  });
  after(async () => {
    await chain?.stop();
  });

  test("the chain grows in turn: each height by its rightful producer (a producer that made the parent rests), no conflicts", async () => {
    await waitFor(async () => (await tipHeight(chain)) >= 10, { timeoutMs: 20_000, intervalMs: 50, message: "height 10" });
    const blocks = await chain.blocks();
    assert.ok(blocks.length >= 10);
    assertTurns(blocks, 1, [0, 1]);
    const byProducer = [0, 1, 2].map((i) => blocks.filter((b) => producerIndex(b) === i).length);
    assert.equal(byProducer[2], 0);
    // Two of three alive, each resting after its own block: they take turns, so every block weighs 1.
    for (let i = 1; i < blocks.length; i++) assert.notEqual(producerIndex(blocks[i]!), producerIndex(blocks[i - 1]!), `heights ${i} and ${i + 1} by one key`);
    for (const [i, p] of chain.producers) {
      assert.equal(await metricValue(p, "timenet_producer_put_failures_total"), 0, `producer ${i}: no PutBlocks conflicts`);
      // tip_moved (woken for a fallback turn just as the expected producer's late block landed) is the benign
      // side of a race a loaded machine can cause; anything else means a turn was lost.
      for (const reason of ["store_unreachable", "wrong_genesis", "build_failed"]) {
        assert.equal(await metricValue(p, "timenet_producer_turns_skipped_total", { reason }), 0, `producer ${i}: no turn lost (${reason})`);
      }
      assert.ok((await metricValue(p, "timenet_producer_blocks_produced_total")) > 0);
    }

    // The operator's view over gRPC.
    const p1 = chain.producers.get(1)!;
    const client = createGrpcClient(BlockProducerService, `127.0.0.1:${p1.grpcPort}`);
    try {
      const s = await client.status({});
      assert.equal(s.producerId, hashHex(DEVNET.producers[1]!));
      assert.equal(s.producerIndex, 1);
      assert.equal(s.producers, 3);
      assert.ok(s.blocksProduced > 0n);
      // Its last block may be its own height or one it stood in for: either way, its key signed it.
      const last = (await chain.storeClient.getBlock({ by: { case: "height", value: s.lastHeight } })).block!;
      assert.equal(producerIndex(last), 1);
      assert.ok(s.lastProducedMs > 0n);
      assert.ok(s.nextTurnHeight > s.tipHeight && s.nextTurnHeight <= s.tipHeight + 3);
      assert.equal(expectedIndex(s.nextTurnHeight), 1);
    } finally {
      client.close();
    }
  });

  test("txs published on p2p.in.tx end up in blocks exactly once, and leave both mempools", async () => {
    const sent: Uint8Array[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 20; i++) {
        const tx = randomBytes(16 + i * 8);
        sent.push(tx);
        chain.publishTx(tx);
        if (i % 3 === 0) chain.publishTx(tx); // a peer relaying it twice
      }
      await new Promise((r) => setTimeout(r, I / 2));
    }
    const want = new Set(sent.map((t) => hashHex(txHash(t))));
    const included = async () => (await chain.blocks()).flatMap((b) => b.txs.map((t) => hashHex(txHash(t))));
    await waitFor(
      async () => {
        const got = new Set(await included());
        return [...want].every((h) => got.has(h));
      },
      {
        timeoutMs: 15_000,
        intervalMs: 100,
        message: "every tx in a block",
      },
    );
    const all = await included();
    assert.equal(all.length, want.size, "each tx in exactly one block, nothing else");
    assert.deepEqual(new Set(all), want);
    await waitFor(() => [...chain.producers.values()].every((p) => p.mempool.size === 0), { timeoutMs: 5_000, message: "both mempools empty" });

    // A late copy of an included tx is dropped, not a second inclusion.
    const p0 = chain.producers.get(0)!;
    const before = await metricValue(p0, "timenet_producer_txs_dropped_total", { reason: "included" });
    chain.publishTx(sent[0]!);
    await waitFor(async () => (await metricValue(p0, "timenet_producer_txs_dropped_total", { reason: "included" })) > before, { message: "late copy dropped" });
    const h = await tipHeight(chain);
    await waitFor(async () => (await tipHeight(chain)) >= h + 3, { timeoutMs: 5_000, message: "3 more blocks" });
    assert.equal((await included()).length, want.size);
    for (const p of chain.producers.values()) assert.equal(await metricValue(p, "timenet_producer_put_failures_total"), 0);
  });

  test("with producer 1 stopped, producer 0 keeps the chain growing alone, resting after each of its blocks", async () => {
    await chain.stopProducer(1);
    const stoppedAt = await tipHeight(chain);
    await waitFor(async () => (await tipHeight(chain)) >= stoppedAt + 7, { timeoutMs: 30_000, intervalMs: 50, message: `height ${stoppedAt + 7}` });
    const blocks = await chain.blocks();
    // The block after stoppedAt may already have been on its way from producer 1.
    assertTurns(blocks, stoppedAt + 2, [0]);
    const later = blocks.filter((b) => b.header!.height >= stoppedAt + 2);
    assert.ok(later.some((b) => expectedIndex(b.header!.height) === 1), "producer 1's heights were made");
    assert.ok(later.some((b) => expectedIndex(b.header!.height) === 2), "producer 2's heights were made");
    const p0 = chain.producers.get(0)!;
    assert.equal(await metricValue(p0, "timenet_producer_put_failures_total"), 0);
  });
});
