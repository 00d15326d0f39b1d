import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OffenceSchema, Subjects } from "@timenet/proto";
import { blockHash, DEVNET } from "@timenet/chain";
import type { ChainSync } from "../src/chain-sync.js";
import { waitFor } from "@timenet/testkit";
import { answerInPlaceOfStore, buildChain, dialClaiming, nodePool, putChain, waitHeight } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

/**
 * Blocks of ~16 KiB from a store that serves one GetBlocks of a peer at a
 * time (the rest answered Blocks.busy, no blocks), at most 256 KiB an answer
 * (~15 blocks: answers cut short), 1 MiB at once (the least SERVE_PEER_BURST
 * may be, ~63 blocks) and then 64 KiB/s: one block every 250 ms. The chain is
 * ~1.25 MiB, so its last ~15 blocks come at that rate. A budget refills one
 * block per 250 ms and an answer leaves less than one block in it, so an ask
 * that follows an answer within ~250 ms, as the worker's next ask does, is
 * answered busy unless the round trip alone took that long: busy answers do
 * not depend on the machine's speed (with 1 KiB blocks, 16 ms a block, a
 * loaded CI run saw none). Batches of 20 and four at a time share the one
 * budget: each meets busy answers while the peer serves the others.
 */
const CHAIN = buildChain(DEVNET.genesis.header!, 80, { txBytes: 16_000 });
const tipHex = (n: number) => Buffer.from(blockHash(CHAIN[n - 1]!.header!)).toString("hex");
const ip = (k: number) => ({ ip: `127.0.13.${k}` });
const LIMITED = { SERVE_QUEUE_PER_PEER: "1", SERVE_MAX_BYTES: "256KiB", SERVE_PEER_BURST: "1MiB", SERVE_PEER_RATE: "64KiB" };
// replanAfterMs: the default, not the harness's 3 s: a tip waiting on a 4-blocks/s peer is not a stall to plan again.
const SYNC = { concurrency: 4, batchSize: 20, replanAfterMs: 60_000 };

/** A counter of the replicas, summed by its `result` label. */
async function byResult(syncs: readonly ChainSync[], metric: string): Promise<Map<string, number>> {
  const sums = new Map<string, number>();
  for (const s of syncs) {
    const m = (await s.registry.getMetricsAsJSON()).find((x) => x.name === metric);
    for (const v of m?.values ?? []) sums.set(String(v.labels.result), (sums.get(String(v.labels.result)) ?? 0) + v.value);
  }
  return sums;
}

/** GetBlocks answered with `result` (busy, short, blocks...), over the replicas. */
async function fetches(syncs: readonly ChainSync[], result: string, metric = "timenet_sync_fetches_total"): Promise<number> {
  return (await byResult(syncs, metric)).get(result) ?? 0;
}

describe("answers cut short by a peer's serving limits", () => {
  test("from the only peer, busy and short answers still complete every batch from that peer, and nobody is blamed", async (t) => {
    const source = await node(0, { ...ip(201), storeEnv: LIMITED });
    await putChain(source, CHAIN);
    const c = await node(0, ip(202));
    const offences: string[] = [];
    c.bus.subscribe(Subjects.offence, OffenceSchema, (off) => void offences.push(`${off.ip} ${off.kind}`));
    await c.startSync(SYNC);
    const t0 = performance.now();
    await c.dial(source);
    await waitHeight(c, CHAIN.length, 60_000);
    t.diagnostic(`synced in ${Math.round(performance.now() - t0)} ms`);
    assert.equal(await c.tipHash(), tipHex(CHAIN.length));
    // The limits did cut answers (the chain outgrows the burst): otherwise this test proves nothing.
    const [busy, short] = [await fetches(c.syncs, "busy"), await fetches(c.syncs, "short")];
    for (const name of ["timenet_sync_batches_total", "timenet_sync_fetches_total", "timenet_sync_puts_total"]) {
      t.diagnostic(`${name} ${JSON.stringify([...(await byResult(c.syncs, name))])}`);
    }
    t.diagnostic(`busy ${busy}, short ${short}, batches handed on for busy ${await fetches(c.syncs, "busy", "timenet_sync_batches_total")}`);
    assert.ok(short > 0, "the source cut answers short");
    assert.ok(busy > 0, "the source answered busy at least once");
    // Asked again in the worker, never sent to the queue's tail (behind every batch planned since) to wait for the same peer.
    assert.equal(await fetches(c.syncs, "busy", "timenet_sync_batches_total"), 0, "no batch left its worker for busy");
    assert.deepEqual(offences, [], "a peer at its serving limit is never reported");
  });

  test("with a limited peer and an unlimited one, two workers complete the range, and the limited one is not blamed", async () => {
    const limited = await node(0, { ...ip(203), storeEnv: LIMITED });
    const open = await node(0, ip(204));
    await putChain(limited, CHAIN);
    await putChain(open, CHAIN);
    const c = await node(0, ip(205));
    const offences: string[] = [];
    c.bus.subscribe(Subjects.offence, OffenceSchema, (off) => void offences.push(`${off.ip} ${off.kind}`));
    await c.startSync(SYNC);
    await c.startSync(SYNC);
    // The limited peer alone until its limits have cut an answer (eight requests in flight to a
    // one-at-a-time server surely do), so the open peer joins a sync the limited one is part of.
    // Dialling both at once left it to chance whether the limited peer was ever asked twice at once.
    await c.dial(limited);
    await waitFor(async () => (await fetches(c.syncs, "busy")) + (await fetches(c.syncs, "short")) > 0, {
      timeoutMs: 30_000,
      message: "the limited peer cuts an answer short while it is the only peer",
    });
    await c.dial(open);
    await waitHeight(c, CHAIN.length, 60_000);
    assert.equal(await c.tipHash(), tipHex(CHAIN.length));
    assert.deepEqual(offences, [], "nobody is reported");
  });

  test("a peer that claims a longer chain and answers every GetBlocks busy does not hold the sync: the honest peer's chain arrives, the liar is asked at a bounded rate, nobody is blamed", async (t) => {
    const honest = await node(0, ip(206));
    await putChain(honest, CHAIN);
    const l = await node(0, ip(207));
    // The liar's store is stopped (it would answer, and say its real height); its gateway's Hello claims
    // 10,000 blocks past the real chain, and every GetBlocks it is asked is answered busy: no block, ever.
    const claimed = CHAIN.length + 10_000;
    const asks: Array<{ at: number; from: number }> = [];
    await answerInPlaceOfStore(
      l,
      (q) => {
        asks.push({ at: performance.now(), from: q.fromHeight });
        q.busy();
      },
      claimed,
    );

    const c = await node(0, ip(208));
    const offences: string[] = [];
    c.bus.subscribe(Subjects.offence, OffenceSchema, (off) => void offences.push(`${off.ip} ${off.kind}`));
    await c.startSync(SYNC);
    await c.startSync(SYNC);
    // The liar first: every batch is planned while it is the only peer, and it is the best claim throughout.
    await dialClaiming(c, l, claimed);
    const t0 = performance.now();
    await c.dial(honest);
    await waitHeight(c, CHAIN.length, 60_000);
    const syncedMs = performance.now() - t0;
    assert.equal(await c.tipHash(), tipHex(CHAIN.length));

    // Caught up: from here on only the lie is left to fetch, and only the liar claims it. Its asks are
    // bounded by the busy rule: a batch met by busy answers without progress is handed back after
    // MAX_BUSY_TRIES, the pauses between its asks growing from 50 ms to 400 ms.
    const from = performance.now();
    await new Promise((r) => setTimeout(r, 3_000));
    const late = asks.filter((a) => a.at >= from);
    const perSecond = late.length / ((performance.now() - from) / 1000);
    // The same batch (its first height) asked again: never sooner than the first pause, 50 ms. Without the
    // pause a busy liar is asked again one loopback round trip later, a few ms, for as long as it likes.
    const last = new Map<number, number>();
    let closest = Infinity;
    for (const a of late) {
      const before = last.get(a.from);
      if (before !== undefined) closest = Math.min(closest, a.at - before);
      last.set(a.from, a.at);
    }
    const handedOn = await fetches(c.syncs, "busy", "timenet_sync_batches_total");
    t.diagnostic(`synced in ${Math.round(syncedMs)} ms; the liar was asked ${asks.length} times, ${perSecond.toFixed(1)}/s once caught up, the same batch again after ${Math.round(closest)} ms at the soonest; ${handedOn} batches handed on for busy`);
    assert.ok(late.length > 0 && closest < Infinity, "the lie was still being asked about (else the pause is not tested)");
    assert.ok(closest >= 45, `a batch was asked of the busy liar again after ${closest.toFixed(1)} ms`);
    assert.ok(handedOn > 0, "batches the liar held were handed on (else this test proves nothing about the rule)");
    assert.ok(syncedMs < 30_000, `synced in ${Math.round(syncedMs)} ms`);
    // Busy proves nothing: neither the liar nor the honest peer is reported.
    assert.deepEqual(offences, [], "no offence for busy answers");
    assert.equal((await c.gatewayGrpc.listConnections({})).connections.filter((x) => x.ip === honest.ip || x.ip === l.ip).length, 2, "both links still open");
  });
});
