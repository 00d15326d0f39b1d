import { create, fromBinary } from "@bufbuild/protobuf";
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import {
  BlockInvalidReasonSchema,
  enumLabel,
  EnvelopeSchema,
  OffenceKind,
  OffenceKindSchema,
  OffenceSchema,
  PeerRequestErrorCode,
  PeerRequestSchema,
  PeerResponseSchema,
  PutResult,
  PutResultSchema,
  Subjects,
  SyncBatchSchema,
  type Block,
  type BlockStoreService,
  type PutBlocksResponse,
  type SyncBatch,
} from "@timenet/proto";
import type { PeerIp } from "@timenet/net-address";
import type { Bus } from "@timenet/bus";
import type { ServiceClient } from "@timenet/grpc";
import type { Logger } from "@timenet/telemetry";
import type { BlockBuffer } from "./block-buffer.js";
import type { SyncMetrics } from "./metrics.js";
import type { PeerHeights } from "./peer-heights.js";
import type { TipTracker } from "./tip-tracker.js";
import { publishBatch, type WorkQueue } from "./work-queue.js";

export interface BatchWorkerOptions {
  bus: Bus;
  queue: WorkQueue;
  store: ServiceClient<typeof BlockStoreService>;
  heights: PeerHeights;
  tip: TipTracker;
  buffer: BlockBuffer;
  metrics: SyncMetrics;
  logger: Logger;
  concurrency: number;
  requestTimeoutMs: number;
  maxWaitMs: number;
  ackWaitMs: number;
  maxReorgDepth: number;
}

/** Pause before a batch that every peer failed starts over with all of them. */
const RETRY_ALL_PEERS_AFTER_MS = 1_000;

/** What a peer's block-store serves for one GetBlocks (SERVE_MAX_BLOCKS default). */
const MAX_SERVED_BLOCKS = 256;

type Outcome = "applied" | "already_have" | "reassigned" | "invalid" | "fork_too_deep" | "fork_not_longer" | "handed_back";

/**
 * One replica's share of the work queue: takes a batch, asks a peer that
 * has it (p2p.request GetBlocks), hands the blocks to the block-store, and
 * acknowledges. A peer that times out, answers nothing although it claimed
 * the height, or sends invalid blocks is reported (p2p.offence) and the batch
 * goes back on the queue for a peer not yet tried. A batch ahead of the tip
 * waits in bounded memory until the chain reaches it, or is handed back.
 */
export class BatchWorker {
  private messages: ConsumerMessages | undefined;
  private readonly active = new Set<Promise<void>>();
  private waiting = 0;
  done = 0;
  inFlight = 0;

  constructor(private readonly o: BatchWorkerOptions) {}

  async start(): Promise<void> {
    this.messages = await this.o.queue.consumer.consume({ max_messages: this.o.concurrency });
    void (async () => {
      for await (const msg of this.messages!) {
        const job = this.handle(msg).catch((err: unknown) => {
          this.o.logger.error({ err: (err as Error).message }, "batch failed unexpectedly; handing it back");
          msg.nak(1_000);
        });
        this.active.add(job);
        void job.finally(() => this.active.delete(job));
        // Never more than `concurrency` batches at once in this replica.
        while (this.active.size >= this.o.concurrency) await Promise.race(this.active);
      }
    })();
  }

  /** Stops taking batches; those in progress are handed back (nak) for others. */
  async stop(): Promise<void> {
    await this.messages?.close();
    this.stopping = true;
    await Promise.allSettled([...this.active]);
  }

  private stopping = false;

  private async handle(msg: JsMsg): Promise<void> {
    let batch: SyncBatch;
    try {
      batch = fromBinary(SyncBatchSchema, msg.data);
    } catch {
      msg.term("undecodable batch");
      return;
    }
    this.inFlight++;
    const started = performance.now();
    try {
      const outcome = await this.work(msg, batch);
      this.o.metrics.batches.inc({ result: outcome });
      if (outcome !== "handed_back" && outcome !== "reassigned") this.done++;
      this.o.metrics.batchLatency.observe((performance.now() - started) / 1000);
    } finally {
      this.inFlight--;
    }
  }

  private async work(msg: JsMsg, batch: SyncBatch): Promise<Outcome> {
    const { tip, heights, logger } = this.o;
    const from = batch.fromHeight;
    const to = from + batch.count - 1;
    if (batch.count === 0 || tip.height >= to) {
      msg.ack();
      return "already_have";
    }
    const tried = new Set(batch.triedPeers);
    const peer = heights.pick(to, tried) ?? heights.pick(from, tried);
    if (!peer) {
      // Nobody (left) claims this range: try again later, from every peer
      // (after a pause, so peers that all fail cannot make a tight loop).
      if (tried.size > 0) {
        await new Promise((r) => setTimeout(r, RETRY_ALL_PEERS_AFTER_MS));
        return this.reassign(msg, batch, undefined, "every peer tried");
      }
      msg.nak(1_000);
      return "handed_back";
    }
    const fetched = await this.fetch(peer, from, batch.count);
    if (!Array.isArray(fetched)) return this.reassign(msg, batch, peer, fetched);
    let blocks = fetched;

    for (;;) {
      const res = await this.put(blocks);
      switch (res.result) {
        case PutResult.APPLIED:
          heights.succeeded(peer);
          this.o.metrics.blocksApplied.inc(res.applied);
          msg.ack();
          return "applied";
        case PutResult.ALREADY_HAVE:
          msg.ack();
          return "already_have";
        case PutResult.FORK_NOT_LONGER:
          msg.ack();
          return "fork_not_longer";
        case PutResult.FORK_TOO_DEEP:
          logger.error({ peer_ip: peer, from, to, detail: res.detail }, "peer's chain forks deeper than MAX_REORG_DEPTH; not following it");
          msg.ack();
          return "fork_too_deep";
        case PutResult.INVALID: {
          const reason = enumLabel(BlockInvalidReasonSchema, res.invalidReason);
          this.o.metrics.validationFailures.inc({ reason });
          this.report(peer, OffenceKind.INVALID_BLOCK, `block ${from + res.invalidIndex} invalid: ${reason} ${res.detail}`);
          return this.reassign(msg, batch, peer, `invalid block: ${reason}`);
        }
        case PutResult.PARENT_UNKNOWN: {
          if (tip.height >= from - 1) {
            // Our chain reaches the parent's height but not its hash: a fork.
            // Fetch back past the reorg limit (so the store can tell "too
            // deep" from "unrelated") and let the store decide; one request
            // is capped by what a peer serves at once.
            const start = Math.max(1, from - 2 * this.o.maxReorgDepth);
            const run = await this.fetch(peer, start, Math.min(to - start + 1, MAX_SERVED_BLOCKS));
            if (!Array.isArray(run)) return this.reassign(msg, batch, peer, run);
            const forkRes = await this.put(run);
            this.o.metrics.forkFetches.inc({ result: enumLabel(PutResultSchema, forkRes.result) });
            if (forkRes.result === PutResult.INVALID) {
              this.report(peer, OffenceKind.INVALID_BLOCK, `fork run from ${start}: ${enumLabel(BlockInvalidReasonSchema, forkRes.invalidReason)} ${forkRes.detail}`);
              return this.reassign(msg, batch, peer, "invalid fork run");
            }
            if (forkRes.result === PutResult.PARENT_UNKNOWN) {
              // Another chain altogether (or a deeper fork than we look back): not an offence.
              this.o.logger.error({ peer_ip: peer, from: start, to }, "peer's chain does not link to ours within twice the reorg limit");
              return this.reassign(msg, batch, peer, "chain does not link");
            }
            if (forkRes.result === PutResult.FORK_TOO_DEEP) {
              this.o.logger.error({ peer_ip: peer, detail: forkRes.detail }, "peer's chain forks deeper than MAX_REORG_DEPTH; not following it");
              msg.ack();
              return "fork_too_deep";
            }
            if (forkRes.result === PutResult.APPLIED) this.o.metrics.blocksApplied.inc(forkRes.applied);
            msg.ack();
            return forkRes.result === PutResult.APPLIED ? "applied" : "fork_not_longer";
          }
          // Ahead of the tip: wait (bounded) for the batches before it.
          const parentReached = await this.waitForParent(msg, from - 1, blocks.length);
          if (!parentReached) {
            msg.nak(500);
            return "handed_back";
          }
          blocks = fetched;
          continue;
        }
        default:
          msg.nak(1_000);
          return "handed_back";
      }
    }
  }

  /** The blocks, or why not (after reporting the peer when it is its fault). */
  private async fetch(peer: PeerIp, from: number, count: number): Promise<Block[] | string> {
    const { bus } = this.o;
    let res;
    try {
      res = await bus.request(
        Subjects.peerRequest,
        PeerRequestSchema,
        { peerIp: peer, envelope: create(EnvelopeSchema, { payload: { case: "getBlocks", value: { fromHeight: from, count } } }), timeoutMs: this.o.requestTimeoutMs },
        PeerResponseSchema,
        { timeoutMs: this.o.requestTimeoutMs + 2_000 },
      );
    } catch (err) {
      return `gateway did not answer: ${(err as Error).message}`;
    }
    if (res.result.case === "error") {
      if (res.result.value.code === PeerRequestErrorCode.TIMEOUT) this.report(peer, OffenceKind.REQUEST_TIMEOUT, `GetBlocks ${from}+${count} timed out`);
      return `request failed: ${res.result.value.message}`;
    }
    const env = res.result.value;
    if (!env || env.payload.case !== "blocks") {
      this.report(peer, OffenceKind.PROTOCOL_VIOLATION, `answered GetBlocks with ${env?.payload.case ?? "nothing"}`);
      return "not a Blocks answer";
    }
    const blocks = env.payload.value.blocks.slice(0, count);
    if (blocks.length === 0) {
      this.report(peer, OffenceKind.EMPTY_RESPONSE, `no blocks from ${from} although it claimed the height`);
      return "empty answer";
    }
    for (let i = 0; i < blocks.length; i++) {
      if (blocks[i]!.header?.height !== from + i) {
        this.report(peer, OffenceKind.INVALID_BLOCK, `block ${i} of GetBlocks ${from} has height ${blocks[i]!.header?.height}`);
        return "blocks out of order";
      }
    }
    return blocks;
  }

  private async put(blocks: Block[]): Promise<PutBlocksResponse> {
    const res = await this.o.store.putBlocks({ blocks }, { deadlineMs: 30_000 });
    if (res.tip) this.o.tip.update(res.tip.height, res.tip.hash);
    return res;
  }

  /**
   * Holds a batch (its blocks reserved in the bounded buffer) until the tip
   * reaches `height`, keeping the message alive. At most concurrency-1 batches
   * of a replica wait, so one slot always works on what the chain needs next.
   */
  private async waitForParent(msg: JsMsg, height: number, blocks: number): Promise<boolean> {
    if (this.stopping || this.waiting >= this.o.concurrency - 1 || !this.o.buffer.tryReserve(blocks)) return false;
    this.waiting++;
    this.o.metrics.bufferedBlocks.set(this.o.buffer.size);
    const keepAlive = setInterval(() => msg.working(), Math.max(100, Math.floor(this.o.ackWaitMs / 3)));
    try {
      return await this.o.tip.waitFor(height, this.o.maxWaitMs);
    } finally {
      clearInterval(keepAlive);
      this.waiting--;
      this.o.buffer.release(blocks);
      this.o.metrics.bufferedBlocks.set(this.o.buffer.size);
    }
  }

  /** The batch goes back on the queue for a peer not yet tried (all of them again if none is left). */
  private async reassign(msg: JsMsg, batch: SyncBatch, peer: PeerIp | undefined, why: string): Promise<Outcome> {
    const triedPeers = peer === undefined ? [] : [...batch.triedPeers, peer];
    if (peer) this.o.heights.failed(peer);
    this.o.logger.info({ peer_ip: peer ?? null, from: batch.fromHeight, count: batch.count, why }, "batch reassigned");
    let queued;
    try {
      queued = await publishBatch(this.o.queue, { ...batch, triedPeers });
    } catch (err) {
      queued = `failed: ${(err as Error).message}`;
    }
    if (queued === "queued" || queued === "duplicate") {
      msg.ack();
      return "reassigned";
    }
    // Not re-queued (the queue is full, or NATS failed): the batch itself goes back instead, so it is never lost.
    if (queued === "refused") this.o.metrics.batchesRefused.inc({ by: "requeue" });
    this.o.logger.warn({ peer_ip: peer ?? null, from: batch.fromHeight, count: batch.count, why: queued }, "batch could not be re-queued; handed back as it was");
    msg.nak(1_000);
    return "handed_back";
  }

  private report(peer: PeerIp, kind: OffenceKind, detail: string): void {
    const label = enumLabel(OffenceKindSchema, kind);
    this.o.metrics.offences.inc({ kind: label });
    this.o.logger.warn({ peer_ip: peer, kind: label, detail }, "peer offence reported");
    this.o.bus.publish(Subjects.offence, OffenceSchema, { ip: peer, kind, detail, atMs: BigInt(Date.now()) });
  }
}
