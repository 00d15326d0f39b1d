// Serving never starves writing: peers' GetBlocks are read and encoded in a
// worker thread, within per-peer and global byte budgets and a bounded queue,
// while PutBlocks goes on in the main thread. Real LMDB, real NATS.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import { BlockSchema, PeerMessageSchema, PutResult, Subjects, type Block } from "@timenet/proto";
import { createLogger } from "@timenet/telemetry";
import { blocksEntryBytes } from "@timenet/wire";
import { median, tempDir, waitFor } from "@timenet/testkit";
import { StoreMetrics } from "../src/metrics.js";
import { ServeThread } from "../src/serve-thread.js";
import type { BlockStoreOptions } from "../src/options.js";
import { batches, buildChain, endOf, GENESIS } from "./chain-builder.js";
import { startTestStore, type TestStore } from "./harness.js";
import { peerAsker } from "./peer-asker.js";

const UNLIMITED: Partial<BlockStoreOptions> = { servePeerRate: 1024 ** 4, servePeerBurst: 1024 ** 4, serveGlobalRate: 1024 ** 4, serveGlobalBurst: 1024 ** 4 };
const PAD = 16 * 1024;
const MiB = 1024 * 1024;

async function putAll(s: TestStore, blocks: Block[]): Promise<void> {
  for (const b of batches(blocks, 50)) assert.equal((await s.client.putBlocks({ blocks: b })).result, PutResult.APPLIED);
}

function thread(s: TestStore): ServeThread {
  assert.equal(s.handle.serving.backend.where, "worker");
  return s.handle.serving.backend as ServeThread;
}

describe("serving off the main thread", () => {
  test("PutBlocks stays fast while four peers flood GetBlocks at the gateway's rate; the reading happens in the worker, within the budgets", async () => {
    // The defaults scaled to the test NATS's 1 MiB max_payload (answers of 1 MiB, not 4): 2 MiB/s a peer, 8 MiB/s in all.
    const budgets = { servePeerRate: 2 * MiB, servePeerBurst: 4 * MiB, serveGlobalRate: 8 * MiB, serveGlobalBurst: 16 * MiB };
    const s = await startTestStore(budgets);
    try {
      const worker = thread(s).worker!;
      const served = buildChain(GENESIS, 200, { padBytes: PAD });
      await putAll(s, served);
      // Built as they are put: a fixed number ran out on a fast machine (8-block puts in under 5 ms), and
      // the loop below, bound by time, put an empty batch.
      let end = endOf(served.at(-1)!);
      const nextPut = () => {
        const blocks = buildChain(end, 8, { salt: "put" });
        end = endOf(blocks.at(-1)!);
        return blocks;
      };
      const timedPut = async (blocks: Block[]) => {
        const started = performance.now();
        assert.equal((await s.client.putBlocks({ blocks })).result, PutResult.APPLIED);
        return performance.now() - started;
      };
      const baseline: number[] = [];
      while (baseline.length < 30) baseline.push(await timedPut(nextPut()));

      // The flood: four peers, each 20 GetBlocks a second (the gateway's per-peer limit) for 256 blocks.
      let answered = 0;
      let bytes = 0;
      let requestId = 1;
      s.bus.connection.subscribe(Subjects.peerOutSend, {
        callback: (_err, m) => {
          answered++;
          bytes += m.data.length;
        },
      });
      const timers = [1, 2, 3, 4].map((peer) =>
        setInterval(
          () =>
            s.bus.publish(Subjects.peerIn("get_blocks"), PeerMessageSchema, {
              peerIp: `198.51.100.${peer}`,
              connId: peer,
              envelope: { requestId: requestId++, payload: { case: "getBlocks", value: { fromHeight: 1 + Math.floor(Math.random() * 100), count: 256 } } },
            }),
          50,
        ),
      );
      try {
        await waitFor(() => answered >= 40, { message: "the flood is answered" });
        const busyBefore = worker.performance.eventLoopUtilization();
        const [answeredBefore, bytesBefore] = [answered, bytes];
        // Long enough for the budgets' bursts to be spent: then the rates hold.
        const during: number[] = [];
        const until = performance.now() + 2_000;
        while (during.length < 30 || performance.now() < until) during.push(await timedPut(nextPut()));
        const busy = worker.performance.eventLoopUtilization(busyBefore);
        const mib = (bytes - bytesBefore) / MiB;
        assert.ok(mib >= 1, `the flood was served during the puts: ${mib.toFixed(1)} MiB in ${answered - answeredBefore} answers`);
        assert.ok(busy.active > 0, "read and encoded by the worker");
        const [b, f] = [median(baseline), median(during)];
        assert.ok(f <= 2 * b + 15, `PutBlocks median ${f.toFixed(1)} ms under the flood, ${b.toFixed(1)} ms without`);
      } finally {
        timers.forEach(clearInterval);
      }
      let limited = 0;
      for (const result of ["short", "refused"]) for (const reason of ["peer_budget", "global_budget"]) limited += await s.metric("timenet_store_serve_requests_total", { result, reason });
      assert.ok(limited > 0, "the flooders are held to the budgets");
    } finally {
      await s.stop();
    }
  });

  test("a crashed worker is restarted and counted; every request is answered meanwhile, none lost", async () => {
    const s = await startTestStore();
    try {
      await putAll(s, buildChain(GENESIS, 20));
      const peers = await peerAsker(s.bus);
      const first = thread(s).worker!;
      assert.equal((await peers.ask("203.0.113.1", 1, 5)).blocks.length, 5);
      assert.equal(await s.metric("timenet_store_serve_worker_up"), 1);

      const ids = Array.from({ length: 20 }, () => peers.send("203.0.113.1", 1, 5));
      await s.bus.flush();
      await first.terminate(); // an unasked exit, as a crash would be
      for (const id of ids) {
        const a = await peers.answer(id, "203.0.113.1");
        assert.ok(a.blocks.length === 5 || a.blocks.length === 0, "each is answered: in full, or refused with no blocks");
      }
      await waitFor(async () => (await s.metric("timenet_store_serve_worker_restarts_total", { reason: "exit" })) === 1 && (await s.metric("timenet_store_serve_worker_up")) === 1, {
        message: "the worker restarted",
      });
      assert.notEqual(thread(s).worker, first);
      assert.equal((await peers.ask("203.0.113.1", 10, 5)).blocks.length, 5, "the new worker serves");
    } finally {
      await s.stop();
    }
  });

  test("stop() lets the worker answer what it holds and ends it", async () => {
    const s = await startTestStore();
    let stopped = false;
    try {
      await putAll(s, buildChain(GENESIS, 20));
      const peers = await peerAsker(s.bus);
      const worker = thread(s).worker!;
      const exit = new Promise<number>((r) => worker.once("exit", r));
      const ids = Array.from({ length: 10 }, (_, i) => peers.send("203.0.113.2", 1 + i, 3));
      for (const id of ids) assert.equal((await peers.answer(id, "203.0.113.2")).blocks.length, 3);
      assert.equal((await peers.ask("203.0.113.2", 2 ** 32 - 2, 256)).blocks.length, 0, "the top of the height range is read as nothing");
      assert.equal(await s.metric("timenet_store_serve_requests_total", { result: "refused", reason: "read_failed" }), 0);
      await s.stop();
      stopped = true;
      assert.equal(await exit, 0, "the worker closed its LMDB environment and exited by itself");
      assert.equal(thread(s).worker, undefined);
    } finally {
      if (!stopped) await s.stop();
    }
  });

  test('serveThread "main" (the old way, for the bench) answers the same', async () => {
    const s = await startTestStore({ serveThread: "main" });
    try {
      assert.equal(s.handle.serving.backend.where, "main");
      await putAll(s, buildChain(GENESIS, 20));
      const peers = await peerAsker(s.bus);
      assert.deepEqual((await peers.ask("203.0.113.3", 18, 10)).blocks.map((b) => b.header!.height), [18, 19, 20]);
    } finally {
      await s.stop();
    }
  });
});

describe("serving budgets and bounds", () => {
  test("a peer over its byte budget is answered short, then refused, while another peer is still served in full; logged with peer_ip", async () => {
    const dir = await tempDir("serve-log-");
    const logFile = join(dir.path, "store.log");
    const chain = buildChain(GENESIS, 100, { padBytes: PAD });
    const entry = blocksEntryBytes(toBinary(BlockSchema, chain[0]!).length);
    const full = Math.floor((256 * 1024) / entry);
    // A peer's burst holds two full answers and half of a third; it refills a block every ~16 s.
    const s = await startTestStore({
      serveMaxBytes: 256 * 1024,
      servePeerRate: 1024,
      servePeerBurst: (2 * full + Math.floor(full / 2)) * entry,
      logger: createLogger({ service: "block-store", node: "t", level: "info", pretty: false, destination: logFile }),
    });
    try {
      await putAll(s, chain);
      const peers = await peerAsker(s.bus);
      const flooder = "198.51.100.66";
      const sizes: number[] = [];
      for (let i = 0; i < 6; i++) sizes.push((await peers.ask(flooder, 1 + i, 100)).blocks.length);
      assert.deepEqual(sizes.slice(0, 2), [full, full], "the burst: two full answers");
      assert.ok(sizes[2]! > 0 && sizes[2]! < full, `the third is cut short by the budget: ${sizes.join(",")}`);
      assert.equal(sizes.at(-1), 0, "then refused: no blocks");
      assert.ok(sizes.reduce((a, b) => a + b, 0) <= 2 * full + Math.floor(full / 2) + 1, "never more than the burst (and a block of refill)");
      assert.ok((await s.metric("timenet_store_serve_requests_total", { result: "short", reason: "peer_budget" })) >= 1);
      assert.ok((await s.metric("timenet_store_serve_requests_total", { result: "refused", reason: "peer_budget" })) >= 1);

      assert.equal((await peers.ask("198.51.100.67", 1, 100)).blocks.length, full, "another peer has its own budget");
      assert.equal(await s.metric("timenet_store_serve_peers"), 2);

      const lines = await waitFor(() => {
        const text = readFileSync(logFile, "utf8");
        return text.includes("GetBlocks refused") && text.includes("GetBlocks answered short") ? text.trim().split("\n").map((l) => JSON.parse(l)) : undefined;
      });
      const refused = lines.find((l) => l.msg === "GetBlocks refused");
      assert.equal(refused.peer_ip, flooder);
      assert.equal(refused.reason, "peer_budget");
      assert.ok(!lines.some((l) => l.peer_ip === "198.51.100.67" && l.msg.startsWith("GetBlocks ")), "nothing logged about the peer within its budget");
    } finally {
      await s.stop();
      await dir.remove();
    }
  });

  test("everyone's budget: once spent, a peer within its own is refused too (global_budget)", async () => {
    const s = await startTestStore({ serveMaxBytes: 256 * 1024, serveGlobalRate: 1024, serveGlobalBurst: 600 * 1024 });
    try {
      await putAll(s, buildChain(GENESIS, 100, { padBytes: PAD }));
      const peers = await peerAsker(s.bus);
      for (let i = 0; i < 3; i++) await peers.ask(`198.51.100.${10 + i}`, 1, 100);
      assert.equal((await peers.ask("198.51.100.20", 1, 100)).blocks.length, 0);
      assert.ok((await s.metric("timenet_store_serve_requests_total", { result: "refused", reason: "global_budget" })) >= 1);
    } finally {
      await s.stop();
    }
  });

  test("a burst beyond the queue is refused at once (queue_full, peer_queue_full): every request answered, the queue empty after", async () => {
    const s = await startTestStore({ ...UNLIMITED, serveQueue: 4, serveQueuePerPeer: 2 });
    try {
      await putAll(s, buildChain(GENESIS, 50, { padBytes: PAD }));
      const peers = await peerAsker(s.bus);
      const many = Array.from({ length: 300 }, (_, i) => ({ ip: `10.0.${i >> 8}.${i & 255}`, id: 0 }));
      for (const p of many) p.id = peers.send(p.ip, 1, 50);
      const one = Array.from({ length: 50 }, () => peers.send("198.51.100.99", 1, 50));
      let full = 0;
      for (const p of many) if ((await peers.answer(p.id, p.ip)).blocks.length > 0) full++;
      for (const id of one) if ((await peers.answer(id, "198.51.100.99")).blocks.length > 0) full++;
      const queueFull = await s.metric("timenet_store_serve_requests_total", { result: "refused", reason: "queue_full" });
      const peerQueueFull = await s.metric("timenet_store_serve_requests_total", { result: "refused", reason: "peer_queue_full" });
      assert.ok(queueFull > 0, "more than 4 at once: refused");
      assert.equal(full + queueFull + peerQueueFull, 350, "every request answered: served, or refused for a bound");
      assert.ok(full >= 4);
      assert.equal(await s.metric("timenet_store_serve_queue_depth"), 0);
    } finally {
      await s.stop();
    }
  });
});

describe("the serving worker's start", () => {
  test("a store whose environment the worker cannot open fails to start, naming the serving reader", async () => {
    const dir = await tempDir("serve-");
    try {
      // A store never written: read-only, there is nothing to open.
      const t = new ServeThread({
        dbPath: join(dir.path, "nothing"),
        budget: { peer: { bytesPerSec: 1, burstBytes: 1 }, global: { bytesPerSec: 1, burstBytes: 1 }, maxPeers: 1 },
        logger: createLogger({ service: "block-store", level: "silent", pretty: false }),
        metrics: new StoreMetrics(new Registry()),
      });
      await assert.rejects(t.start(), (e: Error & { code?: string }) => e.code === "ERR_SERVE_WORKER_EXITED" && /serving reader/.test(e.message));
      await t.stop();
      assert.equal(t.worker, undefined);
    } finally {
      await dir.remove();
    }
  });
});
