import type { Logger } from "@timenet/telemetry";
import type { SyncMetrics } from "./metrics.js";
import type { PeerHeights } from "./peer-heights.js";
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
  replanAfterMs: number;
}

/**
 * Turns the gap between our tip and the best peer's height into batches on
 * the work queue. Runs only on the replica holding the planner lease. Never
 * queues more than maxPendingBatches untaken batches; if the tip stops
 * moving while we are behind, the range is planned again (a lost batch
 * cannot stall the sync; a duplicate is just "already have").
 */
export class BatchPlanner {
  private planned = 0;
  private planId = BigInt(Date.now());
  private planning = false;
  private lastReplanAt = Date.now();

  constructor(private readonly o: BatchPlannerOptions) {}

  /** The last height queued by this plan. */
  get plannedUpTo(): number {
    return this.planned;
  }

  /** A new leader starts from our tip. */
  reset(): void {
    this.planned = this.o.tip.height;
    this.planId++;
    this.lastReplanAt = Date.now();
  }

  async plan(): Promise<void> {
    if (this.planning) return;
    this.planning = true;
    try {
      await this.planOnce();
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, "planning failed; retrying at the next tick");
    } finally {
      this.planning = false;
    }
  }

  private async planOnce(): Promise<void> {
    const { tip, heights, queue, metrics, logger } = this.o;
    const best = heights.best();
    const ours = tip.height;
    if (!best || best.height <= ours) {
      this.planned = ours;
      return;
    }
    const now = Date.now();
    if (this.planned < ours) this.planned = ours;
    if (now - tip.changedAt > this.o.replanAfterMs && now - this.lastReplanAt > this.o.replanAfterMs && this.planned > ours) {
      logger.warn({ our_height: ours, planned_up_to: this.planned, best_peer_ip: best.ip, best_height: best.height }, "no progress; planning the range again");
      this.planned = ours;
      this.planId++;
      this.lastReplanAt = now;
    }
    if (this.planned >= best.height) return;
    let { pending } = await queueDepth(queue);
    const first = this.planned + 1;
    while (this.planned < best.height && pending < this.o.maxPendingBatches) {
      const from = this.planned + 1;
      const count = Math.min(this.o.batchSize, best.height - this.planned);
      const queued = await publishBatch(queue, { fromHeight: from, count, plannedAtMs: BigInt(now), planId: this.planId }, `${this.planId}:${from}:${count}`);
      if (queued === "refused") {
        // The queue is at its bound: this range stays unplanned and is tried again at the next tick.
        metrics.batchesRefused.inc({ by: "planner" });
        logger.warn({ from, count, planned_up_to: this.planned }, "work queue full: batch refused; planning resumes from it at the next tick");
        break;
      }
      metrics.batchesPlanned.inc();
      this.planned += count;
      pending++;
    }
    if (this.planned >= first) {
      logger.debug({ from: first, to: this.planned, best_peer_ip: best.ip, best_height: best.height }, "batches planned");
    }
  }
}
