import { AckPolicy, DiscardPolicy, JetStreamApiError, jetstream, jetstreamManager, RetentionPolicy, StorageType, type Consumer, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Streams, Subjects, SyncBatchSchema } from "@timenet/proto";
import { jetStreamLoss } from "@timenet/bus";

export const SYNC_STREAM = Streams.syncBatches.name;
export const SYNC_CONSUMER = Streams.syncBatches.consumer;

/** JetStream's error code for a publish refused at a stream's max_msgs (discard: new). */
const MAX_MESSAGES_EXCEEDED = 10077;

export interface WorkQueueOptions {
  ackWaitMs: number;
  maxPendingBatches: number;
  /** Told when the stream or its consumer had to be declared again (NATS lost them), after it was. */
  onRestored?: (what: "stream" | "consumer") => void;
}

export interface WorkQueue {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Replaced when the consumer is declared again. */
  consumer: Consumer;
  /** The stream's bound: batches waiting plus batches taken and not yet acknowledged. */
  maxBatches: number;
  /** Grows each time the queue is declared again: batches queued before are gone, and must be planned again. */
  generation: number;
  readonly nc: NatsConnection;
  readonly options: WorkQueueOptions;
}

/**
 * The batches' JetStream work queue: every replica declares the same stream
 * and durable consumer (idempotent; an existing stream or consumer is updated
 * to this config), so any one can start first. Work-queue
 * retention removes a batch once acknowledged; an unacknowledged one is
 * redelivered after ackWait, so a dead worker loses nothing.
 */
export async function openWorkQueue(nc: NatsConnection, o: WorkQueueOptions): Promise<WorkQueue> {
  const { jsm, js, consumer, maxBatches } = await declare(nc, o);
  return { js, jsm, consumer, maxBatches, generation: 0, nc, options: o };
}

/**
 * Declares the stream and the durable consumer again if NATS no longer has
 * them: a NATS started again without its store (its volume lost) has neither,
 * and every replica would otherwise fail to take or queue a batch until it
 * restarted. The batches the old stream held are gone: `generation` grows so
 * the planner plans them again. True when something was declared; throws
 * when NATS cannot be asked (it is away: the caller tries again later).
 */
export async function restoreIfLost(q: WorkQueue): Promise<boolean> {
  let lost: "stream" | "consumer";
  try {
    await q.jsm.consumers.info(SYNC_STREAM, SYNC_CONSUMER);
    return false;
  } catch (err) {
    const gone = jetStreamLoss(err);
    if (!gone) throw err;
    lost = gone;
  }
  const fresh = await declare(q.nc, q.options);
  q.consumer = fresh.consumer;
  q.generation++;
  q.options.onRestored?.(lost);
  return true;
}

/** Runs a queue operation; if it failed because NATS lost the queue, declares it again and runs it once more. */
async function healing<T>(q: WorkQueue, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (!(await restoreIfLost(q).catch(() => false))) throw err;
    return op();
  }
}

async function declare(nc: NatsConnection, o: WorkQueueOptions): Promise<Pick<WorkQueue, "js" | "jsm" | "consumer" | "maxBatches">> {
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
  const bytes = toBinary(SyncBatchSchema, create(SyncBatchSchema, batch));
  try {
    const ack = await healing(q, () => q.js.publish(Subjects.syncBatch, bytes, msgID === undefined ? undefined : { msgID }));
    return ack.duplicate ? "duplicate" : "queued";
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === MAX_MESSAGES_EXCEEDED) return "refused";
    throw err;
  }
}

/** Batches waiting and batches taken but not acknowledged. */
export async function queueDepth(q: WorkQueue): Promise<{ pending: number; inFlight: number }> {
  const info = await healing(q, () => q.jsm.consumers.info(SYNC_STREAM, SYNC_CONSUMER));
  return { pending: info.num_pending, inFlight: info.num_ack_pending };
}
