import type { Registry } from "prom-client";
import { hashHex } from "@timenet/chain";
import { BlockStoreService, ChainTipSchema, PutResult, Subjects } from "@timenet/proto";
import { ServiceFrame } from "@timenet/service-runtime";
import type { Logger } from "@timenet/telemetry";
import { BlockStore, type PutOutcome } from "./block-store.js";
import { blockStoreServiceImpl } from "./block-store-service.js";
import { BLOCK_STORE_DECODERS } from "./put-blocks-request.js";
import { StoreMetrics } from "./metrics.js";
import { resolveBlockStoreOptions, type BlockStoreOptions, type ResolvedBlockStoreOptions } from "./options.js";
import { mainThreadBackend } from "./serve-backend.js";
import type { ServeBudgetLimits } from "./serve-budget.js";
import { PeerServer } from "./serve-peers.js";
import { ServeThread } from "./serve-thread.js";
import { ImportPipeline } from "./import-pipeline.js";
import { VerifyPool } from "./verify-pool.js";

/** Room left in a NATS message for SendToPeer and Envelope around the blocks. */
const REPLY_OVERHEAD_BYTES = 1024;

export interface BlockStoreHandle {
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly options: ResolvedBlockStoreOptions;
  readonly store: BlockStore;
  /** PutBlocks' way in: validation workers, then the single writer. */
  readonly importer: ImportPipeline;
  /** Answers to peers' GetBlocks (its backend: the serving worker, or the main thread). */
  readonly serving: PeerServer;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Publishes the tip on chain.tip now (`withBlock`: with the tip block, as after the put that made it). */
  publishTip(withBlock?: boolean): void;
  stop(): Promise<void>;
}

/**
 * Starts a block-store: the chain in LMDB (genesis written to an empty store,
 * a foreign genesis refused), gRPC BlockStoreService, the tip on chain.tip,
 * answers to peers' GetBlocks, and metrics. Several can run in one process
 * (tests, devnet).
 */
export async function startBlockStore(options: BlockStoreOptions): Promise<BlockStoreHandle> {
  const o = resolveBlockStoreOptions(options);
  return ServiceFrame.start("block-store", o, async (frame) => {
    const { logger, registry, cleanups } = frame;
    const metrics = new StoreMetrics(registry);

    // Worker threads load their modules while this thread opens the chain and connects to NATS
    // (started one after the other, a store waited ~0.9 s for them on an idle machine).
    const pool =
      o.validation === "workers"
        ? new VerifyPool({ limits: { maxTxs: o.network.maxTxs, maxBlockBytes: o.network.maxBlockBytes }, logger, metrics, threads: o.verifyThreads || undefined, queueMax: o.verifyQueue })
        : undefined;
    // Runs last: the importer stops the pool once its puts are done; this ends it when the start failed before.
    if (pool) cleanups.push(() => pool.stop());

    const store = await BlockStore.open(o.dbPath, {
      network: o.network,
      side: { maxBlocks: o.sideMaxBlocks, maxBytes: o.sideMaxBytes },
      hold: { maxBlocks: o.holdMaxBlocks, maxBytes: o.holdMaxBytes, maxAheadMs: o.holdMaxAheadMs },
      metrics,
      logger,
      now: o.now,
    });
    cleanups.push(() => store.close());

    // The serving worker opens the chain the store has just opened (and created, on a first start).
    const budget: ServeBudgetLimits = {
      peer: { bytesPerSec: o.servePeerRate, burstBytes: o.servePeerBurst },
      global: { bytesPerSec: o.serveGlobalRate, burstBytes: o.serveGlobalBurst },
      maxPeers: o.serveMaxPeers,
    };
    const backend = o.serveThread === "main" ? mainThreadBackend(store, budget) : new ServeThread({ dbPath: o.dbPath, budget, logger, metrics });
    // Awaited by the PeerServer's start (the same promise); a failure before that is the start's failure, not an unhandled rejection.
    backend.start().catch(() => {});
    // Runs after the store closes when the start failed before serving began; otherwise a no-op by then.
    cleanups.push(() => backend.stop());

    await pool?.ready();
    const importer = new ImportPipeline(store, pool, metrics, { maxQueuedPuts: o.importQueue, maxGroupPuts: o.groupCommitPuts, parentWaitMs: o.parentWaitMs });
    // Pushed after the store: puts accepted so far are committed before it closes.
    cleanups.push(() => importer.stop());

    const bus = await frame.connectBus();

    const publishTip = (withBlock = false) => {
      bus.publish(Subjects.chainTip, ChainTipSchema, store.chainTip(withBlock));
    };

    // A reply larger than the server's max_payload could never be published.
    const natsMax = bus.connection.info?.max_payload;
    const serveMaxBytes = natsMax === undefined ? o.serveMaxBytes : Math.min(o.serveMaxBytes, natsMax - REPLY_OVERHEAD_BYTES);
    if (serveMaxBytes < o.serveMaxBytes) {
      logger.warn({ serve_max_bytes: o.serveMaxBytes, nats_max_payload: natsMax, using: serveMaxBytes }, "SERVE_MAX_BYTES exceeds the NATS server's max_payload: answers to peers are capped lower");
    }
    const serving = new PeerServer({
      bus,
      backend,
      metrics,
      logger,
      maxBlocks: o.serveMaxBlocks,
      maxBytes: serveMaxBytes,
      queueMax: o.serveQueue,
      queuePerPeer: o.serveQueuePerPeer,
      maxBacklogBytes: o.serveMaxBacklog,
    });
    // Pushed after the store and the bus: it ends (its worker answers what it holds) before either closes.
    cleanups.push(() => serving.stop());
    await serving.start();

    const republish = setInterval(() => publishTip(), o.tipRepublishMs);
    cleanups.push(() => clearInterval(republish));
    publishTip();

    // Early blocks are released by a timer armed for the next one due (by our clock).
    let releaseTimer: NodeJS.Timeout | undefined;
    const armRelease = () => {
      clearTimeout(releaseTimer);
      const due = store.nextDueMs();
      if (due === undefined) return;
      releaseTimer = setTimeout(() => {
        for (const outcome of store.releaseDue()) onPut(outcome);
        // A put waiting for a parent that was held is not waiting for a put: it goes now.
        importer.releaseStored();
        armRelease();
      }, Math.max(0, due - o.now()));
    };
    cleanups.push(() => clearTimeout(releaseTimer));
    const onPut = (outcome: PutOutcome) => {
      if (outcome.result === PutResult.HELD) armRelease();
      if (!outcome.tipChanged) return;
      // A new tip carries its block: the gateway pushes a small one to peers with its announcement.
      publishTip(true);
      logger.debug({ height: outcome.tip.height, hash: hashHex(outcome.tip.hash), applied: outcome.applied }, "new tip");
    };
    const impl = blockStoreServiceImpl({ store, importer, onPut });
    await frame.serve([{ service: BlockStoreService, impl, decoders: BLOCK_STORE_DECODERS }], [{ name: "nats", check: () => bus.connected }]);

    frame.started({
      db: o.dbPath,
      network: o.network.name,
      genesis: hashHex(o.network.genesisHash),
      height: store.tip.height,
      tip: hashHex(store.tip.hash),
      max_reorg_depth: o.network.maxReorgDepth,
      serving_on: serving.backend.where,
    });

    return {
      grpcPort: frame.grpcPort,
      metricsPort: frame.metricsPort,
      options: o,
      store,
      importer,
      serving,
      registry,
      logger,
      publishTip,
      stop: () => frame.stop(),
    };
  });
}
