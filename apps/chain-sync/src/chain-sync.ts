import type { Registry } from "prom-client";
import { BlockStoreService, Buckets, ChainSyncService, ChainTipSchema, decodeGatewayState, OffenceKind, OffenceSchema, PeerMessageSchema, Subjects, WorkerHeartbeatSchema } from "@timenet/proto";
import { isValidIp, normalizeIp } from "@timenet/net-address";
import { StateBucket } from "@timenet/bus";
import { createGrpcClient } from "@timenet/grpc";
import { STORE_REQUEST_ENCODERS } from "./received-blocks.js";
import type { Logger } from "@timenet/telemetry";
import { ServiceFrame } from "@timenet/service-runtime";
import { BatchPlanner } from "./batch-planner.js";
import { BatchWorker } from "./batch-worker.js";
import { BlockBuffer } from "./block-buffer.js";
import { ClaimStanding } from "./claim-standing.js";
import { ConnectedPeers } from "./connected-peers.js";
import { ForkProbes } from "./fork-probes.js";
import { SyncMetrics } from "./metrics.js";
import { resolveChainSyncOptions, type ChainSyncOptions, type ResolvedChainSyncOptions } from "./options.js";
import { PeerHeights } from "./peer-heights.js";
import { offenceReporter } from "./offence-report.js";
import { PlannerLease } from "./planner-lease.js";
import { PushedBlocks } from "./pushed-blocks.js";
import { SyncProgress } from "./sync-progress.js";
import { SyncWindow } from "./sync-window.js";
import { syncServiceImpl } from "./sync-service.js";
import { TipAnnouncer } from "./tip-announcer.js";
import { TipTracker } from "./tip-tracker.js";
import { openWorkQueue } from "./work-queue.js";

export interface ChainSync {
  readonly workerId: string;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly options: ResolvedChainSyncOptions;
  readonly tip: TipTracker;
  readonly heights: PeerHeights;
  readonly registry: Registry;
  readonly logger: Logger;
  isPlanner(): boolean;
  stop(): Promise<void>;
}

/**
 * Starts one chain-sync replica: a worker on the batches' work queue, a
 * candidate for the planner lease, and the follower of new blocks. Any
 * number of replicas share one node's NATS and block-store.
 */
export async function startChainSync(options: ChainSyncOptions): Promise<ChainSync> {
  const o = resolveChainSyncOptions(options);
  return ServiceFrame.start("chain-sync", o, async (frame) => {
    const { logger, registry, cleanups } = frame;
    const metrics = new SyncMetrics(registry);
    // A throwing listener is a bug: counted and logged, while the emitter (a NATS handler, a PutBlocks answer) carries on.
    const onListenerError = (event: string, err: unknown) => {
      metrics.listenerErrors.inc({ event });
      logger.error({ event, err }, "event listener threw");
    };
    const tip = new TipTracker(onListenerError);
    // Planning looks again at once when a claim stops steering (planNow is defined below; only a worker's probe calls this).
    const standing = new ClaimStanding({ maxEntries: o.maxStandingEntries, unbackedForMs: o.unbackedClaimMs }, (ip, reason, forMs) => {
      metrics.claimsDistrusted.inc({ reason });
      metrics.standingEntries.set(standing.size);
      logger.warn({ peer_ip: ip, reason, for_ms: forMs }, "peer's height claims steer nothing for a while");
      planNow();
    });
    const heights = new PeerHeights(standing);
    const progress = new SyncProgress();
    const genesisHex = Buffer.from(o.network.genesisHash).toString("hex");

    const bus = await frame.connectBus(`chain-sync-${o.workerId}`);
    const store = createGrpcClient(BlockStoreService, o.blockStoreGrpc, { tls: o.tls, encoders: STORE_REQUEST_ENCODERS });
    cleanups.push(() => store.close());

    // Our tip: from the store now, then from chain.tip and every PutBlocks answer.
    tip.on("advanced", (h) => {
      metrics.ourHeight.set(h);
      progress.record(h);
    });
    const first = await store.getTip({}, { deadlineMs: 5_000 });
    if (first.tip) {
      if (Buffer.from(first.tip.genesisHash).toString("hex") !== genesisHex) {
        throw new Error(`the block-store's genesis ${Buffer.from(first.tip.genesisHash).toString("hex")} is not network ${o.network.name}'s ${genesisHex}`);
      }
      tip.update(first.tip.height, first.tip.hash);
    }

    const queue = await openWorkQueue(bus.connection, {
      ackWaitMs: o.ackWaitMs,
      maxPendingBatches: o.maxPendingBatches,
      onRestored: (what) => {
        metrics.natsStateRestored.inc({ what: `work_queue_${what}` });
        logger.warn({ lost: what }, "the work queue was gone from NATS (its store lost?): declared again; the batches it held are planned again");
      },
    });
    const forkProbes = new ForkProbes({ queue, store, tip, heights, metrics, logger, maxReorgDepth: o.network.maxReorgDepth, intervalMs: o.forkProbeIntervalMs });
    cleanups.push(() => forkProbes.stop());
    const tipAnnouncer = new TipAnnouncer({ bus, store, metrics, logger });
    // Every replica looks at the tips it hears (no lease needed: the work queue drops a probe queued twice).
    tip.on("advanced", () => forkProbes.onTipMoved());
    const lease = new PlannerLease({ nc: bus.connection, workerId: o.workerId, ttlMs: o.leaseTtlMs, logger, metrics, onListenerError });
    const window = new SyncWindow({ batchSize: o.batchSize, batchMaxBytes: o.batchMaxBytes, minBatches: o.windowMinBatches, maxBatches: o.windowMaxBatches, progress });
    const planner = new BatchPlanner({
      queue,
      heights,
      tip,
      metrics,
      logger,
      batchSize: o.batchSize,
      maxPendingBatches: o.maxPendingBatches,
      lookaheadBatches: o.lookaheadBatches,
      replanAfterMs: o.replanAfterMs,
      window,
    });
    const planNow = () => {
      const best = heights.best();
      metrics.bestPeerHeight.set(best?.height ?? 0);
      metrics.standingEntries.set(standing.size);
      if (lease.leader) void planner.plan();
    };
    // The horizon moves with the tip: what the last batch backed makes room for the next.
    tip.on("advanced", () => planNow());
    lease.on("changed", (leader) => {
      metrics.plannerLeader.set(leader ? 1 : 0);
      if (leader) {
        planner.reset();
        planNow();
      }
    });

    const pushed = new PushedBlocks({ store, tip, heights, metrics, logger, report: offenceReporter(bus, metrics, logger) });
    const subs = [
      bus.subscribe(Subjects.chainTip, ChainTipSchema, (t) => {
        if (Buffer.from(t.genesisHash).toString("hex") === genesisHex) tip.update(t.height, t.hash);
      }),
      // Following: an announcement raises the peer's height; tip+1 is planned (and fetched) at once,
      // unless its block came with it and extends our tip: the planner replica puts it now, and plans only if that fails.
      // One at or below our height that we do not hold may be a heavier branch: probed (the planner alone would never fetch it).
      bus.subscribe(Subjects.peerIn("new_block"), PeerMessageSchema, (m) => {
        const p = m.envelope?.payload;
        if (p?.case !== "newBlock" || !isValidIp(m.peerIp)) return;
        const ip = normalizeIp(m.peerIp);
        heights.set(ip, p.value.height);
        void forkProbes.consider(ip, p.value.height, p.value.hash, p.value.header);
        if (lease.leader && pushed.offer(ip, p.value, planNow)) return;
        planNow();
      }),
      // Another replica proved a claim unbacked: this one stops trusting it too (and does not report it again).
      bus.subscribe(Subjects.offence, OffenceSchema, (off) => {
        if (off.kind === OffenceKind.UNBACKED_CLAIM && isValidIp(off.ip)) standing.reportedElsewhere(normalizeIp(off.ip));
      }),
    ];
    cleanups.push(() => subs.forEach((s) => s.unsubscribe()));

    // Who is connected: the gateway's state, read whole now, then followed.
    const connected = new ConnectedPeers(heights, genesisHex, planNow, {
      seen: (ip, height, hash) => void forkProbes.consider(ip, height, hash),
      gone: (ip) => {
        forkProbes.forget(ip);
        tipAnnouncer.forget(ip);
      },
    });
    const gatewayState = await StateBucket.follow(bus, Buckets.connections);
    const watch = await gatewayState.watch({ decode: decodeGatewayState }, (change) => connected.apply(change));
    cleanups.push(() => watch.stop());
    await watch.initialized;

    const worker = new BatchWorker({
      bus,
      queue,
      store,
      heights,
      tip,
      buffer: new BlockBuffer(o.maxBufferedBlocks),
      metrics,
      logger,
      concurrency: o.concurrency,
      putsAhead: o.putsAhead,
      requestTimeoutMs: o.requestTimeoutMs,
      maxWaitMs: o.maxWaitMs,
      ackWaitMs: o.ackWaitMs,
      maxReorgDepth: o.network.maxReorgDepth,
      losingBranchGraceMs: o.losingBranchGraceMs,
      tipAnnouncer,
      forkProbes,
      window,
    });
    await worker.start();
    cleanups.push(() => worker.stop());

    await lease.start();
    cleanups.push(() => lease.stop());

    // Heartbeats: how many workers share the queue (Status, metrics).
    const seen = new Map<string, number>();
    const workersSeen = () => {
      const cutoff = Date.now() - 3 * o.heartbeatMs;
      for (const [id, at] of seen) if (at < cutoff) seen.delete(id);
      return seen.size;
    };
    subs.push(
      bus.subscribe(Subjects.syncWorkerHeartbeat, WorkerHeartbeatSchema, (hb) => {
        if (seen.size < 1_000 || seen.has(hb.workerId)) seen.set(hb.workerId, Date.now());
      }),
    );
    const beat = () => {
      bus.publish(Subjects.syncWorkerHeartbeat, WorkerHeartbeatSchema, { workerId: o.workerId, planner: lease.leader, batchesInFlight: worker.inFlight, atMs: BigInt(Date.now()) });
      metrics.workersSeen.set(workersSeen());
    };
    const timers = [setInterval(planNow, o.planIntervalMs), setInterval(beat, o.heartbeatMs)];
    cleanups.push(() => timers.forEach((t) => clearInterval(t)));
    beat();

    await frame.serve(
      [{ service: ChainSyncService, impl: syncServiceImpl({ workerId: o.workerId, tip, heights, lease, worker, queue, progress, workersSeen }) }],
      [{ name: "nats", check: () => bus.connected }],
    );

    frame.started({ worker: o.workerId, height: tip.height, network: o.network.name });
    return {
      workerId: o.workerId,
      grpcPort: frame.grpcPort,
      metricsPort: frame.metricsPort,
      options: o,
      tip,
      heights,
      registry,
      logger,
      isPlanner: () => lease.leader,
      stop: () => frame.stop(),
    };
  });
}
