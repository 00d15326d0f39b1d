import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ChainSyncService, OffenceKind, OffenceSchema, Subjects, type Block } from "@timenet/proto";
import { blockHash, DEVNET } from "@timenet/chain";
import { createGrpcClient } from "@timenet/grpc";
import { waitFor } from "@timenet/testkit";
import { CHAIN_SYNC_DEFAULTS } from "../src/options.js";
import { answerInPlaceOfStore, buildChain, nodePool, putChain, waitHeight } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

const CHAIN = buildChain(DEVNET.genesis.header!, 2_000);
const TIP = CHAIN.at(-1)!;
const tipHex = (b: Block) => Buffer.from(blockHash(b.header!)).toString("hex");

describe("catch-up", () => {
  test("a node at height 0 catches up 2,000 blocks from two peers, with two workers, to the same chain", async () => {
    const a = await node(160);
    const b = await node(161);
    await putChain(a, CHAIN);
    await putChain(b, CHAIN);
    const c = await node(162);
    await c.startSync();
    await c.startSync();
    await c.dial(a);
    await c.dial(b);
    const started = Date.now();
    await waitHeight(c, 2_000, 90_000);
    assert.equal(await c.tipHash(), tipHex(TIP));
    // Both replicas did work, and exactly one planned.
    assert.equal(c.syncs.filter((s) => s.isPlanner()).length, 1);
    const client = createGrpcClient(ChainSyncService, `127.0.0.1:${c.syncs[0]!.grpcPort}`);
    // The store's tip reaches this replica by chain.tip, not with the test's own read of the store: awaited.
    const status = await waitFor(async () => {
      const s = await client.status({});
      return s.ourHeight === 2_000 && s;
    }, { message: "replica 0 learns the store's tip" });
    client.close();
    assert.equal(status.bestPeerHeight, 2_000);
    assert.equal(status.workersSeen, 2);
    assert.ok(Date.now() - started < 90_000);
  });

  test("with one peer serving invalid blocks, the node still catches up and that peer is reported", async () => {
    const good = await node(163);
    await putChain(good, CHAIN.slice(0, 600));
    // The bad node's gateway is real; what answers its peers' GetBlocks is a
    // tampering responder in place of its block-store, and its Hello claims 600.
    const bad = await node(164);
    await answerInPlaceOfStore(
      bad,
      (q) => q.answer(CHAIN.slice(q.fromHeight - 1, q.fromHeight - 1 + Math.min(q.count, 256)).map((blk) => ({ ...blk, txs: [new Uint8Array([9, 9, 9])] }))),
      CHAIN[599]!.header!,
    );
    const c = await node(165);
    const offences: Array<{ ip: string; kind: OffenceKind }> = [];
    let badReported: () => void;
    const reported = new Promise<void>((r) => (badReported = r));
    c.bus.subscribe(Subjects.offence, OffenceSchema, (off) => {
      offences.push({ ip: off.ip, kind: off.kind });
      if (off.ip === bad.ip && off.kind === OffenceKind.INVALID_BLOCK) badReported();
    });
    // The bad peer first and alone, so it is surely asked (the worker picks among peers at random).
    await c.dial(bad);
    await c.startSync();
    await Promise.race([reported, new Promise((_, reject) => setTimeout(() => reject(new Error("bad peer not reported within 20 s")), 20_000).unref())]);
    // Then the honest one, with the bad one still connected.
    await c.dial(good);
    await waitHeight(c, 600, 60_000);
    assert.equal(await c.tipHash(), tipHex(CHAIN[599]!));
    assert.ok(!offences.some((o) => o.ip === good.ip), "the honest peer is never reported");
  });

  test("a peer whose store serves fewer blocks per answer than a batch is asked for the rest at once: no replan wait, no offence", async (t) => {
    const source = await node(177, { storeEnv: { SERVE_MAX_BLOCKS: "16" } });
    await putChain(source, CHAIN.slice(0, 1_000));
    const c = await node(178);
    const offences: string[] = [];
    c.bus.subscribe(Subjects.offence, OffenceSchema, (off) => void offences.push(`${off.ip} ${off.kind}`));
    // A replan (the old way out of a short answer) is a minute away.
    await c.startSync({ batchSize: 128, replanAfterMs: CHAIN_SYNC_DEFAULTS.replanAfterMs });
    const started = Date.now();
    await c.dial(source);
    await waitHeight(c, 1_000, 10_000);
    t.diagnostic(`caught up 1,000 blocks at 16 per answer in ${Date.now() - started} ms`);
    assert.equal(await c.tipHash(), tipHex(CHAIN[999]!));
    assert.deepEqual(offences, [], "the honest peer is never reported");
  });

  test("a node with a different genesis never imports anything", async () => {
    const a = await node(166);
    await putChain(a, CHAIN.slice(0, 200));
    const file = join(tmpdir(), `othernet-${process.pid}.json`);
    // Same network name, another genesis: only the genesis check can tell them apart.
    writeFileSync(file, JSON.stringify({ name: "devnet", genesis_timestamp_ms: 1767225600001, producers: DEVNET.producers.map((p) => Buffer.from(p).toString("hex")), block_interval_ms: 5000 }));
    const other = await node(167, { network: file });
    await other.startSync();
    await other.dial(a);
    // The handshake fails on both sides (wrong genesis).
    await waitFor(async () => /timenet_gateway_handshake_failures_total\{reason="wrong_genesis"\} [1-9]/.test(await (await fetch(other.gatewayMetricsUrl)).text()), {
      message: "handshake refused for the wrong genesis",
    });
    assert.equal(await other.height(), 0);
    assert.equal((await other.gatewayGrpc.listConnections({})).connections.length, 0);
  });
});

