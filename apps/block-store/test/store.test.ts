// The chain over the real gRPC API, on a real LMDB and a real nats-server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { clone, toBinary } from "@bufbuild/protobuf";
import { DEVNET, hashHex } from "@timenet/chain";
import { BlockInvalidReason, BlockSchema, PutResult, type Block } from "@timenet/proto";
import { batches, buildChain, endOf, GENESIS } from "./chain-builder.js";
import { startTestStore, type TestStore } from "./harness.js";

const hex = (b: Block | Uint8Array | undefined) => (b instanceof Uint8Array ? hashHex(b) : hashHex(endOf(b!).hash));
const encoded = (b: Block) => Buffer.from(toBinary(BlockSchema, b)).toString("hex");
const notFound = (e: { code?: number }) => e.code === status.NOT_FOUND;

describe("the chain over gRPC", () => {
  let s: TestStore;
  const chain = buildChain(GENESIS, 1000);
  const more = buildChain(endOf(chain.at(-1)!), 50);

  before(async () => {
    s = await startTestStore();
  });
  after(() => s?.stop());

  test("an empty store starts at the network's genesis and publishes it on chain.tip", async () => {
    const { tip } = await s.client.getTip({});
    assert.equal(tip!.height, 0);
    assert.equal(hex(tip!.hash), hashHex(DEVNET.genesisHash));
    assert.equal(hex(tip!.genesisHash), hashHex(DEVNET.genesisHash));
    const published = await s.waitTip(0, DEVNET.genesisHash);
    assert.equal(hex(published.genesisHash), hashHex(DEVNET.genesisHash));
    assert.equal(await s.metric("timenet_store_height"), 0);
  });

  test("1000 blocks put in batches of 100 are applied; chain.tip is published after each", async () => {
    for (const batch of batches(chain, 100)) {
      const res = await s.client.putBlocks({ blocks: batch });
      assert.equal(res.result, PutResult.APPLIED, res.detail);
      assert.equal(res.applied, 100);
      const last = endOf(batch.at(-1)!);
      assert.equal(res.tip!.height, last.height);
      assert.equal(hex(res.tip!.hash), hashHex(last.hash));
      const published = await s.waitTip(last.height, last.hash);
      assert.equal(published.timestampMs, last.timestampMs);
      assert.equal(hex(published.header!.prevHash), hashHex(batch.at(-1)!.header!.prevHash));
    }
    assert.equal(await s.metric("timenet_store_height"), 1000);
    assert.equal(await s.metric("timenet_store_blocks_applied_total"), 1000);
    assert.equal(await s.metric("timenet_store_put_requests_total", { result: "applied" }), 10);
    assert.equal(await s.metric("timenet_store_write_latency_seconds_count"), 10);
  });

  test("GetTip, GetBlock by height and by hash, and GetBlocks return the stored chain", async () => {
    const { tip } = await s.client.getTip({});
    assert.equal(tip!.height, 1000);
    assert.equal(hex(tip!.header!.signature), hex(chain[999]!.header!.signature));

    for (const h of [1, 2, 499, 500, 1000]) {
      const res = await s.client.getBlock({ by: { case: "height", value: h } });
      assert.equal(hex(res.block), hex(chain[h - 1]), `block ${h}`);
      assert.equal(encoded(res.block!), encoded(chain[h - 1]!), `block ${h}'s bytes`);
      assert.equal(res.mainChain, true);
    }
    const genesis = await s.client.getBlock({ by: { case: "height", value: 0 } });
    assert.equal(hex(genesis.block), hashHex(DEVNET.genesisHash));
    const byHash = await s.client.getBlock({ by: { case: "hash", value: endOf(chain[41]!).hash } });
    assert.equal(byHash.block!.header!.height, 42);
    assert.equal(byHash.mainChain, true);
    await assert.rejects(s.client.getBlock({ by: { case: "height", value: 1001 } }), notFound);
    await assert.rejects(s.client.getBlock({ by: { case: "hash", value: new Uint8Array(32).fill(7) } }), notFound);
    await assert.rejects(s.client.getBlock({ by: { case: "hash", value: new Uint8Array(3) } }), (e: { code?: number }) => e.code === status.INVALID_ARGUMENT);

    const all: Block[] = [];
    for await (const r of s.client.getBlocks({ fromHeight: 0, count: 5000 })) all.push(r.block!);
    assert.equal(all.length, 1001, "from genesis to the tip, and no further");
    all.forEach((b, i) => assert.equal(b.header!.height, i));
    assert.equal(hex(all[1000]), hex(chain[999]));
    const some: number[] = [];
    for await (const r of s.client.getBlocks({ fromHeight: 995, count: 3 })) some.push(r.block!.header!.height);
    assert.deepEqual(some, [995, 996, 997]);
    let beyond = 0;
    for await (const _ of s.client.getBlocks({ fromHeight: 1001, count: 10 })) beyond++;
    assert.equal(beyond, 0);
  });

  test("re-putting blocks is ALREADY_HAVE; a batch overlapping the tip applies only its new blocks", async () => {
    const tipsBefore = await s.settledTips();
    for (const batch of [chain.slice(0, 100), chain.slice(500, 700), chain.slice(999)]) {
      const res = await s.client.putBlocks({ blocks: batch });
      assert.equal(res.result, PutResult.ALREADY_HAVE, res.detail);
      assert.equal(res.applied, 0);
      assert.equal(res.tip!.height, 1000);
    }
    assert.equal(await s.metric("timenet_store_put_requests_total", { result: "already_have" }), 3);

    const res = await s.client.putBlocks({ blocks: [...chain.slice(990), ...more] });
    assert.equal(res.result, PutResult.APPLIED, res.detail);
    assert.equal(res.applied, 50);
    assert.equal(res.tip!.height, 1050);
    await s.waitTip(1050, endOf(more.at(-1)!).hash);
    assert.equal(s.tips.slice(tipsBefore).length, 1, "one publication: only the overlapping put moved the tip");
  });

  test("a batch ahead of the tip is PARENT_UNKNOWN and writes nothing", async () => {
    const ahead = buildChain(endOf(more.at(-1)!), 20);
    const res = await s.client.putBlocks({ blocks: ahead.slice(10) });
    assert.equal(res.result, PutResult.PARENT_UNKNOWN, res.detail);
    assert.equal(res.tip!.height, 1050);
    await assert.rejects(s.client.getBlock({ by: { case: "hash", value: endOf(ahead[15]!).hash } }), notFound);
    // Once the gap is filled, the same batch applies.
    assert.equal((await s.client.putBlocks({ blocks: ahead.slice(0, 10) })).result, PutResult.APPLIED);
    assert.equal((await s.client.putBlocks({ blocks: ahead.slice(10) })).result, PutResult.APPLIED);
    assert.equal((await s.client.getTip({})).tip!.height, 1070);
  });

  test("an invalid block makes the batch INVALID with its index and reason, and nothing of it is written", async () => {
    const tip = (await s.client.getTip({})).tip!;
    const run = buildChain({ height: tip.height, hash: tip.hash, timestampMs: tip.timestampMs }, 10);
    const tipsBefore = await s.settledTips();

    const badSignature = run.map((b) => clone(BlockSchema, b));
    badSignature[4]!.header!.signature[10]! ^= 0xff;
    const badMerkle = run.map((b) => clone(BlockSchema, b));
    badMerkle[7]!.txs.push(new TextEncoder().encode("smuggled"));
    const cases: Array<[string, Block[], BlockInvalidReason, number]> = [
      ["bad signature", badSignature, BlockInvalidReason.BAD_SIGNATURE, 4],
      ["bad merkle root", badMerkle, BlockInvalidReason.BAD_MERKLE_ROOT, 7],
      ["not contiguous", [run[0]!, run[2]!], BlockInvalidReason.MALFORMED, 1],
      ["empty", [], BlockInvalidReason.MALFORMED, 0],
    ];
    for (const [what, blocks, reason, index] of cases) {
      const res = await s.client.putBlocks({ blocks });
      assert.equal(res.result, PutResult.INVALID, what);
      assert.equal(res.invalidReason, reason, `${what}: ${res.detail}`);
      assert.equal(res.invalidIndex, index, what);
      assert.equal(res.applied, 0);
      assert.equal(res.tip!.height, tip.height, what);
      // Not even the valid blocks before the bad one.
      await assert.rejects(s.client.getBlock({ by: { case: "hash", value: endOf(run[0]!).hash } }), notFound);
    }
    assert.equal(await s.metric("timenet_store_validation_failures_total", { reason: "bad_signature" }), 1);
    assert.equal(await s.metric("timenet_store_validation_failures_total", { reason: "bad_merkle_root" }), 1);
    assert.equal(await s.metric("timenet_store_validation_failures_total", { reason: "malformed" }), 2);
    assert.equal(await s.metric("timenet_store_put_requests_total", { result: "invalid" }), 4);

    const ok = await s.client.putBlocks({ blocks: run });
    assert.equal(ok.result, PutResult.APPLIED, ok.detail);
    await s.waitTip(tip.height + 10, endOf(run.at(-1)!).hash);
    assert.equal(s.tips.length, tipsBefore + 1, "refused puts published nothing");
  });
});

describe("chain.tip", () => {
  test("is re-published every TIP_REPUBLISH without a change", async () => {
    const s = await startTestStore({ tipRepublishMs: 100 });
    try {
      await new Promise((r) => setTimeout(r, 650));
      assert.ok(s.tips.length >= 4, `${s.tips.length} publications in 650 ms`);
      assert.ok(s.tips.every((t) => t.height === 0));
    } finally {
      await s.stop();
    }
  });
});
