import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { blockHash, DEVNET, networkFileJson, withLimits } from "@timenet/chain";
import { tempDir, waitFor } from "@timenet/testkit";
import { fromBinary } from "@bufbuild/protobuf";
import { Buckets, ConnectionStateSchema, PeerMessageSchema, StateKeys, Subjects, type Block } from "@timenet/proto";
import { StateBucket } from "@timenet/bus";
import { CHAIN_SYNC_DEFAULTS } from "../src/options.js";
import { openWorkQueue } from "../src/work-queue.js";
import { buildChain, nodePool, putChain, signedBranch, startSyncProcess, waitHeight } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

const CHAIN = buildChain(DEVNET.genesis.header!, 2_000);
const hex = (b: Block) => Buffer.from(blockHash(b.header!)).toString("hex");

async function storeMetric(url: string, pattern: RegExp): Promise<number> {
  const m = pattern.exec(await (await fetch(url)).text());
  return m ? Number(m[1]) : 0;
}

describe("resilience", () => {
  test("killing a chain-sync worker mid-run loses no batch", async () => {
    const a = await node(170);
    await putChain(a, CHAIN);
    const c = await node(171);
    await c.dial(a);
    // One replica is a real process we can kill -9; the other runs in-process.
    const victim = await startSyncProcess(c, "victim", { SYNC_ACK_WAIT: "3s", SYNC_LEASE_TTL: "1s", SYNC_MAX_WAIT: "3s", SYNC_REPLAN_AFTER: "3s" });
    const survivor = await c.startSync();
    await waitFor(async () => (await c.height()) >= 300, { timeoutMs: 60_000, message: "sync under way" });
    await victim.kill(); // mid-run: its taken batches are never acknowledged
    await waitHeight(c, 2_000, 90_000);
    assert.equal(await c.tipHash(), hex(CHAIN.at(-1)!));
    // The survivor holds the planner lease now (it took over within the TTL if the victim had it).
    await waitFor(() => survivor.isPlanner(), { message: "survivor plans" });
  });

  test("SIGTERM while a fetch hangs: the process exits 0 within 3 s and its batches are handed back at once, not after the ack wait", async (t) => {
    // The source's gateway completes the handshake (claiming 256) but nothing answers its GetBlocks: its store is stopped.
    const s = await node(179);
    await putChain(s, CHAIN.slice(0, 256));
    await s.storeProcess.stop();
    const asked = new Promise<void>((resolve) => s.bus.subscribe(Subjects.peerIn("get_blocks"), PeerMessageSchema, () => resolve()));
    await s.bus.flush();
    const c = await node(180);
    await c.dial(s);
    await waitFor(async () => (await c.gatewayGrpc.listConnections({})).connections.some((x) => x.ip === s.ip && x.bestHeight === 256), { message: "connected to the source" });
    const worker = await startSyncProcess(c, "stopping", { SYNC_REQUEST_TIMEOUT: "20s", SYNC_ACK_WAIT: "30s" });
    await asked; // a GetBlocks is in flight, and will not be answered for 20 s
    const stopAt = Date.now();
    const exit = await worker.stop(5_000); // SIGTERM; SIGKILL after 5 s
    const stoppedIn = Date.now() - stopAt;
    t.diagnostic(`exited ${stoppedIn} ms after SIGTERM`);
    assert.equal(exit, 0, "exit code");
    assert.ok(stoppedIn < 3_000, `stopped in ${stoppedIn} ms`);
    // A second worker gets a batch at once, and it is one the first had taken (a redelivery).
    const queue = await openWorkQueue(c.bus.connection, { ackWaitMs: 30_000, maxPendingBatches: CHAIN_SYNC_DEFAULTS.maxPendingBatches });
    const msg = await queue.consumer.next({ expires: 2_000 });
    assert.ok(msg, "a batch is there for the next worker");
    assert.equal(msg.redelivered, true);
    t.diagnostic(`a batch redelivered ${Date.now() - stopAt} ms after SIGTERM`);
    assert.ok(Date.now() - stopAt < 5_000, "well within the 30 s ack wait");
    msg.nak();
  });

  test("a node whose NATS starts again without its store (its volume lost) follows again: the work queue and the lease bucket are declared again", async () => {
    // Fresh blocks: a gateway announces only a tip younger than ANNOUNCE_MAX_AGE (60 s); the last one 10 s old when made.
    const n = 40;
    const fresh = signedBranch(DEVNET.genesis.header!, Array.from({ length: n }, (_, i) => (i + 1) % 3), { salt: "store-lost", firstTimestampMs: BigInt(Date.now() - (n + 2) * DEVNET.blockIntervalMs) });
    const a = await node(190);
    await putChain(a, fresh.slice(0, n / 2));
    const c = await node(191);
    await c.dial(a);
    const sync = await c.startSync();
    await waitHeight(c, n / 2);
    // Every stream is gone: the batches' work queue, the planner lease's bucket, the gateway's connection set.
    await c.nats.restart({ emptyStore: true });
    const restored = async (what: string) => new RegExp(`^timenet_sync_nats_state_restored_total\\{what="${what}"\\} [1-9]`, "m").test(await sync.registry.metrics());
    await waitFor(async () => (await restored("work_queue_stream")) && (await restored("lease_bucket")), { timeoutMs: 20_000, message: "the work queue and the lease bucket declared again, and counted" });
    // a's new tip is announced to c, whose planner queues the batch and whose worker fetches it. Before, the lease
    // could never be taken again and no batch queued: the node stayed where it was for good.
    await putChain(a, fresh.slice(n / 2));
    await waitHeight(c, n, 30_000);
    assert.equal(await c.tipHash(), hex(fresh[n - 1]!));
  });

  test("a replica that starts after a peer announced its blocks knows them from the gateway's state: the node catches up with no new announcement", async () => {
    // Fresh blocks, so that a's gateway announces them; all made before c's chain-sync exists.
    const n = 20;
    const fresh = signedBranch(DEVNET.genesis.header!, Array.from({ length: n }, (_, i) => (i + 1) % 3), { salt: "announced-state", firstTimestampMs: BigInt(Date.now() - (n + 2) * DEVNET.blockIntervalMs) });
    const a = await node(197);
    const c = await node(198);
    await c.dial(a);
    await waitFor(async () => (await c.gatewayGrpc.listConnections({})).connections.length === 1, { message: "c linked to a" });
    // a's blocks come after the Hellos: c hears of them only as announcements, which nobody on c's NATS takes now.
    await putChain(a, fresh);
    await waitFor(async () => (await c.gatewayGrpc.listConnections({})).connections[0]?.bestHeight === n, { message: "c's gateway heard a's announcement" });
    const link = (await c.gatewayGrpc.listConnections({})).connections[0]!;
    assert.equal(await c.height(), 0);
    // Started now, chain-sync reads the connection set: a's Hello says 0, its announcement (kept in its entry) says 20.
    const entries = await StateBucket.follow(c.bus, Buckets.connections);
    const entry = () => entries.get(StateKeys.connection(a.ip), (v) => fromBinary(ConnectionStateSchema, v));
    await waitFor(async () => (await entry())?.announcedHeight === n, { message: "the announcement written into a's entry" });
    await c.startSync();
    await waitHeight(c, n, 15_000);
    assert.equal(await c.tipHash(), hex(fresh[n - 1]!));
    // Nothing new was announced meanwhile, and the link is the one it was.
    assert.equal(await a.height(), n);
    const now = (await c.gatewayGrpc.listConnections({})).connections[0]!;
    assert.deepEqual([now.connId, now.connectedSinceMs], [link.connId, link.connectedSinceMs]);
  });

  test("a reorg of depth 3 to a longer chain switches; a fork deeper than the limit is refused", async () => {
    const main50 = CHAIN.slice(0, 50);
    const a = await node(172);
    await putChain(a, main50);
    // A fork off block 47: heights 48'..53', longer than 50.
    const fork = [...CHAIN.slice(0, 47), ...buildChain(CHAIN[46]!.header!, 6, { salt: "fork" })];
    const f = await node(173);
    await putChain(f, fork);
    const c = await node(174);
    await c.startSync();
    await c.dial(a);
    await waitHeight(c, 50);
    assert.equal(await c.tipHash(), hex(main50.at(-1)!));
    await c.dial(f);
    await waitFor(async () => (await c.tipHash()) === hex(fork.at(-1)!), { timeoutMs: 30_000, message: "switched to the longer fork" });
    assert.equal(await c.height(), 53);
    assert.equal(await storeMetric(c.storeMetricsUrl, /timenet_store_reorgs_total\{result="switched"\} (\d+)/), 1);

    // A devnet whose max_reorg_depth is 5: a longer fork off block 40 (depth 10) is refused.
    const deep = [...CHAIN.slice(0, 40), ...buildChain(CHAIN[39]!.header!, 15, { salt: "deep" })];
    const g = await node(175);
    await putChain(g, deep);
    const dir = await tempDir("net-");
    after(() => dir.remove());
    const shallow = `${dir.path}/devnet-depth-5.json`;
    writeFileSync(shallow, networkFileJson(withLimits(DEVNET, { maxReorgDepth: 5 })));
    const d = await node(176, { network: shallow });
    await d.startSync();
    await d.dial(a);
    await waitHeight(d, 50);
    await d.dial(g);
    await waitFor(async () => (await storeMetric(d.storeMetricsUrl, /timenet_store_reorgs_total\{result="too_deep"\} (\d+)/)) >= 1, {
      timeoutMs: 30_000,
      message: "deep fork refused",
    });
    assert.equal(await d.tipHash(), hex(main50.at(-1)!), "still on its own chain");
  });
});
