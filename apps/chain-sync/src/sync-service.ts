import type { ChainSyncService } from "@timenet/proto";
import type { ServiceImpl } from "@timenet/grpc";
import type { BatchWorker } from "./batch-worker.js";
import type { PeerHeights } from "./peer-heights.js";
import type { PlannerLease } from "./planner-lease.js";
import type { SyncProgress } from "./sync-progress.js";
import type { TipTracker } from "./tip-tracker.js";
import { queueDepth, type WorkQueue } from "./work-queue.js";

export interface SyncServiceDeps {
  workerId: string;
  tip: TipTracker;
  heights: PeerHeights;
  lease: PlannerLease;
  worker: BatchWorker;
  queue: WorkQueue;
  progress: SyncProgress;
  workersSeen(): number;
}

/** ChainSyncService.Status: where we are, where the network is, and how fast we close the gap. */
export function syncServiceImpl(d: SyncServiceDeps): ServiceImpl<typeof ChainSyncService> {
  return {
    async status() {
      const best = d.heights.best();
      const depth = await queueDepth(d.queue).catch(() => ({ pending: 0, inFlight: 0 }));
      const rate = d.progress.blocksPerSecond();
      const gap = Math.max(0, (best?.height ?? 0) - d.tip.height);
      return {
        ourHeight: d.tip.height,
        bestPeerHeight: best?.height ?? 0,
        bestPeerIp: best?.ip ?? "",
        batchesPending: depth.pending,
        batchesInFlight: depth.inFlight,
        batchesDone: BigInt(d.worker.done),
        workersSeen: d.workersSeen(),
        blocksPerSecond: rate,
        etaSeconds: gap === 0 ? 0 : rate > 0 ? gap / rate : -1,
        planner: d.lease.holder,
        isPlanner: d.lease.leader,
        workerId: d.workerId,
      };
    },
  };
}
