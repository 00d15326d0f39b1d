// The known main chain against a store in memory: which blocks left the chain, and what of theirs comes back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { blockHash, DEVNET, devnetProducerKey, hashHex, signBlock } from "@timenet/chain";
import { GetBlockRequestSchema, GetBlockResponseSchema, type Block } from "@timenet/proto";
import { createLogger, createRegistry } from "@timenet/telemetry";
import { KnownChain } from "../src/known-chain.js";
import { Mempool } from "../src/mempool.js";
import { ProducerMetrics } from "../src/metrics.js";
import type { BlockStoreClient } from "../src/production.js";
import { metricValue } from "./harness.js";

const tx = (name: string) => new TextEncoder().encode(name);
const key = devnetProducerKey(0);

/** Blocks by hash, side blocks included, as GetBlock by hash answers; a forgotten one is NOT_FOUND. */
class Blocks {
  readonly byHash = new Map<string, Block>([[hashHex(DEVNET.genesisHash), DEVNET.genesis]]);
  getBlock: BlockStoreClient["getBlock"] = async (init) => {
    const { by } = create(GetBlockRequestSchema, init);
    const block = by.case === "hash" ? this.byHash.get(hashHex(by.value)) : undefined;
    if (block === undefined) throw Object.assign(new Error("5 NOT_FOUND"), { code: status.NOT_FOUND });
    return create(GetBlockResponseSchema, { block, mainChain: true });
  };

  /** Blocks on `parent`, one per list of txs (`salt` tells two branches apart). */
  extend(parent: Block, txs: Uint8Array[][], salt = ""): Block[] {
    const out: Block[] = [];
    let p = parent.header!;
    for (const t of txs) {
      const b = signBlock({ height: p.height + 1, prevHash: blockHash(p), timestampMs: p.timestampMs + 1n, txs: [...t, tx(`${salt}${p.height + 1}`)] }, key);
      this.byHash.set(hashHex(blockHash(b.header!)), b);
      out.push(b);
      p = b.header!;
    }
    return out;
  }
}

function setup() {
  const store = new Blocks();
  const mempool = new Mempool({ maxTxs: 100, maxBytes: 1 << 20, maxTxBytes: 1 << 16 });
  const registry = createRegistry({ service: "t", collectDefault: false });
  const metrics = new ProducerMetrics(registry, () => ({ txs: mempool.size, bytes: mempool.bytes }));
  const known = new KnownChain({ store, mempool, metrics, logger: createLogger({ service: "t", level: "silent" }), storeDeadlineMs: 1_000, depth: 16 });
  const follow = (b: Block) => known.follow({ height: b.header!.height, hash: blockHash(b.header!) }, undefined, () => false);
  const reorged = (result: string) => metricValue({ registry }, "timenet_producer_reorged_txs_total", { result });
  const reorgs = () => metricValue({ registry }, "timenet_producer_reorgs_total");
  return { store, mempool, follow, reorged, reorgs };
}

test("a late tip below the known top on the same chain is not a reorg", async () => {
  const { store, mempool, follow, reorgs } = setup();
  const main = store.extend(DEVNET.genesis, [[tx("a")], [tx("b")], [tx("c")]]);
  assert.equal(await follow(main[2]!), true);
  assert.equal(await follow(main[0]!), true);
  assert.equal(await reorgs(), 0);
  assert.equal(mempool.add(tx("c")), "included");
});

test("a reorg to a lower tip: the txs of the blocks above it come back, except those still on the chain below the fork", async () => {
  const { store, mempool, follow, reorged, reorgs } = setup();
  const main = store.extend(DEVNET.genesis, [[tx("a")], [tx("b")], [tx("c"), tx("a")], [tx("d")]]); // "a" twice on the chain
  await follow(main[3]!);
  const side = store.extend(main[1]!, [[tx("d")]], "side"); // height 3: shorter, but the store prefers it
  assert.equal(await follow(side[0]!), true);
  assert.equal(await reorgs(), 1);
  // Heights 3 and 4 left: "c" and main's own tx of height 3 and 4 come back; "d" is in the new branch, "a" at height 1.
  assert.deepEqual(mempool.select(10, Infinity), [tx("c"), tx("3"), tx("4")]);
  assert.equal(await reorged("reinstated"), 3);
  assert.equal(await reorged("in_new_branch"), 2);
  assert.equal(mempool.add(tx("a")), "included");
  assert.equal(mempool.add(tx("d")), "included");

  // Back to the first branch, one block longer: the side block's own tx comes back, the others are included again.
  const longer = store.extend(main[3]!, [[]]);
  await follow(longer[0]!);
  assert.equal(await reorgs(), 2);
  assert.deepEqual(mempool.select(10, Infinity), [tx("side3")]);
  assert.equal(mempool.add(tx("c")), "included");
});

test("a block that left the chain and is no longer in the store: its txs are forgotten, so a resent copy is taken", async () => {
  const { store, mempool, follow, reorged } = setup();
  const main = store.extend(DEVNET.genesis, [[tx("a")], [tx("b")]]);
  await follow(main[1]!);
  store.byHash.delete(hashHex(blockHash(main[1]!.header!)));
  const fork = store.extend(main[0]!, [[], []], "fork");
  assert.equal(await follow(fork[1]!), true);
  assert.equal(await reorged("unavailable"), 2);
  assert.equal(mempool.size, 0);
  assert.equal(mempool.add(tx("b")), "added");
  assert.equal(mempool.add(tx("a")), "included");
});

test("a store that cannot be read: the txs of the blocks read leave the mempool, the walk is tried again on the next tip", async () => {
  const { store, mempool, follow } = setup();
  const main = store.extend(DEVNET.genesis, [[tx("a")], [tx("b")], [tx("c")]]);
  for (const t of ["a", "b", "c"]) mempool.add(tx(t));
  const missing = store.byHash.get(hashHex(blockHash(main[1]!.header!)))!;
  const realGet = store.getBlock;
  store.getBlock = async (init, opts) => {
    const res = await realGet(init, opts);
    if (res.block === missing) throw Object.assign(new Error("14 UNAVAILABLE"), { code: status.UNAVAILABLE });
    return res;
  };
  assert.equal(await follow(main[2]!), false);
  assert.deepEqual(mempool.select(10, Infinity), [tx("a"), tx("b")]);
  store.getBlock = realGet;
  assert.equal(await follow(main[2]!), true);
  assert.equal(mempool.size, 0);
});
