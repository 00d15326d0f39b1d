// A new block that comes with its announcement (NewBlock.block, pushed by the
// peer's gateway from its store's chain.tip) is written at once by the
// planner replica: no work queue, no GetBlocks. A pushed block is checked
// like a fetched one: a peer pushing an invalid block is reported, and the
// honest peer's block is still written.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { toBinary } from "@bufbuild/protobuf";
import { BlockSchema, ChainTipSchema, OffenceKind, OffenceSchema, Subjects, type Block } from "@timenet/proto";
import { blockHash, DEVNET } from "@timenet/chain";
import { waitFor } from "@timenet/testkit";
import type { ChainSync } from "../src/chain-sync.js";
import { nodePool, putChain, signedBranch, syncMetric, waitHeight } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

const N = 20;
/** Fresh blocks (a gateway announces only a tip younger than ANNOUNCE_MAX_AGE): the last one 15 s old when made. */
function freshChain(): Block[] {
  const producers = Array.from({ length: N }, (_, i) => (i + 1) % 3);
  return signedBranch(DEVNET.genesis.header!, producers, { salt: "pushed", firstTimestampMs: BigInt(Date.now() - (N + 2) * DEVNET.blockIntervalMs) });
}

// Only events plan (a tip moved, an announcement, a connection): the 100 ms tick of FAST would fetch the
// pushed block's height too, by chance, while its put is out.
const EVENTS_ONLY = { planIntervalMs: 60_000 };

describe("blocks pushed with their announcement", () => {
  test("a pushed block that extends our tip is written at once, with no GetBlocks; an invalid one is its pusher's offence, and the honest pushes still land", async () => {
    const chain = freshChain();
    const honest = await node(237);
    await putChain(honest, chain.slice(0, N - 2));
    // The liar's gateway is real; the test speaks for its store on its NATS (chain.tip is what its gateway pushes from).
    const liar = await node(238);
    await liar.storeProcess.stop();
    const b = await node(239);
    const offences: Array<{ ip: string; kind: OffenceKind; detail: string }> = [];
    b.bus.subscribe(Subjects.offence, OffenceSchema, (o) => void offences.push({ ip: o.ip, kind: o.kind, detail: o.detail }));
    await b.dial(honest);
    await b.dial(liar);
    const s = await b.startSync(EVENTS_ONLY);
    await waitHeight(b, N - 2);
    await waitFor(() => s.isPlanner(), { message: "b's replica plans" });
    // b is connected to both (its gateway's state), so both pushes reach it.
    await waitFor(async () => (await b.gatewayGrpc.listConnections({})).connections.length === 2, { message: "b connected to both peers" });
    const fetchesBefore = await syncMetric(s, "timenet_sync_fetches_total");

    // The honest peer's store takes block N-1 as its producer's put would: its gateway pushes it to b.
    await putChain(honest, [chain[N - 2]!]);
    await waitHeight(b, N - 1, 10_000);
    assert.equal(await b.tipHash(), Buffer.from(blockHash(chain[N - 2]!.header!)).toString("hex"));
    assert.equal(await syncMetric(s, "timenet_sync_pushed_blocks_total", "applied"), 1, "written from the push");
    assert.equal(await syncMetric(s, "timenet_sync_fetches_total"), fetchesBefore, "no GetBlocks for a pushed block");
    // b's own gateway does not send its new tip back to the honest peer: that peer announced it to b.
    await waitFor(async () => /timenet_gateway_new_blocks_withheld_total [1-9]/.test(await fetch(b.gatewayMetricsUrl).then((r) => r.text())), {
      message: "b withholds its new tip from the peer that pushed it",
    });

    // The liar pushes block N, extending b's tip, with its signature broken: it names its own hash, so its gateway finds it consistent.
    const real = chain[N - 1]!;
    const forged = structuredClone(real);
    forged.header!.signature = Uint8Array.from(real.header!.signature, (x, i) => (i === 0 ? x ^ 0xff : x));
    liar.bus.publish(Subjects.chainTip, ChainTipSchema, {
      height: N,
      hash: blockHash(forged.header!),
      timestampMs: forged.header!.timestampMs,
      genesisHash: DEVNET.genesisHash,
      header: forged.header,
      block: toBinary(BlockSchema, forged),
    });
    await waitFor(() => offences.some((o) => o.ip === liar.ip), { message: "the liar's pushed block reported" });
    const offence = offences.find((o) => o.ip === liar.ip)!;
    assert.equal(offence.kind, OffenceKind.INVALID_BLOCK);
    assert.match(offence.detail, new RegExp(`pushed block ${N} invalid`));
    assert.equal(await syncMetric(s, "timenet_sync_pushed_blocks_total", "invalid"), 1);
    assert.equal(await b.height(), N - 1, "nothing of the forged block was written");

    // The honest block N still lands (pushed, or fetched by the plan the failed push started).
    await putChain(honest, [real]);
    await waitHeight(b, N, 10_000);
    assert.equal(await b.tipHash(), Buffer.from(blockHash(real.header!)).toString("hex"));
    assert.ok(!offences.some((o) => o.ip === honest.ip), "the honest peer is never reported");
  });

  test("beyond the push fan-out a peer gets the announcement alone and fetches the block: every follower has it", async () => {
    const chain = freshChain();
    // ⌈√4⌉ = 2 of the 4 followers get the push, the fan-out of 1 being less.
    const producer = await node(230, { gatewayEnv: { BLOCK_PUSH_FANOUT: "1" } });
    await putChain(producer, chain.slice(0, N - 2));
    const followers = await Promise.all([231, 232, 233, 234].map((k) => node(k)));
    const syncs: ChainSync[] = [];
    for (const f of followers) {
      await f.dial(producer);
      syncs.push(await f.startSync(EVENTS_ONLY));
    }
    for (const [i, f] of followers.entries()) {
      await waitHeight(f, N - 2);
      await waitFor(() => syncs[i]!.isPlanner(), { message: `${f.ip}'s replica plans` });
    }
    const fetchesBefore = await Promise.all(syncs.map((s) => syncMetric(s, "timenet_sync_fetches_total")));

    await putChain(producer, [chain[N - 2]!]);
    for (const f of followers) await waitHeight(f, N - 1, 10_000);
    const pushed = await Promise.all(syncs.map((s) => syncMetric(s, "timenet_sync_pushed_blocks_total", "applied")));
    const fetched = await Promise.all(syncs.map(async (s, i) => (await syncMetric(s, "timenet_sync_fetches_total")) - fetchesBefore[i]!));
    assert.deepEqual([...pushed].sort(), [0, 0, 1, 1], `two followers written from the push (${pushed.join(", ")})`);
    for (const i of [0, 1, 2, 3]) if (pushed[i] === 0) assert.ok(fetched[i]! > 0, `${followers[i]!.ip} fetched the block it was only told of`);
    const sent = await fetch(producer.gatewayMetricsUrl).then((r) => r.text());
    assert.match(sent, /timenet_gateway_new_blocks_sent_total\{how="beyond_fanout"\} 2\b/);
  });
});
