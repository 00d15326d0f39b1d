import type { Logger } from "@timenet/telemetry";
import type { SyncMetrics } from "./metrics.js";
import type { PeerHeights } from "./peer-heights.js";
import type { SyncWindow } from "./sync-window.js";
import type { TipTracker } from "./tip-tracker.js";
import { publishBatch, queueDepth, type WorkQueue } from "./work-queue.js";

export interface BatchPlannerOptions {
  queue: WorkQueue;
  heights: PeerHeights;
  tip: TipTracker;
  metrics: SyncMetrics;
  logger: Logger;
  batchSize: number;
  maxPendingBatches: number;
  /** Batches planned beyond what is backed (see PeerHeights.horizon). */
  lookaheadBatches: number;
  replanAfterMs: number;
  /** How far beyond our tip batches are planned (the batch that crosses it included). Default: no limit but the others. */
  window?: SyncWindow;
}

/**
 * Turns the gap between our tip and the planning horizon into batches on
 * the work queue. Runs only on the replica holding the planner lease. The
 * horizon is what peers in good standing claim, but never more than
 * lookaheadBatches beyond what is backed: a claim is probed, not believed,
 * so one peer's lie cannot fill the queue with heights that do not exist.
 * Batches start no further than the sync window beyond our tip (sized
 * from the store's rate and the fetch time: see SyncWindow), so what is
 * fetched ahead is what the store will take soon.
 * When the best claim in good standing falls below the plan (its claimant
 * left or lost its standing), the plan falls with it, and what lies above is
 * planned again once a claim in good standing covers it. Never queues more than
 * maxPendingBatches untaken batches; if the tip stops moving while we are
 * behind, the range is planned again (a lost batch cannot stall the sync; a
 * duplicate is just "already have").
 */
export class BatchPlanner {
  private planned = 0;
  private planId = BigInt(Date.now());
  private planning = false;
  /** Asked to plan while planning: once more when done (the tip or a claim moved meanwhile). */
  private again = false;
  private lastReplanAt = Date.now();
  /** The work queue's generation planned into (see WorkQueue.generation). */
  private queueGeneration = 0;

  constructor(private readonly o: BatchPlannerOptions) {}

  /** The last height queued by this plan. */
  get plannedUpTo(): number {
    return this.planned;
  }

  /** A new leader starts from our tip. */
  reset(): void {
    this.setPlanned(this.o.tip.height);
    this.planId++;
    this.lastReplanAt = Date.now();
  }

  async plan(): Promise<void> {
    if (this.planning) {
      this.again = true;
      return;
    }
    this.planning = true;
    try {
      do {
        this.again = false;
        await this.planOnce();
      } while (this.again);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, "planning failed; retrying at the next tick");
    } finally {
      this.planning = false;
    }
  }

  private setPlanned(height: number): void {
    this.planned = height;
    this.o.metrics.plannedUpTo.set(height);
  }

  private async planOnce(): Promise<void> {
    const { tip, heights, queue, metrics, logger } = this.o;
    if (queue.generation !== this.queueGeneration) {
      // The queue was declared again (NATS lost it): the batches planned into the old one are gone.
      this.queueGeneration = queue.generation;
      logger.info({ planned_up_to: this.planned, our_height: tip.height }, "work queue declared again; planning from our height");
      this.reset();
    }
    const ours = tip.height;
    const horizon = heights.horizon(ours, this.o.lookaheadBatches * this.o.batchSize);
    // Only a claim that is gone or lost its standing drops the plan; the lookahead only paces it (it moves with a tip that may step back).
    const claimed = heights.best()?.height ?? 0;
    if (this.planned > Math.max(ours, claimed)) {
      // What lies above is claimed by nobody in good standing now: its batches are dropped by the workers, and planned again from here.
      logger.info({ our_height: ours, planned_up_to: this.planned, best_claim: claimed, horizon }, "claims above the plan are gone or unbacked; the plan falls back");
      this.planId++;
      this.setPlanned(Math.max(ours, horizon));
    }
    if (horizon <= ours) {
      this.setPlanned(ours);
      return;
    }
    const now = Date.now();
    if (this.planned < ours) this.setPlanned(ours);
    if (now - tip.changedAt > this.o.replanAfterMs && now - this.lastReplanAt > this.o.replanAfterMs && this.planned > ours) {
      const best = heights.best();
      logger.warn({ our_height: ours, planned_up_to: this.planned, best_peer_ip: best?.ip, best_height: best?.height }, "no progress; planning the range again");
      this.setPlanned(ours);
      this.planId++;
      this.lastReplanAt = now;
    }
    if (this.planned >= horizon) return;
    let { pending } = await queueDepth(queue);
    // Declared again meanwhile: plan again from our height, at once.
    const declaredAgain = () => queue.generation !== this.queueGeneration && (this.again = true);
    if (declaredAgain()) return;
    const first = this.planned + 1;
    const window = this.o.window?.blocks() ?? Number.POSITIVE_INFINITY;
    if (Number.isFinite(window)) metrics.windowBlocks.set(window);
    const batchBlocks = this.o.window?.batchBlocks() ?? this.o.batchSize;
    metrics.batchBlocks.set(batchBlocks);
    const limit = ours + window;
    while (this.planned < horizon && this.planned < limit && pending < this.o.maxPendingBatches) {
      const from = this.planned + 1;
      const count = Math.min(batchBlocks, horizon - this.planned);
      const queued = await publishBatch(queue, { fromHeight: from, count, plannedAtMs: BigInt(now), planId: this.planId }, `${this.planId}:${from}:${count}`);
      if (declaredAgain()) return;
      if (queued === "refused") {
        // The queue is at its bound: this range stays unplanned and is tried again at the next tick.
        metrics.batchesRefused.inc({ by: "planner" });
        logger.warn({ from, count, planned_up_to: this.planned }, "work queue full: batch refused; planning resumes from it at the next tick");
        break;
      }
      metrics.batchesPlanned.inc();
      this.setPlanned(this.planned + count);
      pending++;
    }
    if (this.planned >= first) logger.debug({ from: first, to: this.planned, horizon }, "batches planned");
  }
}
