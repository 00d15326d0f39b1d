import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type Consumer, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Subjects } from "@timenet/proto";

export const SYNC_STREAM = "SYNC_BATCHES";
export const SYNC_CONSUMER = "sync-workers";

export interface WorkQueue {
  js: JetStreamClient;
  jsm: JetStreamManager;
  consumer: Consumer;
}

/**
 * The batches' JetStream work queue: every replica declares the same stream
 * and durable consumer (idempotent), so any one can start first. Work-queue
 * retention removes a batch once acknowledged; an unacknowledged one is
 * redelivered after ackWait, so a dead worker loses nothing.
 */
export async function openWorkQueue(nc: NatsConnection, o: { ackWaitMs: number; maxPendingBatches: number }): Promise<WorkQueue> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: SYNC_STREAM,
    subjects: [Subjects.syncBatch],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    // Bounded: a planner can never queue more than this (it also waits itself).
    max_msgs: Math.max(1_000, o.maxPendingBatches * 16),
    duplicate_window: 120_000_000_000, // 2 min, in ns: a replanned batch with the same id is dropped
  };
  try {
    await jsm.streams.add(config);
  } catch {
    await jsm.streams.update(SYNC_STREAM, config);
  }
  const consumerConfig = {
    durable_name: SYNC_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    ack_wait: o.ackWaitMs * 1_000_000,
    filter_subject: Subjects.syncBatch,
    max_ack_pending: 10_000,
  };
  try {
    await jsm.consumers.add(SYNC_STREAM, consumerConfig);
  } catch {
    await jsm.consumers.update(SYNC_STREAM, SYNC_CONSUMER, consumerConfig);
  }
  const js = jetstream(nc);
  const consumer = await js.consumers.get(SYNC_STREAM, SYNC_CONSUMER);
  return { js, jsm, consumer };
}

/** Batches waiting and batches taken but not acknowledged. */
export async function queueDepth(q: WorkQueue): Promise<{ pending: number; inFlight: number }> {
  const info = await q.jsm.consumers.info(SYNC_STREAM, SYNC_CONSUMER);
  return { pending: info.num_pending, inFlight: info.num_ack_pending };
}
