// A reorg under the real producer: the real block-store process (real LMDB in
// a temp dir, real gRPC) on a real nats-server. The producer mines txs sent on
// p2p.in.tx; then a competing branch from 3 blocks back, one block longer and
// made at each height by its scheduled producer, is put into the store. The
// txs of the 3 blocks that left the main chain and are not in the new branch
// go back into the mempool and are mined again on the new chain.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { blockHash, DEVNET, devnetProducerKey, expectedProducer, hashHex, signBlock, txHash, withLimits } from "@timenet/chain";
import { PutResult, type Block, type BlockStoreService } from "@timenet/proto";
import type { Bus } from "@timenet/bus";
import type { ServiceClient } from "@timenet/grpc";
import { waitFor } from "@timenet/testkit";
import type { BlockProducer } from "../src/producer.js";
import { metricValue, publishTx, startChain } from "./harness.js";

const I = 200;
const NETWORK = withLimits(DEVNET, { blockIntervalMs: I, maxFutureDriftMs: I / 4 });
const key = (tx: Uint8Array) => hashHex(txHash(tx));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The devnet key scheduled for `height`: each block of a branch is then signed by another producer than its parent, at rank 0. */
function scheduledKey(height: number) {
  const want = hashHex(expectedProducer(height, NETWORK));
  return devnetProducerKey(NETWORK.producers.findIndex((p) => hashHex(p) === want));
}

/** `txsPerHeight.length` blocks on `parent`, each by its height's scheduled producer, one interval after its parent. */
function branch(parent: Block, txsPerHeight: Uint8Array[][]): Block[] {
  const out: Block[] = [];
  let p = parent.header!;
  for (const txs of txsPerHeight) {
    const block = signBlock({ height: p.height + 1, prevHash: blockHash(p), timestampMs: p.timestampMs + BigInt(I), txs }, scheduledKey(p.height + 1));
    out.push(block);
    p = block.header!;
  }
  return out;
}

describe("a reorg returns the txs of the blocks that left the main chain to the mempool", () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  let bus: Bus;
  let store: ServiceClient<typeof BlockStoreService>;
  let producer: BlockProducer;
  /** The producer's clock; stopped, it never reaches its next turn (tips are still followed). */
  let stoppedAt: number | undefined;

  const mainChain = async (): Promise<Block[]> => {
    const tip = (await store.getTip({})).tip!;
    const out: Block[] = [];
    for await (const r of store.getBlocks({ fromHeight: 1, count: tip.height })) out.push(r.block!);
    return out;
  };

  before(async () => {
    // The store is a real process (apps never import each other) on the same network file as the producer.
    const chain = await startChain(I);
    cleanups.push(() => chain.stop());
    store = chain.storeClient;
    bus = chain.bus;
    producer = await chain.startProducer(0, { now: () => stoppedAt ?? Date.now() });
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test("reinstated txs are mined again on the new chain, once; txs of the new branch stay included", async () => {
    // Producer 0 alone makes every height (the others' as their fallback), from txs sent as a peer's gossip.
    const sent: Uint8Array[] = [];
    const send = () => {
      const tx = randomBytes(24);
      sent.push(tx);
      publishTx(bus, tx);
    };
    let sending = true;
    const sender = (async () => {
      while (sending) {
        send();
        await sleep(I / 4); // more often than blocks: every block has txs
      }
    })();
    await waitFor(async () => (await store.getTip({})).tip!.height >= 6, { timeoutMs: 20_000, intervalMs: 50, message: "height 6" });

    // Stop the producer's clock at its tip's time: it makes no more blocks, so the reorg below is exactly 3 deep.
    stoppedAt = Number((await store.getTip({})).tip!.timestampMs);
    sending = false;
    await sender;
    await sleep(3 * I); // a block already in flight lands
    const old = await mainChain();
    const oldTip = old[old.length - 1]!.header!.height;
    const losing = old.slice(-3);
    assert.ok(
      losing.every((b) => b.txs.length > 0),
      `each of the 3 top blocks has txs: ${losing.map((b) => b.txs.length)}`,
    );
    const fork = old[old.length - 4]!;

    // The winning branch: 4 blocks from the fork point; its second block carries one tx of the losing ones.
    const kept = losing[1]!.txs[0]!;
    const forkTxs: Uint8Array[][] = [0, 1, 2, 3].map((i) => [new TextEncoder().encode(`fork tx ${i}`)]);
    forkTxs[1]!.push(kept);
    const winning = branch(fork, forkTxs);
    const reinstated = losing.flatMap((b) => b.txs).filter((tx) => key(tx) !== key(kept));
    // Not ahead of time for the store (its timestamps are at most one interval past the old tip's).
    await waitFor(() => Date.now() >= Number(winning[3]!.header!.timestampMs), { message: "the branch's time" });
    const res = await store.putBlocks({ blocks: winning });
    assert.equal(res.result, PutResult.APPLIED, res.detail);
    assert.equal(res.reorgDepth, 3);
    assert.equal(res.tip!.height, oldTip + 1);

    // The producer sees the reorg on chain.tip: the losing txs not in the new branch wait again, first, in block order.
    // Under load a read of the walk can miss its deadline: the walk is then retried (counted as a follow failure).
    await waitFor(async () => (await metricValue(producer, "timenet_producer_reorgs_total")) === 1, {
      timeoutMs: 20_000,
      message: async () => `reorg seen (walks that could not read the store: ${await metricValue(producer, "timenet_producer_follow_failures_total")})`,
    });
    assert.equal(await metricValue(producer, "timenet_producer_reorged_txs_total", { result: "reinstated" }), reinstated.length);
    assert.equal(await metricValue(producer, "timenet_producer_reorged_txs_total", { result: "in_new_branch" }), 1);
    assert.equal(await metricValue(producer, "timenet_producer_reorged_txs_total", { result: "mempool_full" }), 0);
    assert.deepEqual(
      producer.mempool.select(reinstated.length, Infinity).map(key),
      reinstated.map(key),
    );

    // A resent copy of a reinstated tx is waiting (duplicate), not refused as included; one of the new branch is included.
    const dropped = (reason: string) => metricValue(producer, "timenet_producer_txs_dropped_total", { reason });
    const [duplicates, included] = [await dropped("duplicate"), await dropped("included")];
    publishTx(bus, reinstated[0]!);
    await waitFor(async () => (await dropped("duplicate")) === duplicates + 1, { message: "resent copy seen" });
    assert.equal(await dropped("included"), included);
    publishTx(bus, kept);
    await waitFor(async () => (await dropped("included")) === included + 1, { message: "copy of a tx in the new branch refused" });

    // The clock runs again: the reinstated txs are mined on the new chain, each tx exactly once.
    stoppedAt = undefined;
    const onChain = async () => new Map((await mainChain()).flatMap((b) => b.txs.map((tx) => [key(tx), b.header!.height] as const)));
    await waitFor(
      async () => {
        const m = await onChain();
        return sent.every((tx) => m.has(key(tx)));
      },
      { timeoutMs: 20_000, intervalMs: 100, message: "every sent tx on the new chain" },
    );
    const chain = await mainChain();
    const all = chain.flatMap((b) => b.txs.map(key));
    assert.equal(new Set(all).size, all.length, "no tx twice on the main chain");
    const heights = await onChain();
    for (const tx of reinstated) assert.ok(heights.get(key(tx))! > oldTip + 1, "mined again above the new branch");
    assert.equal(heights.get(key(kept)), winning[1]!.header!.height, "the tx of the new branch stays where it is");
    for (const b of winning) assert.equal(hashHex(blockHash(chain[b.header!.height - 1]!.header!)), hashHex(blockHash(b.header!)), "the new branch stays");
    await waitFor(() => producer.mempool.size === 0, { timeoutMs: 5_000, message: "mempool empty" });
  });
});
