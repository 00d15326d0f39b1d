import { AckPolicy, DiscardPolicy, JetStreamApiError, jetstream, jetstreamManager, RetentionPolicy, StorageType, type Consumer, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Streams, Subjects, SyncBatchSchema } from "@timenet/proto";

export const SYNC_STREAM = Streams.syncBatches.name;
export const SYNC_CONSUMER = Streams.syncBatches.consumer;

/** JetStream's error code for a publish refused at a stream's max_msgs (discard: new). */
const MAX_MESSAGES_EXCEEDED = 10077;

export interface WorkQueue {
  js: JetStreamClient;
  jsm: JetStreamManager;
  consumer: Consumer;
  /** The stream's bound: batches waiting plus batches taken and not yet acknowledged. */
  maxBatches: number;
}

/**
 * The batches' JetStream work queue: every replica declares the same stream
 * and durable consumer (idempotent; an existing stream or consumer is updated
 * to this config), so any one can start first. Work-queue
 * retention removes a batch once acknowledged; an unacknowledged one is
 * redelivered after ackWait, so a dead worker loses nothing.
 */
export async function openWorkQueue(nc: NatsConnection, o: { ackWaitMs: number; maxPendingBatches: number }): Promise<WorkQueue> {
  const jsm = await jetstreamManager(nc);
  const maxBatches = Math.max(1_000, o.maxPendingBatches * 16);
  const config = {
    name: SYNC_STREAM,
    subjects: [Subjects.syncBatch],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    // Bounded, batches waiting and taken alike. At the bound a new batch is
    // refused (the sender keeps it), never an old one dropped: JetStream's
    // default (discard old) would silently lose the batches the chain needs next.
    max_msgs: maxBatches,
    discard: DiscardPolicy.New,
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
  return { js, jsm, consumer, maxBatches };
}

/**
 * Puts a batch on the queue. "refused": the stream is at its bound (the batch
 * is not queued; the caller keeps it); "duplicate": the same msgID was queued
 * within the duplicate window. Any other failure throws.
 */
export async function publishBatch(q: WorkQueue, batch: MessageInitShape<typeof SyncBatchSchema>, msgID?: string): Promise<"queued" | "duplicate" | "refused"> {
  try {
    const ack = await q.js.publish(Subjects.syncBatch, toBinary(SyncBatchSchema, create(SyncBatchSchema, batch)), msgID === undefined ? undefined : { msgID });
    return ack.duplicate ? "duplicate" : "queued";
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === MAX_MESSAGES_EXCEEDED) return "refused";
    throw err;
  }
}

/** Batches waiting and batches taken but not acknowledged. */
export async function queueDepth(q: WorkQueue): Promise<{ pending: number; inFlight: number }> {
  const info = await q.jsm.consumers.info(SYNC_STREAM, SYNC_CONSUMER);
  return { pending: info.num_pending, inFlight: info.num_ack_pending };
}
