// The production loop against an in-memory block-store whose answers the
// test controls: failures are retried after a pause, never in a tight loop.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { blockHash, DEVNET, hashHex, signBlock, validateBlock, type NetworkParams } from "@timenet/chain";
import {
  ChainTipSchema,
  GetBlockRequestSchema,
  GetBlockResponseSchema,
  GetTipResponseSchema,
  PutBlocksRequestSchema,
  PutBlocksResponseSchema,
  PutResult,
  type Block,
  type ChainTip,
} from "@timenet/proto";
import { createLogger, createRegistry } from "@timenet/telemetry";
import { waitFor } from "@timenet/testkit";
import { Mempool } from "../src/mempool.js";
import { ProducerMetrics } from "../src/metrics.js";
import { resolveProducerIdentity } from "../src/producer-key.js";
import { Production, type BlockStoreClient } from "../src/production.js";
import { metricValue } from "./harness.js";

/** Devnet's producer 0 alone: every height is its own turn. */
const INTERVAL = 20;
const SOLO: NetworkParams = { ...DEVNET, producers: [DEVNET.producers[0]!], blockIntervalMs: INTERVAL };
const RETRY = 100;

/** A block-store in memory: validates and appends like the real one, unless told to fail. */
class FakeStore implements BlockStoreClient {
  readonly chain: Block[] = [SOLO.genesis];
  calls = { getTip: 0, putBlocks: 0 };
  down = false;
  refuseWith: PutResult | undefined;
  genesisHash = SOLO.genesisHash;

  tip(): ChainTip {
    const header = this.chain[this.chain.length - 1]!.header!;
    return create(ChainTipSchema, { height: header.height, hash: blockHash(header), timestampMs: header.timestampMs, genesisHash: this.genesisHash, header });
  }

  private unavailable(): Promise<never> {
    return Promise.reject(Object.assign(new Error("14 UNAVAILABLE: No connection established"), { code: 14 }));
  }

  getTip: BlockStoreClient["getTip"] = async () => {
    this.calls.getTip++;
    if (this.down) return this.unavailable();
    return create(GetTipResponseSchema, { tip: this.tip() });
  };

  getBlock: BlockStoreClient["getBlock"] = async (init) => {
    if (this.down) return this.unavailable();
    const { by } = create(GetBlockRequestSchema, init);
    const want = by.case === "hash" ? hashHex(by.value) : undefined;
    const block = this.chain.find((b) => hashHex(blockHash(b.header!)) === want);
    return create(GetBlockResponseSchema, { block, mainChain: block !== undefined });
  };

  putBlocks: BlockStoreClient["putBlocks"] = async (init) => {
    this.calls.putBlocks++;
    if (this.down) return this.unavailable();
    if (this.refuseWith !== undefined) return create(PutBlocksResponseSchema, { result: this.refuseWith, tip: this.tip(), detail: "told to refuse" });
    const block = create(PutBlocksRequestSchema, init).blocks[0]!;
    const v = validateBlock(block, this.chain[this.chain.length - 1]!.header, SOLO, Date.now());
    if (!v.ok) return create(PutBlocksResponseSchema, { result: PutResult.INVALID, invalidReason: v.reason, detail: v.detail, tip: this.tip() });
    this.chain.push(block);
    return create(PutBlocksResponseSchema, { result: PutResult.APPLIED, applied: 1, tip: this.tip() });
  };
}

const running: Production[] = [];
after(async () => {
  for (const p of running) await p.stop();
});

async function startLoop(store: FakeStore, now: () => number = Date.now) {
  const identity = await resolveProducerIdentity({ devnetIndex: 0 }, SOLO);
  const mempool = new Mempool({ maxTxs: 100, maxBytes: 1 << 20, maxTxBytes: 1 << 16 });
  const registry = createRegistry({ service: "t", collectDefault: false });
  const metrics = new ProducerMetrics(registry, () => ({ txs: mempool.size, bytes: mempool.bytes }));
  const production = new Production({
    network: SOLO,
    identity,
    intervalMs: INTERVAL,
    store,
    mempool,
    metrics,
    logger: createLogger({ service: "t", level: "silent" }),
    storeDeadlineMs: 1_000,
    retryMs: RETRY,
    evictionDepth: 8,
    now,
  });
  running.push(production);
  production.start();
  return { production, mempool, metric: (name: string, labels?: Record<string, string>) => metricValue({ registry }, name, labels) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a lone producer makes a block every interval, each on the last", async () => {
  const store = new FakeStore();
  const { production } = await startLoop(store);
  await waitFor(() => store.chain.length > 6, { timeoutMs: 5_000, message: "6 blocks" });
  await production.stop();
  for (let h = 2; h < store.chain.length; h++) {
    const gap = store.chain[h]!.header!.timestampMs - store.chain[h - 1]!.header!.timestampMs;
    assert.ok(gap >= BigInt(INTERVAL), `height ${h}: ${gap} ms after its parent`);
  }
  assert.equal(production.status().blocksProduced, store.chain.length - 1);
  assert.equal(production.status().lastHeight, store.chain.length - 1);
});

test("an unreachable store is asked again every retry period, not in a loop, and production resumes when it answers", async () => {
  const store = new FakeStore();
  store.down = true;
  const { production, metric } = await startLoop(store);
  await sleep(5 * RETRY);
  assert.ok(store.calls.getTip >= 2 && store.calls.getTip <= 8, `${store.calls.getTip} GetTip calls in ${5 * RETRY} ms`);
  assert.ok((await metric("timenet_producer_turns_skipped_total", { reason: "store_unreachable" })) >= 1);
  assert.equal(production.storeReachable, false);
  store.down = false;
  await waitFor(() => store.chain.length > 2, { timeoutMs: 2_000, message: "blocks once the store answers" });
  assert.equal(production.storeReachable, true);
});

test("a block the store does not apply is counted by result, its txs stay in the mempool, and the next try waits", async () => {
  const store = new FakeStore();
  store.refuseWith = PutResult.PARENT_UNKNOWN;
  const { production, mempool, metric } = await startLoop(store);
  const txs = [1, 2, 3].map((n) => Uint8Array.of(n, n, n));
  for (const tx of txs) mempool.add(tx);
  await sleep(4 * RETRY);
  assert.ok(store.calls.putBlocks >= 1 && store.calls.putBlocks <= 6, `${store.calls.putBlocks} PutBlocks in ${4 * RETRY} ms`);
  assert.equal(await metric("timenet_producer_put_failures_total", { result: "parent_unknown" }), store.calls.putBlocks);
  assert.equal(mempool.size, 3);
  assert.equal(production.status().blocksProduced, 0);
  store.refuseWith = undefined;
  await waitFor(() => store.chain.length > 1, { timeoutMs: 2_000, message: "applied once the store accepts" });
  assert.deepEqual(store.chain[1]!.txs, txs, "the txs, oldest first, in the first block applied");
  assert.equal(mempool.size, 0);
  assert.equal(await metric("timenet_producer_blocks_produced_total"), production.status().blocksProduced);
});

test("a store holding another network's chain gets no blocks", async () => {
  const store = new FakeStore();
  store.genesisHash = new Uint8Array(32).fill(9);
  const { production, metric } = await startLoop(store);
  await sleep(3 * RETRY);
  assert.equal(store.calls.putBlocks, 0);
  assert.ok((await metric("timenet_producer_turns_skipped_total", { reason: "wrong_genesis" })) >= 1);
  assert.equal(production.status().tipHeight, undefined);
});

test("txs in a block we did not make leave the mempool when its tip is announced", async () => {
  const store = new FakeStore();
  store.refuseWith = PutResult.FORK_NOT_PREFERRED; // we make nothing ourselves
  const { production, mempool } = await startLoop(store);
  const txs = [4, 5, 6].map((n) => Uint8Array.of(n));
  for (const tx of txs) mempool.add(tx);
  // The block arrives from elsewhere (sync, another process): the store holds it, chain.tip announces it.
  const parent = store.chain[0]!.header!;
  store.chain.push(signBlock({ height: 1, prevHash: blockHash(parent), timestampMs: parent.timestampMs + 1n, txs: txs.slice(0, 2) }, (await resolveProducerIdentity({ devnetIndex: 0 }, SOLO)).key));
  production.onTipEvent(store.tip());
  await waitFor(() => mempool.size === 1, { timeoutMs: 2_000, message: "two txs evicted" });
  assert.equal(mempool.add(txs[0]!), "included");
});

test("a tip whose block the store could not give back is walked again after the retry period, though no new tip comes", async () => {
  const store = new FakeStore();
  // A clock stopped at the genesis: no turn ever comes, so no step walks the chain on its own.
  const { production, mempool, metric } = await startLoop(store, () => Number(SOLO.genesis.header!.timestampMs));
  const txs = [7, 8].map((n) => Uint8Array.of(n));
  for (const tx of txs) mempool.add(tx);
  const parent = store.chain[0]!.header!;
  store.chain.push(signBlock({ height: 1, prevHash: blockHash(parent), timestampMs: parent.timestampMs + 1n, txs }, (await resolveProducerIdentity({ devnetIndex: 0 }, SOLO)).key));
  // The announcement comes while the store cannot answer (a read past its deadline): the walk fails.
  store.down = true;
  production.onTipEvent(store.tip());
  await waitFor(async () => (await metric("timenet_producer_follow_failures_total")) >= 1, { timeoutMs: 2_000, message: "the walk failed" });
  assert.equal(mempool.size, 2, "nothing evicted while the block could not be read");
  // Only a re-publication of the same tip follows, which changes nothing by itself; the retry does the walk.
  store.down = false;
  production.onTipEvent(store.tip());
  await waitFor(() => mempool.size === 0, { timeoutMs: 2_000, message: "both txs evicted by the retried walk" });
  assert.equal(mempool.add(txs[0]!), "included");
});
