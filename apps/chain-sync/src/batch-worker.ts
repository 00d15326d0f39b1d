import { setMaxListeners } from "node:events";
import { status } from "@grpc/grpc-js";
import { fromBinary } from "@bufbuild/protobuf";
import type { JsMsg } from "@nats-io/jetstream";
import {
  BlockInvalidReasonSchema,
  enumLabel,
  PutResult,
  PutResultSchema,
  SyncBatchSchema,
  type Block,
  type BlockStoreService,
  type PutBlocksResponse,
  type SyncBatch,
} from "@timenet/proto";
import { isValidIp, normalizeIp, type PeerIp } from "@timenet/net-address";
import type { Bus } from "@timenet/bus";
import type { ServiceClient } from "@timenet/grpc";
import type { Logger } from "@timenet/telemetry";
import type { BatchOutcome, FetchFailure } from "./batch-outcome.js";
import { pause, STOPPED, unlessAborted } from "./abortable.js";
import { FORK_PROBE_DELIVERIES, probeVerdict, verdict } from "./batch-verdict.js";
import type { BlockBuffer } from "./block-buffer.js";
import { getBlocks } from "./get-blocks.js";
import { offenceReporter, type ReportOffence } from "./offence-report.js";
import type { SyncMetrics } from "./metrics.js";
import type { PeerHeights } from "./peer-heights.js";
import type { SyncWindow } from "./sync-window.js";
import type { ForkProbes } from "./fork-probes.js";
import type { TipAnnouncer } from "./tip-announcer.js";
import type { TipTracker } from "./tip-tracker.js";
import { publishBatch, restoreIfLost, type WorkQueue } from "./work-queue.js";

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
  /** Batches put beyond the one the store is writing (CHAIN_SYNC_DEFAULTS.putsAhead). */
  putsAhead: number;
  requestTimeoutMs: number;
  maxWaitMs: number;
  ackWaitMs: number;
  maxReorgDepth: number;
  /** How long a peer may serve only a losing branch on one connection before it is reported (with LOSING_BRANCH_TRIES batches). */
  losingBranchGraceMs: number;
  /** Told how long each GetBlocks round took (it sizes the planner's window). */
  window?: SyncWindow;
  /** Sends our tip to a peer that served a branch we do not prefer (it lacks ours). */
  tipAnnouncer?: TipAnnouncer;
  /** Told how each fork probe ended (a probe that brings nothing stretches that peer's interval). */
  forkProbes?: ForkProbes;
}

/** Pause before a batch that every peer failed starts over with all of them. */
const RETRY_ALL_PEERS_AFTER_MS = 1_000;

/**
 * On stop, a PutBlocks already sent is waited for this long (its batch is
 * then acked instead of fetched again); anything else is given up at once.
 * Well within Compose's stop_grace_period (15 s).
 */
const STOP_PUT_GRACE_MS = 2_000;

/**
 * GetBlocks rounds for one batch from one peer. A peer answers fewer blocks
 * than asked when its caps say so (4 MiB against 1 MiB blocks: 3 or 4 a
 * round), so a 256-block batch may honestly take ~85 rounds; one that keeps
 * answering less cannot hold a batch forever: its rest goes to another peer.
 */
const MAX_ROUNDS = 96;

/**
 * A peer over its serving budget (Blocks.busy) with no other peer to ask:
 * asked again after BUSY_BACKOFF_MS × the busy answers so far, this many
 * busy answers in a row, before the batch goes back on the queue. Keeping it
 * here keeps the batch the chain may need next out of the queue's tail. In a
 * row, and without progress: a peer whose rate limit refills a few blocks
 * between asks answers busy, then blocks, many times over one batch; and
 * several batches sharing its budget each meet busy answers while it serves
 * the others. A busy answer counts only when the peer served this replica
 * nothing since the batch's previous one; the pause grows with every busy
 * answer in a row (up to MAX_BUSY_TRIES × BUSY_BACKOFF_MS), so batches that
 * wait on a peer others are served by do not flood it with asks. Busy
 * answers are bounded here, so MAX_ROUNDS counts only answers that brought
 * blocks.
 */
const MAX_BUSY_TRIES = 8;
const BUSY_BACKOFF_MS = 50;

/** The store refused a put because its writer's queue is full: offered again after this × the tries so far, this many times. */
const MAX_STORE_BUSY_TRIES = 20;
const STORE_BUSY_BACKOFF_MS = 25;

/**
 * Fork probes run beside the plan's batches, never in their slots (strangers
 * that announce tips and never answer must not hold up the sync): at most
 * this many at once in a replica, each question at most PROBE_REQUEST_TIMEOUT_MS.
 */
const MAX_PROBES_IN_FLIGHT = 2;
const PROBE_REQUEST_TIMEOUT_MS = 3_000;

/** A pull for one batch waits this long on an empty queue before asking again (JetStream's minimum). */
const PULL_EXPIRES_MS = 1_000;

/** Where a batch has got to: the first height not yet on our chain by this batch's doing. */
interface Progress {
  next: number;
  /** Fetched back from below the batch to find a fork point. */
  rewound: boolean;
}

/**
 * One replica's share of the work queue: takes a batch, asks a peer that
 * has it (p2p.request GetBlocks) until the whole range is answered (a peer
 * may answer part of it at a time), hands the blocks to the block-store, and
 * acknowledges. How a batch ended is a `BatchOutcome`; `verdict` decides in
 * one place whether the peer is reported and whether the batch is acked,
 * reassigned to another peer or handed back. A batch ahead of the tip waits
 * in bounded memory until the chain reaches it, or is handed back.
 */
export class BatchWorker {
  private pulling: Promise<void> = Promise.resolve();
  /** Aborted by stop(): every fetch and wait gives up, and its batch is handed back. */
  private readonly stopping = new AbortController();
  private readonly active = new Set<Promise<void>>();
  /** Batches parked ahead of the tip: their blocks fetched and held in the buffer, their slot given to the next batch. */
  private parked = 0;
  /** Fork probes running (they count as parked: beside the plan's batches). */
  private probing = 0;
  /** Wakes the consumer loop when a slot frees (a batch ends or parks). */
  private slotFreed: (() => void) | undefined;
  done = 0;
  inFlight = 0;

  /** Reports a peer's offence (metric, log line, p2p.offence). */
  private readonly report: ReportOffence;

  constructor(private readonly o: BatchWorkerOptions) {
    // Every parked batch listens on it (bounded by the buffer), beyond Node's default of 10.
    setMaxListeners(0, this.stopping.signal);
    this.report = offenceReporter(o.bus, o.metrics, o.logger);
  }

  async start(): Promise<void> {
    this.pulling = this.pull();
  }

  /**
   * Takes one batch whenever a slot is free, never more: a batch pulled
   * ahead into a replica whose slots are all taken would sit there while
   * other replicas idle, and it is the earliest one not started, so likely
   * the one the chain needs next (why more workers made sync slower).
   */
  private async pull(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      // Never more than `concurrency` batches fetching or writing at once in this replica; parked ones (bounded by the buffer) hold no slot.
      while (this.active.size - this.parked >= this.o.concurrency && !signal.aborted) await new Promise<void>((resolve) => (this.slotFreed = resolve));
      if (signal.aborted) return;
      let msg: JsMsg | null;
      try {
        msg = await this.o.queue.consumer.next({ expires: PULL_EXPIRES_MS });
      } catch (err) {
        if (signal.aborted) return;
        this.o.logger.warn({ err: (err as Error).message }, "taking a batch failed; trying again");
        // NATS may have lost the queue (its store): declared again, else every pull fails until a restart. Away: later.
        await restoreIfLost(this.o.queue).catch(() => undefined);
        await pause(1_000, signal);
        continue;
      }
      if (!msg) continue;
      if (signal.aborted) {
        // Pulled but not started: straight back to the queue for another replica.
        this.o.metrics.batches.inc({ result: "stopping" });
        msg.nak();
        return;
      }
      const taken = msg;
      const job = this.handle(taken).catch((err: unknown) => {
        this.o.metrics.batches.inc({ result: "unexpected_error" });
        this.o.logger.error({ err: (err as Error).message }, "batch failed unexpectedly; handing it back");
        taken.nak(1_000);
      });
      this.active.add(job);
      void job.finally(() => {
        this.active.delete(job);
        this.wake();
      });
    }
  }

  private wake(): void {
    const resolve = this.slotFreed;
    this.slotFreed = undefined;
    resolve?.();
  }

  /**
   * Stops taking batches and hands every batch not yet committed back to the
   * queue at once (nak without delay: another replica takes it now, not
   * after the ack wait). Only a PutBlocks already in flight is waited for,
   * up to STOP_PUT_GRACE_MS; a pull already asked ends within PULL_EXPIRES_MS.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake();
    await Promise.allSettled([...this.active]);
    await this.pulling;
  }

  private async handle(msg: JsMsg): Promise<void> {
    let batch: SyncBatch;
    try {
      batch = fromBinary(SyncBatchSchema, msg.data);
    } catch {
      msg.term("undecodable batch");
      return;
    }
    // Read once: run and settle both treat a fork probe apart.
    const forkPeer = forkPeerOf(batch);
    const probe = forkPeer !== undefined;
    if (probe && this.probing >= MAX_PROBES_IN_FLIGHT) {
      // Its own slots are taken: later (another replica may take it), or dropped after a few tries.
      this.o.metrics.batches.inc({ result: "probe_slots_busy" });
      if (msg.info.deliveryCount >= FORK_PROBE_DELIVERIES) msg.ack();
      else msg.nak(500);
      return;
    }
    if (probe) {
      this.probing++;
      // Beside the plan's batches: it holds none of their slots.
      this.parked++;
      this.wake();
    }
    this.inFlight++;
    const started = performance.now();
    try {
      const progress: Progress = { next: batch.fromHeight, rewound: false };
      const outcome = await this.run(msg, batch, forkPeer, progress, this.stopping.signal);
      await this.settle(msg, batch, forkPeer, outcome, progress);
      this.o.metrics.batchLatency.observe((performance.now() - started) / 1000);
    } finally {
      this.inFlight--;
      if (probe) {
        this.probing--;
        this.parked--;
      }
    }
  }

  /** Fetches and applies the batch's range, round by round, until it is complete or cannot be. */
  /** `forkPeer`: the one peer a fork probe asks (undefined for a batch of the plan). */
  private async run(msg: JsMsg, batch: SyncBatch, forkPeer: PeerIp | undefined, progress: Progress, signal: AbortSignal): Promise<BatchOutcome> {
    const { tip, heights, metrics } = this.o;
    const from = batch.fromHeight;
    const to = from + batch.count - 1;
    // A fork probe asks about a tip at or below ours, of one peer (see ForkProbes).
    if (batch.count === 0 || (forkPeer === undefined && tip.height >= to)) return { kind: "already_have" };
    if (forkPeer !== undefined && heights.heightOf(forkPeer) === undefined) return { kind: "peer_left", peer: forkPeer, from, detail: "the peer whose tip was to be probed is no longer connected" };
    const tried = new Set(batch.triedPeers);
    let peer = forkPeer ?? heights.pick(to, tried) ?? heights.pick(from, tried);
    if (!peer) {
      if (!heights.pick(from)) return { kind: "no_peer", deliveries: msg.info.deliveryCount };
      // Every claimant failed it: start over after a pause, so peers that all fail cannot make a tight loop.
      return (await pause(RETRY_ALL_PEERS_AFTER_MS, signal)) ? { kind: "every_peer_tried" } : { kind: "stopping" };
    }
    let wrote = false;
    let keptAside = false;
    let held = false;
    // Busy answers in a row (they space the asks out) and those of them without progress (they end the wait).
    let busyInARow = 0;
    let busyTries = 0;
    let busyFrom: { peer: PeerIp; served: number } | undefined;
    let rounds = 0;
    while (progress.next <= to) {
      if (signal.aborted) return { kind: "stopping" };
      const next = progress.next;
      // Never ask beyond what the peer credibly claims: the rest of a batch it only partly has is another peer's.
      const claim = heights.heightOf(peer) ?? 0;
      const end = Math.min(to, heights.credibleOf(peer) ?? 0);
      if (end < next) return { kind: "rest_elsewhere", peer, why: "peer_height" };
      if (rounds === MAX_ROUNDS) return { kind: "rest_elsewhere", peer, why: "rounds" };
      // Reaching heights that neither our chain nor anything this IP served backs: the question tests its claim.
      const probe = end > Math.max(tip.height, heights.standing.backedOf(peer));
      heights.asking(peer);
      const askedAt = performance.now();
      const timeoutMs = forkPeer === undefined ? this.o.requestTimeoutMs : Math.min(this.o.requestTimeoutMs, PROBE_REQUEST_TIMEOUT_MS);
      const fetched = await getBlocks(this.o.bus, peer, next, end - next + 1, timeoutMs, signal);
      const tookMs = performance.now() - askedAt;
      heights.answered(peer, fetched.kind === "blocks" ? fetched.blocks.length : 0, tookMs);
      if (fetched.kind === "blocks") this.o.window?.fetched(tookMs, fetched.blocks.length);
      if (fetched.kind === "stopping") return fetched;
      metrics.fetches.inc({ result: fetched.kind === "blocks" && fetched.blocks.length < end - next + 1 ? "short" : fetched.kind });
      if (fetched.kind === "busy") {
        // Progress since the previous busy answer from this peer (it served another batch of ours) starts the count again, before the count is judged.
        const served = heights.servedOf(peer);
        if (busyFrom?.peer === peer && served > busyFrom.served) busyTries = 0;
        busyFrom = { peer, served };
      }
      if (fetched.kind === "busy" && busyTries < MAX_BUSY_TRIES) {
        // Over its serving budget, nothing about its chain: another peer that has `next` now, else this one again shortly.
        busyTries++;
        busyInARow++;
        tried.add(peer);
        const other = forkPeer === undefined ? heights.pick(next, tried) : undefined;
        if (other) peer = other;
        else if (!(await pause(BUSY_BACKOFF_MS * Math.min(busyInARow, MAX_BUSY_TRIES), signal))) return { kind: "stopping" };
        continue;
      }
      if (fetched.kind !== "blocks") return this.unanswered(fetched, peer, next, claim, probe ? end : undefined);
      busyTries = 0;
      busyInARow = 0;
      rounds++;
      const { blocks } = fetched;
      const last = next + blocks.length - 1;

      let res: PutBlocksResponse;
      // Far ahead of the tip the store would only hold it for its parent (and answer "parent unknown" after
      // STORE_PARENT_WAIT): parked first until at most `putsAhead` batches lie between it and the one being
      // written. Those few are put before they are needed, so the store never waits for the next put's
      // bytes when it finishes one (a 300 KB request crosses HTTP/2 windows between two busy event loops).
      const before = next - 1 - this.o.putsAhead * blocks.length;
      if (tip.height < before) {
        const waited = await this.waitForParent(msg, before, blocks.length, signal);
        if (signal.aborted) return { kind: "stopping" };
        if (waited === "no_room") return { kind: "parent_not_reached" };
        // Not reached in time: offered anyway (it may extend a side branch the store holds); its answer decides.
      }
      for (;;) {
        const put = await this.put(blocks, signal);
        if (put === STOPPED) return { kind: "stopping" };
        if (typeof put === "string") return { kind: "store_failed", detail: put };
        res = put;
        metrics.puts.inc({ result: enumLabel(PutResultSchema, res.result) });
        if (res.result !== PutResult.PARENT_UNKNOWN || tip.height >= next - 1) break;
        // Ahead of the tip: wait (bounded) for the batches before it, then offer the same blocks again.
        const reached = await this.waitForParent(msg, next - 1, blocks.length, signal);
        if (signal.aborted) return { kind: "stopping" };
        if (reached !== "reached") return { kind: "parent_not_reached" };
      }
      switch (res.result) {
        case PutResult.APPLIED:
          wrote = true;
          heights.succeeded(peer);
          heights.standing.backed(peer, last);
          metrics.blocksApplied.inc(res.applied);
          this.o.window?.sized(blocks.length, fetched.bytes);
          progress.next += blocks.length;
          break;
        case PutResult.ALREADY_HAVE:
          heights.standing.backed(peer, last);
          progress.next += blocks.length;
          break;
        case PutResult.FORK_NOT_PREFERRED:
          // Kept aside by the store: the next blocks may make that fork the preferred chain.
          keptAside = true;
          heights.standing.backed(peer, last);
          progress.next += blocks.length;
          break;
        case PutResult.HELD:
          // The store has them (early by our clock); what follows links to them once they are released.
          held = true;
          if (res.applied > 0) wrote = true;
          heights.standing.backed(peer, last);
          progress.next += blocks.length;
          break;
        case PutResult.TOO_EARLY:
          return { kind: "too_early", peer, retryAfterMs: Math.max(res.retryAfterMs, 100) };
        case PutResult.FORK_TOO_DEEP:
          return { kind: "fork_too_deep", peer, detail: res.detail };
        case PutResult.INVALID: {
          const reason = enumLabel(BlockInvalidReasonSchema, res.invalidReason);
          metrics.validationFailures.inc({ reason });
          return { kind: "invalid", peer, height: next + res.invalidIndex, reason, detail: res.detail };
        }
        case PutResult.PARENT_UNKNOWN:
          // Our chain reaches the parent's height but not its hash: a fork. Fetch
          // again from twice the reorg limit below (so the store can tell "too deep"
          // from "unrelated") and let the store decide, round by round.
          if (progress.rewound) return { kind: "does_not_link", peer, from: next };
          progress.rewound = true;
          progress.next = Math.max(1, next - 2 * this.o.maxReorgDepth);
          break;
        default:
          return { kind: "store_failed", detail: `unexpected PutBlocks result ${enumLabel(PutResultSchema, res.result)}` };
      }
    }
    if (held) return { kind: "held", peer };
    if (wrote) return { kind: "applied", peer };
    if (!keptAside) return { kind: "already_have" };
    // It lacks our branch: told our tip, so that its own fork choice can see both.
    void this.o.tipAnnouncer?.announceTo(peer);
    // A tip it announced (or said Hello with) at or below ours is no claim that its branch should win: nothing to count against it.
    if (forkPeer !== undefined) return { kind: "losing_tip", peer };
    return { kind: "fork_not_preferred", peer, ...heights.servedLosingBranch(peer, Date.now()), graceMs: this.o.losingBranchGraceMs };
  }

  /**
   * A GetBlocks that brought no blocks, and what it does to the peer's
   * standing. No blocks at least max_reorg_depth below its claim proves the
   * claim unbacked (its final height never goes down, so no reorg explains
   * it; we asked within the claim). Leaving, a timeout, or no blocks nearer
   * its claim prove nothing: when that was a probe, its claims are only
   * suspended for a while.
   */
  private unanswered(fetched: FetchFailure, peer: PeerIp, next: number, claim: number, probedUpTo: number | undefined): BatchOutcome {
    const { heights } = this.o;
    if (fetched.kind === "empty") {
      heights.lower(peer, next - 1);
      if (next + this.o.maxReorgDepth <= claim) return { kind: "unbacked_claim", peer, from: next, claim, report: heights.standing.unbacked(peer, claim) };
    }
    if (probedUpTo !== undefined && (fetched.kind === "empty" || fetched.kind === "peer_left" || fetched.kind === "timeout")) heights.standing.probeFailed(peer, probedUpTo);
    return { ...fetched, peer, from: next };
  }

  /** Carries out the verdict on a batch's outcome: report, then ack, reassign or hand back. */
  private async settle(msg: JsMsg, batch: SyncBatch, forkPeer: PeerIp | undefined, outcome: BatchOutcome, progress: Progress): Promise<void> {
    const v = forkPeer === undefined ? verdict(outcome) : probeVerdict(verdict(outcome), msg.info.deliveryCount);
    // A probe that brought a branch (we switched to it, or keep it aside) was worth it; any other stretches the peer's interval.
    if (forkPeer !== undefined && v.action === "ack") this.o.forkProbes?.probeDone(forkPeer, outcome.kind === "applied" || outcome.kind === "losing_tip");
    const peer = "peer" in outcome ? outcome.peer : undefined;
    this.o.metrics.batches.inc({ result: outcome.kind });
    if (progress.rewound) this.o.metrics.forkFetches.inc({ result: outcome.kind });
    const log = { peer_ip: peer ?? forkPeer ?? null, from: batch.fromHeight, count: batch.count, next: progress.next, result: outcome.kind, fork_probe: forkPeer !== undefined, detail: v.detail };
    switch (v.action) {
      case "ack":
        if (outcome.kind === "fork_too_deep") this.o.logger.error(log, "batch refused: fork too deep");
        if (outcome.kind === "no_peer") this.o.logger.info(log, "batch dropped: nobody in good standing claims it");
        if (forkPeer !== undefined) this.o.logger.info(log, "fork probe done");
        if (v.offence !== undefined && peer !== undefined) this.report(peer, v.offence, v.detail);
        msg.ack();
        this.done++;
        return;
      case "hand_back":
        this.o.logger.info({ ...log, delay_ms: v.delayMs }, "batch handed back");
        if (v.delayMs > 0) msg.nak(v.delayMs);
        else msg.nak();
        return;
      case "reassign": {
        if (peer === undefined) throw new Error(`reassign without a peer: ${outcome.kind}`);
        if (v.offence !== undefined) this.report(peer, v.offence, v.detail);
        this.o.heights.failed(peer);
        // Only the rest: what this batch already wrote stays written.
        const next = Math.max(progress.next, batch.fromHeight);
        const rest = { ...batch, fromHeight: next, count: batch.fromHeight + batch.count - next, triedPeers: [...batch.triedPeers, peer] };
        return this.requeue(msg, rest, log);
      }
      case "reassign_all":
        return this.requeue(msg, { ...batch, triedPeers: [] }, log);
      default: {
        const unhandled: never = v;
        throw new Error(`unhandled verdict ${JSON.stringify(unhandled)}`);
      }
    }
  }

  /** Puts (the rest of) a batch back on the queue as a new message, then acks the old one; if refused, the old one is handed back. */
  private async requeue(msg: JsMsg, rest: SyncBatch, log: object): Promise<void> {
    let queued;
    try {
      queued = await publishBatch(this.o.queue, rest);
    } catch (err) {
      queued = `failed: ${(err as Error).message}`;
    }
    if (queued === "queued" || queued === "duplicate") {
      this.o.logger.info({ ...log, rest_from: rest.fromHeight, rest_count: rest.count }, "batch reassigned");
      msg.ack();
      return;
    }
    // Not re-queued (the queue is full, or NATS failed): the batch itself goes back instead, so it is never lost.
    if (queued === "refused") this.o.metrics.batchesRefused.inc({ by: "requeue" });
    this.o.logger.warn({ ...log, why: queued }, "batch could not be re-queued; handed back as it was");
    msg.nak(1_000);
  }

  /** The store's answer, why there is none, or STOPPED (never sent once stopping; waited for briefly once sent). */
  private async put(blocks: Block[], signal: AbortSignal): Promise<PutBlocksResponse | string | typeof STOPPED> {
    let res;
    for (let tries = 1; ; tries++) {
      if (signal.aborted) return STOPPED;
      try {
        res = await unlessAborted(this.o.store.putBlocks({ blocks }, { deadlineMs: 30_000 }), signal, STOP_PUT_GRACE_MS);
        break;
      } catch (err) {
        // The store's writer has STORE_IMPORT_QUEUE puts waiting (many replicas): the fetched blocks are kept and offered again.
        if ((err as { code?: number }).code !== status.RESOURCE_EXHAUSTED || tries === MAX_STORE_BUSY_TRIES) return (err as Error).message;
        this.o.metrics.puts.inc({ result: "store_busy" });
        if (!(await pause(STORE_BUSY_BACKOFF_MS * tries, signal))) return STOPPED;
      }
    }
    if (res === STOPPED) return STOPPED;
    if (res.tip) this.o.tip.update(res.tip.height, res.tip.hash);
    return res;
  }

  /**
   * Holds a batch (its blocks reserved in the bounded buffer) until the tip
   * reaches `height`, keeping the message alive. A parked batch gives up its
   * slot (another replica may hold the batch the chain needs next, so none of
   * ours may stop this one from fetching the one after): only the buffer
   * bounds how many wait; beyond it a batch is handed back.
   */
  private async waitForParent(msg: JsMsg, height: number, blocks: number, signal: AbortSignal): Promise<"reached" | "timeout" | "no_room"> {
    if (!this.o.buffer.tryReserve(blocks)) return "no_room";
    this.parked++;
    this.wake();
    this.o.metrics.bufferedBlocks.set(this.o.buffer.size);
    const keepAlive = setInterval(() => msg.working(), Math.max(100, Math.floor(this.o.ackWaitMs / 3)));
    try {
      return (await this.o.tip.waitFor(height, this.o.maxWaitMs, signal)) ? "reached" : "timeout";
    } finally {
      clearInterval(keepAlive);
      this.parked--;
      this.o.buffer.release(blocks);
      this.o.metrics.bufferedBlocks.set(this.o.buffer.size);
    }
  }

}

/** The peer a fork probe batch asks (alone), or undefined for a batch of the plan. */
function forkPeerOf(batch: SyncBatch): PeerIp | undefined {
  return batch.forkPeer !== "" && isValidIp(batch.forkPeer) ? normalizeIp(batch.forkPeer) : undefined;
}
