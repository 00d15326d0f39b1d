import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OffenceSchema, Subjects } from "@timenet/proto";
import { blockHash, DEVNET } from "@timenet/chain";
import type { ChainSync } from "../src/chain-sync.js";
import { waitFor } from "@timenet/testkit";
import { buildChain, nodePool, putChain, waitHeight } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

const CHAIN = buildChain(DEVNET.genesis.header!, 1_200);
const tipHex = (n: number) => Buffer.from(blockHash(CHAIN[n - 1]!.header!)).toString("hex");
const ip = (k: number) => ({ ip: `127.0.13.${k}` });

/**
 * A store that serves one GetBlocks of a peer at a time (the rest answered
 * Blocks.busy, no blocks) and 1 MiB at once (the least SERVE_PEER_BURST
 * may be) then 64 KiB/s (answers cut short, then busy): its serving
 * limits, not its chain, cut the answers. The chain is ~1.26 MiB: the
 * part beyond the burst takes ~4 s to refill, and a re-ask that comes
 * within ~16 ms of a drained budget (one block's refill) is answered busy.
 * At 256 KiB/s (4 ms a block) a fast run never found the budget empty: no
 * busy answer in CI on 2026-12-02, only short ones; at 96 KiB/s CI saw 1 to 3.
 * A 128-block batch meets dozens of busy answers at 64 KiB/s, each followed by
 * a few blocks: MAX_BUSY_TRIES bounds busy answers in a row, so it stays.
 */
const LIMITED = { SERVE_QUEUE_PER_PEER: "1", SERVE_MAX_BYTES: "256KiB", SERVE_PEER_BURST: "1MiB", SERVE_PEER_RATE: "64KiB" };

/** GetBlocks answered with `result` (busy, short, blocks...), over the replicas. */
async function fetches(syncs: readonly ChainSync[], result: string, metric = "timenet_sync_fetches_total"): Promise<number> {
  let n = 0;
  for (const s of syncs) {
    const m = (await s.registry.getMetricsAsJSON()).find((x) => x.name === metric);
    n += m?.values.filter((v) => v.labels.result === result).reduce((a, v) => a + v.value, 0) ?? 0;
  }
  return n;
}

describe("answers cut short by a peer's serving limits", () => {
  test("from the only peer, busy and short answers still complete every batch from that peer, and nobody is blamed", async (t) => {
    const source = await node(0, { ...ip(201), storeEnv: LIMITED });
    await putChain(source, CHAIN);
    const c = await node(0, ip(202));
    const offences: string[] = [];
    c.bus.subscribe(Subjects.offence, OffenceSchema, (off) => void offences.push(`${off.ip} ${off.kind}`));
    await c.startSync({ concurrency: 4 });
    await c.dial(source);
    await waitHeight(c, CHAIN.length, 60_000);
    assert.equal(await c.tipHash(), tipHex(CHAIN.length));
    // The limits did cut answers (the chain outgrows the burst): otherwise this test proves nothing.
    const [busy, short] = [await fetches(c.syncs, "busy"), await fetches(c.syncs, "short")];
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
    await c.startSync({ concurrency: 4 });
    await c.startSync({ concurrency: 4 });
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
});
