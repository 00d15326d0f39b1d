// The chain rules as the store applies them, on its real gRPC API and LMDB:
// one key's private branches never win, ties go the same way whatever the
// order, the final height never moves back, side branches are pruned and
// capped, and blocks early by our clock are held, not refused.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DEVNET, hashHex, withLimits } from "@timenet/chain";
import { PutResult, type Block } from "@timenet/proto";
import { buildChain, endOf, GENESIS } from "./chain-builder.js";
import { startTestStore, type TestStore } from "./harness.js";

const hex = (b: Block) => hashHex(endOf(b).hash);
const SHALLOW = withLimits(DEVNET, { maxReorgDepth: 5 });

describe("one key's private branch", () => {
  let s: TestStore;
  const main = buildChain(GENESIS, 60);
  before(async () => {
    s = await startTestStore({ network: withLimits(DEVNET, { maxReorgDepth: 50 }), sideMaxBlocks: 40 });
    assert.equal((await s.client.putBlocks({ blocks: main })).result, PutResult.APPLIED);
  });
  after(() => s?.stop());

  for (const rogue of [0, 1, 2]) {
    for (const back of [1, 3, 10, 40]) {
      test(`producer ${rogue}'s branch from ${back} below the tip, as long as it likes, is never switched to`, async () => {
        const from = main[main.length - 1 - back]!;
        // From 1 below, the key whose turn the tip's height is ties with the
        // main chain on weight (1) and rank (0): its second block for its own
        // slot is settled by the lower first hash, which depends on the block
        // bytes (tested under "ties"). Take a salt that loses that tie, so what
        // is tested here is that length never helps.
        const rogueBranch = (k: number) => buildChain(endOf(from), back + 5, { producer: rogue, salt: `rogue-${rogue}-${back}-${k}` });
        let branch = rogueBranch(0);
        for (let k = 1; Buffer.compare(endOf(branch[0]!).hash, endOf(main[main.length - back]!).hash) < 0; k++) branch = rogueBranch(k);
        const res = await s.client.putBlocks({ blocks: branch });
        assert.equal(res.result, PutResult.FORK_NOT_PREFERRED, res.detail);
        assert.match(res.detail, /weighs [01] /);
        assert.equal(hashHex(res.tip!.hash), hex(main.at(-1)!));
        assert.equal(await s.metric("timenet_store_reorgs_total", { result: "switched" }), 0);
      });
    }
  }

  test("what one key sent aside stays within the cap, and the gauge says how full it is", async () => {
    assert.ok(s.handle.store.sideBranches.blocks <= 40, `${s.handle.store.sideBranches.blocks} side blocks`);
    assert.ok((await s.metric("timenet_store_side_pruned_total", { reason: "cap" })) > 0);
    const fill = await s.metric("timenet_store_side_fill_ratio");
    assert.ok(fill > 0 && fill <= 1, `fill ${fill}`);
    assert.equal(await s.metric("timenet_store_side_blocks"), s.handle.store.sideBranches.blocks);
  });
});

describe("ties and the final height", () => {
  let a: TestStore;
  let b: TestStore;
  before(async () => {
    [a, b] = await Promise.all([startTestStore({ network: SHALLOW }), startTestStore({ network: SHALLOW })]);
  });
  after(() => Promise.all([a?.stop(), b?.stop()]));

  test("equal weight: the height's own producer beats a stand-in, on both stores whatever the order", async () => {
    const base = buildChain(GENESIS, 9); // tip 9; height 10 is producer 1's
    const own = buildChain(endOf(base[8]!), 1, { salt: "own" });
    const standIn = buildChain(endOf(base[8]!), 1, { producer: 2, salt: "stand-in" });
    for (const [store, order] of [
      [a, [own, standIn]],
      [b, [standIn, own]],
    ] as const) {
      assert.equal((await store.client.putBlocks({ blocks: base })).result, PutResult.APPLIED);
      for (const run of order) await store.client.putBlocks({ blocks: run });
      assert.equal(hashHex((await store.client.getTip({})).tip!.hash), hex(own[0]!));
    }
  });

  test("a heavier but shorter branch wins; the tip height falls, the final height does not", async () => {
    const tip = (await a.client.getTip({})).tip!;
    const from = (await a.client.getBlock({ by: { case: "height", value: tip.height } })).block!;
    // Producer 2 runs the tip up alone (weights 1, 0, 0, 0): tip 14, final 9.
    const lone = buildChain(endOf(from), 4, { producer: 2, salt: "lone" });
    assert.equal((await a.client.putBlocks({ blocks: lone })).result, PutResult.APPLIED);
    const high = (await a.client.getTip({})).tip!;
    assert.equal(high.height, 14);
    assert.equal(high.finalHeight, 9);
    // Producers 1 and 2 take turns from height 11 on: two blocks weigh 2 against the lone run's 1 above 10.
    const pair = buildChain(endOf(lone[0]!), 2, { salt: "pair" });
    const res = await a.client.putBlocks({ blocks: pair });
    assert.equal(res.result, PutResult.APPLIED, res.detail);
    assert.equal(res.tip!.height, 13);
    assert.equal(res.tip!.finalHeight, 9, "final never falls with the tip");
    assert.equal(await a.metric("timenet_store_final_height"), 9);
    // The heights above the new tip are gone from the main chain.
    await assert.rejects(a.client.getBlock({ by: { case: "height", value: 14 } }));
  });

  test("side blocks at or below the final height are deleted", async () => {
    const tip = (await a.client.getTip({})).tip!;
    const from = (await a.client.getBlock({ by: { case: "height", value: tip.height } })).block!;
    const sideBefore = a.handle.store.sideBranches.blocks;
    assert.ok(sideBefore > 0, "the replaced and losing blocks were kept aside");
    // Twelve more blocks move the final height past every side block.
    assert.equal((await a.client.putBlocks({ blocks: buildChain(endOf(from), 12, { salt: "more" }) })).result, PutResult.APPLIED);
    assert.equal(a.handle.store.sideBranches.blocks, 0);
    assert.equal(await a.metric("timenet_store_side_pruned_total", { reason: "final" }), sideBefore);
  });
});

describe("blocks early by our clock", () => {
  let s: TestStore;
  const main = buildChain(GENESIS, 5);
  const parent = endOf(main[4]!);
  /** A block on the tip that is `aheadMs` ahead of our clock when it is put. */
  const early = (aheadMs: number, salt: string) => buildChain(parent, 1, { salt, lateByMs: Date.now() + aheadMs - Number(parent.timestampMs) - DEVNET.blockIntervalMs })[0]!;
  before(async () => {
    s = await startTestStore({ network: withLimits(DEVNET, { maxFutureDriftMs: 300 }), holdMaxAheadMs: 5_000 });
    assert.equal((await s.client.putBlocks({ blocks: main })).result, PutResult.APPLIED);
  });
  after(() => s?.stop());

  test("too far ahead to hold: TOO_EARLY with when to come back, nothing written, nobody blamed", async () => {
    const far = early(60_000, "far");
    const res = await s.client.putBlocks({ blocks: [far] });
    assert.equal(res.result, PutResult.TOO_EARLY, res.detail);
    assert.ok(res.retryAfterMs > 20_000 && res.retryAfterMs <= 30_000, `retry after ${res.retryAfterMs}`);
    assert.equal(res.tip!.height, 5);
    assert.equal(await s.metric("timenet_store_validation_failures_total", { reason: "timestamp_in_future" }), 0);
    assert.equal(await s.metric("timenet_store_hold_total", { result: "too_far" }), 1);
  });

  test("a little ahead: HELD, then applied when its time comes", async () => {
    const soon = early(1_000, "soon");
    const res = await s.client.putBlocks({ blocks: [soon] });
    assert.equal(res.result, PutResult.HELD, res.detail);
    assert.equal(res.held, 1);
    assert.equal(res.tip!.height, 5, "not yet");
    assert.equal(await s.metric("timenet_store_held_blocks"), 1);
    const tip = await s.waitTip(6, endOf(soon).hash);
    assert.ok(Date.now() >= Number(soon.header!.timestampMs) - 300 - 50, "not before its time (less the drift bound)");
    assert.equal(tip.height, 6);
    assert.equal(await s.metric("timenet_store_held_blocks"), 0);
    assert.equal(await s.metric("timenet_store_hold_total", { result: "released" }), 1);
    assert.equal(await s.metric("timenet_store_validation_failures_total"), 0);
  });
});

describe("a fork kept aside, then offered again whole", () => {
  let s: TestStore;
  before(async () => {
    s = await startTestStore({ network: SHALLOW });
  });
  after(() => s?.stop());

  test("its blocks leave the side index when they join the main chain, so pruning never deletes a main-chain block", async () => {
    const main = buildChain(GENESIS, 10);
    assert.equal((await s.client.putBlocks({ blocks: main })).result, PutResult.APPLIED);
    const lighter = buildChain(endOf(main[6]!), 2, { salt: "x" }); // 8, 9: weight 2 against 3
    assert.equal((await s.client.putBlocks({ blocks: lighter })).result, PutResult.FORK_NOT_PREFERRED);
    assert.equal(s.handle.store.sideBranches.blocks, 2);
    // The whole fork again, two blocks longer: now preferred; the replaced 8..10 go aside instead.
    const whole = [...lighter, ...buildChain(endOf(lighter[1]!), 2, { salt: "x" })];
    assert.equal((await s.client.putBlocks({ blocks: whole })).result, PutResult.APPLIED);
    assert.equal(s.handle.store.sideBranches.blocks, 3);
    // Far past finality: the side blocks go, the main chain stays whole.
    const tip = (await s.client.getBlock({ by: { case: "height", value: 11 } })).block!;
    assert.equal((await s.client.putBlocks({ blocks: buildChain(endOf(tip), 12, { salt: "y" }) })).result, PutResult.APPLIED);
    assert.equal(s.handle.store.sideBranches.blocks, 0);
    for (let h = 1; h <= 23; h++) assert.ok((await s.client.getBlock({ by: { case: "height", value: h } })).block, `main-chain block ${h} is stored`);
    assert.equal(hex((await s.client.getBlock({ by: { case: "height", value: 8 } })).block!), hex(lighter[0]!));
  });
});
