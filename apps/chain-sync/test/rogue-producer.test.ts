// A rogue producer (it holds producer key 2 of 3) against two honest nodes
// whose real producers hold keys 0 and 1: real gateways, stores, chain-sync
// and producers, on a devnet whose block interval is 300 ms. The rogue builds
// private branches signed by its key alone, as fast as the schedule lets it
// (each block at the earliest timestamp its rank allows), from 50 and 10
// blocks below the honest tip and from the tip itself, and releases them (it
// announces them and serves them to GetBlocks, at most max_future_drift_ms
// ahead of the clock, the most any node would apply). The honest nodes must
// never take a block of a branch from below the tip for their tip (from the
// tip, the rogue's block at its own turn is a valid next block whenever the
// honest producers are late), must keep their side-branch store under its
// cap, and report the rogue (and only the rogue).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { blockHash, DEVNET, devnetProducerKey, hashHex, networkFileJson, rankAt, signBlock, withLimits } from "@timenet/chain";
import { ChainTipSchema, OffenceKind, OffenceSchema, Subjects, type Block, type BlockHeader } from "@timenet/proto";
import { tempDir, waitFor } from "@timenet/testkit";
import { answerInPlaceOfStore, buildChain, FAST, nodePool, putChain, signedBranch, startProducerProcess, waitHeight, type SyncNode } from "./harness.js";

const I = 300;
// An early block is applied once it is at most this far ahead of the clock: well under an
// interval, so a stand-in's block never lands before the block of the producer whose turn came first.
const NETWORK = withLimits(DEVNET, { blockIntervalMs: I, maxFutureDriftMs: I / 3 });
const PREFIX = 60;
const ROGUE = 2;
const SIDE_MAX_BLOCKS = 64;

const { node, stopAll } = nodePool();
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await stopAll();
});

/** Blocks signed by the rogue's key alone on `parent`, each at the earliest timestamp its turn allows. */
function privateBranch(parent: BlockHeader, count: number, salt: string, params = NETWORK): Block[] {
  return signedBranch(parent, new Array<number>(count).fill(ROGUE), { salt, params });
}

/**
 * The rogue's node: a real gateway whose GetBlocks are answered from the
 * honest chain up to the fork point and the private branch above it, as far
 * as the clock lets the branch be applied anywhere; its tip is announced
 * every interval.
 */
async function releaseBranch(rogue: SyncNode, honest: Block[], branch: Block[]): Promise<{ stop(): void }> {
  const fork = branch[0]!.header!.height - 1;
  const released = () => branch.filter((b) => Number(b.header!.timestampMs) <= Date.now() + NETWORK.maxFutureDriftMs);
  const at = (h: number): Block | undefined => (h <= fork ? honest[h - 1] : released()[h - fork - 1]);
  const sub = await answerInPlaceOfStore(rogue, (q) => {
    const blocks: Block[] = [];
    for (let h = q.fromHeight; h < q.fromHeight + Math.min(q.count, 256); h++) {
      const b = at(h);
      if (!b) break;
      blocks.push(b);
    }
    q.answer(blocks);
  });
  const announce = () => {
    const top = released().at(-1);
    if (!top) return;
    const h = top.header!;
    rogue.bus.publish(Subjects.chainTip, ChainTipSchema, { height: h.height, hash: blockHash(h), timestampMs: h.timestampMs, genesisHash: NETWORK.genesisHash, header: h });
  };
  const timer = setInterval(announce, I);
  announce();
  return {
    stop() {
      clearInterval(timer);
      sub.unsubscribe();
    },
  };
}

describe("a rogue producer's private branches", () => {
  test("from 50 and 10 blocks back and from the tip: no honest node ever takes a branch from below the tip, side branches stay capped, only the rogue is reported", async (t) => {
    const dir = await tempDir("rogue-");
    cleanups.push(() => dir.remove());
    const networkFile = join(dir.path, "devnet-120ms.json");
    writeFileSync(networkFile, networkFileJson(NETWORK));
    const storeEnv = { STORE_SIDE_MAX_BLOCKS: String(SIDE_MAX_BLOCKS) };
    // The chain so far, made by all three in turn (the rogue too, while it was honest), ending now.
    const prefix: Block[] = [];
    let parent = NETWORK.genesis.header!;
    const start = BigInt(Date.now() - (PREFIX + 1) * I);
    for (let height = 1; height <= PREFIX; height++) {
      const b = signBlock({ height, prevHash: blockHash(parent), timestampMs: start + BigInt(height * I), txs: [Buffer.from(`prefix ${height}`)] }, devnetProducerKey(height % 3));
      prefix.push(b);
      parent = b.header!;
    }
    const [h1, h2, r1, r2, r3] = await Promise.all([180, 181, 182, 183, 184].map((k) => node(k, { network: networkFile, storeEnv })));
    const honest = [h1!, h2!];
    const rogues = [r1!, r2!, r3!];
    // The rogue nodes answer GetBlocks themselves (their stores would serve honestly).
    await Promise.all(rogues.map((r) => r.storeProcess.stop()));

    // Everything the honest nodes take for their tip, and every offence they report.
    const tips = honest.map(() => new Set<string>());
    const offences: Array<{ ip: string; kind: number }> = [];
    honest.forEach((h, i) => {
      h.bus.subscribe(Subjects.chainTip, ChainTipSchema, (t) => void tips[i]!.add(hashHex(t.hash)));
      h.bus.subscribe(Subjects.offence, OffenceSchema, (o) => void offences.push({ ip: o.ip, kind: o.kind }));
    });

    await putChain(h1!, prefix);
    await putChain(h2!, prefix);
    for (const h of honest) await h.startSync(FAST);
    await h1!.dial(h2!);
    const producers = await Promise.all(honest.map((h, i) => startProducerProcess(h, i, networkFile)));
    cleanups.push(() => Promise.all(producers.map((p) => p.stop())));

    const height = async (n: SyncNode) => (await n.store.getTip({})).tip!.height;
    const chainOf = async (n: SyncNode) => {
      const out: Block[] = [];
      for await (const r of n.store.getBlocks({ fromHeight: 1, count: 100_000 })) out.push(r.block!);
      return out;
    };

    // The branches from below the tip can never outweigh the honest chain: none of their blocks may ever be a tip.
    // The branch from the tip is different: at the rogue's own turn its first block is a valid next block, and an
    // honest producer late by more than its lead (a stall on a loaded machine) makes it the next block of the chain,
    // which every node must then accept. That branch is only counted (see below), not refused.
    const rogueBlocks = new Set<string>();
    const rogueAtTip = new Set<string>();
    const releases: Array<{ stop(): void }> = [];
    cleanups.push(async () => releases.forEach((r) => r.stop()));
    const release = async (rogue: SyncNode, back: number, chain?: Block[]) => {
      chain ??= await chainOf(h1!);
      const fork = chain[chain.length - 1 - back]!.header!;
      const branch = privateBranch(fork, 400, `rogue from ${back} back`);
      for (const b of branch) (back === 0 ? rogueAtTip : rogueBlocks).add(hashHex(blockHash(b.header!)));
      releases.push(await releaseBranch(rogue, chain, branch));
      for (const h of honest) {
        await h.dial(rogue);
      }
    };
    await release(rogues[0]!, 50);
    await waitFor(async () => (await height(h1!)) >= PREFIX + 5, { timeoutMs: 30_000, intervalMs: 50, message: "5 honest blocks more" });
    await release(rogues[1]!, 10);
    await waitFor(async () => (await height(h1!)) >= PREFIX + 10, { timeoutMs: 30_000, intervalMs: 50, message: "10 honest blocks more" });
    // From the tip, at a tip whose next height an honest producer may make before the rogue (at
    // the rogue's own first turn, its block is simply the next block of the chain).
    let atTip: Block[] | undefined;
    await waitFor(
      async () => {
        const chain = await chainOf(h1!);
        const tip = chain.at(-1)!.header!;
        const next = tip.height + 1;
        const waits = [0, 1].map((i) => (hashHex(tip.producerId) === hashHex(NETWORK.producers[i]!) ? NETWORK.producers.length : rankAt(next, i, NETWORK)));
        if (rankAt(next, ROGUE, NETWORK) > Math.min(...waits)) atTip = chain;
        return atTip !== undefined;
      },
      { intervalMs: 10, message: "a tip where an honest producer goes first" },
    );
    await release(rogues[2]!, 0, atTip);
    await waitFor(async () => (await height(h1!)) >= PREFIX + 20, { timeoutMs: 30_000, intervalMs: 50, message: "20 honest blocks more" });

    // Never a block of a branch from below the tip as an honest node's tip, nor on its main chain now.
    for (const [i, seen] of tips.entries()) {
      const taken = [...seen].filter((h) => rogueBlocks.has(h));
      assert.deepEqual(taken, [], `honest node ${i + 1} took rogue blocks for its tip`);
      t.diagnostic(`honest node ${i + 1} took ${[...seen].filter((h) => rogueAtTip.has(h)).length} blocks of the branch from the tip for its tip (only when its honest producers were late)`);
    }
    const [c1, c2] = await Promise.all(honest.map(chainOf));
    for (const chain of [c1!, c2!]) assert.equal(chain.filter((b) => rogueBlocks.has(hashHex(blockHash(b.header!)))).length, 0);
    t.diagnostic(`blocks of the branch from the tip on the honest chains: ${[c1!, c2!].map((c) => c.filter((b) => rogueAtTip.has(hashHex(blockHash(b.header!)))).length).join(", ")}`);
    // The honest nodes follow each other: within a block of each other once a loaded machine lets the slower one catch up.
    let heights = [c1!.length, c2!.length];
    await waitFor(
      async () => {
        heights = await Promise.all(honest.map(height));
        return Math.abs(heights[0]! - heights[1]!) <= 1;
      },
      { timeoutMs: 20_000, intervalMs: 50, message: () => `honest heights ${heights.join(" and ")}` },
    );

    // What the honest stores kept aside stays within the cap.
    let offered = 0;
    for (const h of honest) {
      const metrics = await (await fetch(h.storeMetricsUrl)).text();
      const value = (name: string, labels = "") => Number(new RegExp(`^${name}${labels.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(metrics)?.[1] ?? 0);
      offered += value("timenet_store_reorgs_total", '{result="not_preferred"}');
      // A switch itself is no failure: the two honest producers, 300 ms apart, can still make one height twice
      // under load and settle it by the fork choice. A switch to a rogue branch would have made a rogue block a
      // tip (published on chain.tip at every change), which the checks above refuse.
      assert.ok(value("timenet_store_side_blocks") <= SIDE_MAX_BLOCKS, `side blocks ${value("timenet_store_side_blocks")}`);
      assert.ok(value("timenet_store_side_fill_ratio") <= 1);
    }
    assert.ok(offered >= 1, "the rogue's branches reached the honest stores and lost there");
    // Reported: the rogue's IPs only, never an honest node's.
    const honestIps = new Set(honest.map((h) => h.ip as string));
    assert.deepEqual(offences.filter((o) => honestIps.has(o.ip)), [], "no offence against an honest node");
  });
});

describe("a peer that keeps serving a branch that cannot win", () => {
  test("is reported as LOSING_BRANCH after a few batches; the honest peer is not, and our chain stays", async () => {
    const honestChain = buildChain(DEVNET.genesis.header!, 60);
    // The rogue's chain: the same 40 blocks, then 50 of its own key alone (it claims 90 > 60).
    const rogueChain = [...honestChain.slice(0, 40), ...privateBranch(honestChain[39]!.header!, 50, "lone", DEVNET)];
    const a = await node(185);
    const r = await node(186);
    await putChain(a, honestChain);
    await putChain(r, rogueChain);
    const c = await node(187);
    const offences: Array<{ ip: string; kind: number }> = [];
    c.bus.subscribe(Subjects.offence, OffenceSchema, (o) => void offences.push({ ip: o.ip, kind: o.kind }));
    await c.startSync(FAST);
    await c.dial(a);
    await waitHeight(c, 60);
    await c.dial(r);
    await waitFor(() => offences.some((o) => o.ip === r.ip && o.kind === OffenceKind.LOSING_BRANCH), { timeoutMs: 40_000, message: "LOSING_BRANCH against the rogue" });
    assert.deepEqual(offences.filter((o) => o.ip === a.ip), [], "nothing against the honest peer");
    assert.equal(await c.tipHash(), hashHex(blockHash(honestChain.at(-1)!.header!)));
  });
});

