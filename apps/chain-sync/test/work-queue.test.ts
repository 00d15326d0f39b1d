import { after, test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import { connect } from "@nats-io/transport-node";
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Subjects, SyncBatchSchema } from "@timenet/proto";
import type { PeerIp } from "@timenet/net-address";
import { createLogger } from "@timenet/telemetry";
import { startNatsServer, waitFor } from "@timenet/testkit";
import { BatchPlanner } from "../src/batch-planner.js";
import { SyncMetrics } from "../src/metrics.js";
import { PeerHeights } from "../src/peer-heights.js";
import { TipTracker } from "../src/tip-tracker.js";
import { openWorkQueue, publishBatch, SYNC_STREAM, type WorkQueue } from "../src/work-queue.js";

const nats = await startNatsServer({ jetstream: true });
const nc = await connect({ servers: nats.url });
after(async () => {
  await nc.close();
  await nats.stop();
});
const logger = createLogger({ service: "chain-sync", node: "queue-test", level: process.env.TEST_LOG_LEVEL ?? "silent", pretty: false });

async function fill(q: WorkQueue, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await q.js.publish(Subjects.syncBatch, toBinary(SyncBatchSchema, create(SyncBatchSchema, { fromHeight: 1 + i * 128, count: 128 })));
}

test("a full work queue refuses a new batch and keeps the oldest; a stream from an older version is updated at start", async () => {
  // The stream as an older chain-sync declared it (JetStream's default discard policy: old).
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: SYNC_STREAM, subjects: [Subjects.syncBatch], retention: RetentionPolicy.Workqueue, storage: StorageType.File, max_msgs: 1_000 });
  const q = await openWorkQueue(nc, { ackWaitMs: 30_000, maxPendingBatches: 4 });
  assert.equal((await jsm.streams.info(SYNC_STREAM)).config.discard, DiscardPolicy.New);
  await fill(q, q.maxBatches);
  await assert.rejects(q.js.publish(Subjects.syncBatch, toBinary(SyncBatchSchema, create(SyncBatchSchema, { fromHeight: 999_999, count: 1 }))), /maximum messages/);
  assert.equal(await publishBatch(q, { fromHeight: 999_999, count: 1 }), "refused");
  const info = await jsm.streams.info(SYNC_STREAM);
  assert.equal(info.state.messages, q.maxBatches);
  const first = await jsm.streams.getMessage(SYNC_STREAM, { seq: 1 });
  assert.equal(fromBinary(SyncBatchSchema, first!.data).fromHeight, 1, "the first batch is still there");
  await jsm.streams.purge(SYNC_STREAM);
});

test("the planner does not plan past a batch the full queue refused, and plans it once there is room", async () => {
  const q = await openWorkQueue(nc, { ackWaitMs: 30_000, maxPendingBatches: 4 });
  const jsm = q.jsm;
  // Full of batches that workers have taken and not finished (so none counts as pending for the planner).
  await fill(q, q.maxBatches);
  const taken = await q.consumer.fetch({ max_messages: q.maxBatches, expires: 5_000 });
  const held = [];
  for await (const m of taken) {
    held.push(m);
    if (held.length === q.maxBatches) break;
  }
  const metrics = new SyncMetrics(new Registry());
  const heights = new PeerHeights();
  heights.set("10.0.0.1" as PeerIp, 1_000);
  const tip = new TipTracker(() => undefined);
  const planner = new BatchPlanner({ queue: q, heights, tip, metrics, logger, batchSize: 100, maxPendingBatches: 4, lookaheadBatches: 16, replanAfterMs: 60_000 });
  planner.reset();
  await planner.plan();
  assert.equal(planner.plannedUpTo, 0, "nothing planned: the first batch was refused");
  assert.equal((await metrics.batchesRefused.get()).values.find((v) => v.labels.by === "planner")?.value, 1);
  // Room again: the same range is planned from where it stopped.
  for (const m of held.splice(0, 10)) m.ack();
  await waitFor(async () => (await jsm.streams.info(SYNC_STREAM)).state.messages === q.maxBatches - 10, { message: "acks applied" });
  await planner.plan();
  assert.equal(planner.plannedUpTo, 400);
  assert.equal((await jsm.streams.info(SYNC_STREAM)).state.messages, q.maxBatches - 10 + 4, "the once-refused batch is queued, not taken for a duplicate");
  const last = await jsm.streams.getMessage(SYNC_STREAM, { last_by_subj: Subjects.syncBatch });
  assert.equal(fromBinary(SyncBatchSchema, last!.data).fromHeight, 301);
  for (const m of held) m.ack();
});
