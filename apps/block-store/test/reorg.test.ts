// Forks: switched to when the fork choice prefers them and they leave the chain above the final height,
// refused from below it, kept aside when not preferred; on the real gRPC API.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { DEVNET, hashHex, withLimits } from "@timenet/chain";
import { PutResult, type Block } from "@timenet/proto";
import { buildChain, endOf, GENESIS } from "./chain-builder.js";
import { startTestStore, type TestStore } from "./harness.js";

const hex = (b: Block) => hashHex(endOf(b).hash);

describe("forks (max_reorg_depth 5)", () => {
  let s: TestStore;
  const main = buildChain(GENESIS, 20); // heights 1..20
  const at = (chain: Block[], height: number) => chain.find((b) => b.header!.height === height)!;
  /** The main chain's hashes from `from` to the tip, as GetBlocks streams them. */
  const mainHashes = async (from: number) => {
    const out: string[] = [];
    for await (const r of s.client.getBlocks({ fromHeight: from, count: 1000 })) out.push(hex(r.block!));
    return out;
  };
  const stored = async (b: Block) => {
    try {
      return (await s.client.getBlock({ by: { case: "hash", value: endOf(b).hash } })).mainChain ? "main" : "aside";
    } catch (err) {
      if ((err as { code?: number }).code === status.NOT_FOUND) return "absent";
      throw err;
    }
  };

  before(async () => {
    s = await startTestStore({ network: withLimits(DEVNET, { maxReorgDepth: 5 }) });
    assert.equal((await s.client.putBlocks({ blocks: main })).result, PutResult.APPLIED);
  });
  after(() => s?.stop());

  // Forks b and c both leave the main chain (18..20, weight 3) after height 17.
  const forkB = buildChain(endOf(at(main, 17)), 2, { salt: "b" }); // 18..19: weight 2
  const forkC = buildChain(endOf(at(main, 17)), 4, { salt: "c" }); // 18..21: weight 4

  test("a fork that weighs less than the main chain above it is FORK_NOT_PREFERRED: nothing switched, its blocks kept aside", async () => {
    const before = await mainHashes(0);
    const tips = await s.settledTips();
    const res = await s.client.putBlocks({ blocks: forkB });
    assert.equal(res.result, PutResult.FORK_NOT_PREFERRED, res.detail);
    assert.equal(res.reorgDepth, 3);
    assert.equal(res.tip!.height, 20);
    assert.equal(hashHex(res.tip!.hash), hex(main[19]!));
    assert.deepEqual(await mainHashes(0), before);
    assert.equal(await stored(forkB[0]!), "aside");
    assert.equal(await s.metric("timenet_store_reorgs_total", { result: "not_preferred" }), 1);
    assert.equal(await s.metric("timenet_store_put_requests_total", { result: "fork_not_preferred" }), 1);
    assert.equal(s.tips.length, tips, "the tip did not move");
  });

  test("a heavier valid fork 3 blocks deep is switched to in one step", async () => {
    const res = await s.client.putBlocks({ blocks: forkC });
    assert.equal(res.result, PutResult.APPLIED, res.detail);
    assert.equal(res.reorgDepth, 3);
    assert.equal(res.applied, 4);
    assert.equal(res.tip!.height, 21);
    assert.equal(hashHex(res.tip!.hash), hex(forkC[3]!));
    // Heights 0..17 unchanged, 18..21 are the fork's: the old 18..20 are gone from the height index.
    assert.deepEqual(await mainHashes(15), [at(main, 15), at(main, 16), at(main, 17), ...forkC].map(hex));
    for (const h of [18, 19, 20]) {
      assert.equal(hex((await s.client.getBlock({ by: { case: "height", value: h } })).block!), hex(at(forkC, h)));
      assert.equal(await stored(at(main, h)), "aside", `old block ${h} is kept by hash only`);
    }
    await s.waitTip(21, endOf(forkC[3]!).hash);
    assert.equal(await s.metric("timenet_store_reorgs_total", { result: "switched" }), 1);
    assert.equal(await s.metric("timenet_store_reorg_depth_count"), 1);
    assert.equal(await s.metric("timenet_store_reorg_depth_sum"), 3);
    assert.equal(await s.metric("timenet_store_height"), 21);
  });

  test("extending a fork kept aside switches to it once it is heavier (a fork synced in batches)", async () => {
    const next = buildChain(endOf(forkB[1]!), 3, { salt: "b" }); // b20..b22 on b19: weight 5 against c's 4
    const res = await s.client.putBlocks({ blocks: next });
    assert.equal(res.result, PutResult.APPLIED, res.detail);
    assert.equal(res.reorgDepth, 4, "c18..c21 replaced");
    assert.equal(res.applied, 5, "b18, b19 from the store, b20..b22 from the request");
    assert.deepEqual(await mainHashes(17), [at(main, 17), ...forkB, ...next].map(hex));
    assert.equal(await s.metric("timenet_store_reorgs_total", { result: "switched" }), 2);
  });

  test("a heavier fork from below the final height (tip - max_reorg_depth) is FORK_TOO_DEEP and changes nothing", async () => {
    const before = await mainHashes(0);
    assert.equal(before.length, 23);
    const tips = await s.settledTips();
    const deep = buildChain(endOf(at(main, 16)), 10, { salt: "d" }); // leaves after 16: 6 below the tip 22
    const res = await s.client.putBlocks({ blocks: deep });
    assert.equal(res.result, PutResult.FORK_TOO_DEEP, res.detail);
    assert.equal(res.reorgDepth, 6);
    assert.equal(res.tip!.height, 22);
    assert.deepEqual(await mainHashes(0), before);
    assert.equal(await stored(deep[0]!), "absent", "nothing of it written");
    assert.equal(await s.metric("timenet_store_reorgs_total", { result: "too_deep" }), 1);
    assert.equal(await s.metric("timenet_store_put_requests_total", { result: "fork_too_deep" }), 1);
    assert.equal(s.tips.length, tips);
  });

  test("a heavier fork from exactly the final height is still switched to", async () => {
    const tip = (await s.client.getTip({})).tip!;
    const from = (await s.client.getBlock({ by: { case: "height", value: tip.height - 5 } })).block!;
    const fork = buildChain(endOf(from), 6, { salt: "e" });
    const res = await s.client.putBlocks({ blocks: fork });
    assert.equal(res.result, PutResult.APPLIED, res.detail);
    assert.equal(res.reorgDepth, 5);
    assert.equal(res.tip!.height, tip.height + 1);
  });
});
