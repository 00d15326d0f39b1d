import type { Registry } from "prom-client";
import { hashHex } from "@timenet/chain";
import { BlockStoreService, ChainTipSchema, Subjects } from "@timenet/proto";
import { Bus, busLogHooks } from "@timenet/bus";
import { CleanupStack } from "@timenet/service-runtime";
import { startGrpcServer } from "@timenet/grpc";
import { createLogger, createRegistry, startTelemetryServer, type Logger } from "@timenet/telemetry";
import { BlockStore } from "./block-store.js";
import { blockStoreServiceImpl } from "./block-store-service.js";
import { StoreMetrics } from "./metrics.js";
import { resolveBlockStoreOptions, type BlockStoreOptions, type ResolvedBlockStoreOptions } from "./options.js";
import { servePeers } from "./serve-peers.js";

/** Room left in a NATS message for SendToPeer and Envelope around the blocks. */
const REPLY_OVERHEAD_BYTES = 1024;

export interface BlockStoreHandle {
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly options: ResolvedBlockStoreOptions;
  readonly store: BlockStore;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Publishes the tip on chain.tip now. */
  publishTip(): void;
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
  const logger = o.logger ?? createLogger({ service: "block-store", node: o.node, level: o.logLevel });
  const registry = createRegistry({ service: "block-store", node: o.node });
  const metrics = new StoreMetrics(registry);
  const cleanups = new CleanupStack();

  try {
    const store = await BlockStore.open(o.dbPath, { network: o.network, maxReorgDepth: o.maxReorgDepth, metrics, logger, now: o.now });
    cleanups.push(() => store.close());

    const bus = await Bus.connect({
      servers: o.natsUrl,
      name: `block-store-${o.node}`,
      user: o.natsUser,
      pass: o.natsPass,
      ...busLogHooks(logger),
    });
    cleanups.push(() => bus.close());

    const publishTip = () => {
      bus.publish(Subjects.chainTip, ChainTipSchema, store.chainTip());
    };

    // A reply larger than the server's max_payload could never be published.
    const natsMax = bus.connection.info?.max_payload;
    const serveMaxBytes = natsMax === undefined ? o.serveMaxBytes : Math.min(o.serveMaxBytes, natsMax - REPLY_OVERHEAD_BYTES);
    if (serveMaxBytes < o.serveMaxBytes) {
      logger.warn({ serve_max_bytes: o.serveMaxBytes, nats_max_payload: natsMax, using: serveMaxBytes }, "SERVE_MAX_BYTES exceeds the NATS server's max_payload: answers to peers are capped lower");
    }
    const peers = servePeers({ bus, store, metrics, logger, maxBlocks: o.serveMaxBlocks, maxBytes: serveMaxBytes });
    cleanups.push(() => peers.unsubscribe());

    const republish = setInterval(publishTip, o.tipRepublishMs);
    cleanups.push(() => clearInterval(republish));
    publishTip();

    const grpc = await startGrpcServer({
      host: o.grpcHost,
      port: o.grpcPort,
      services: [
        {
          service: BlockStoreService,
          impl: blockStoreServiceImpl({
            store,
            onPut: (outcome) => {
              if (!outcome.tipChanged) return;
              publishTip();
              logger.debug({ height: outcome.tip.height, hash: hashHex(outcome.tip.hash), applied: outcome.applied }, "new tip");
            },
          }),
        },
      ],
      logger,
    });
    cleanups.push(() => grpc.stop());

    const telemetry = await startTelemetryServer({
      host: o.metricsHost,
      port: o.metricsPort,
      registry,
      logger,
      readiness: [{ name: "nats", check: () => bus.connected }],
    });
    cleanups.push(() => telemetry.stop());

    logger.info(
      {
        grpc: grpc.port,
        metrics: telemetry.port,
        db: o.dbPath,
        network: o.network.name,
        genesis: hashHex(o.network.genesisHash),
        height: store.tip.height,
        tip: hashHex(store.tip.hash),
        max_reorg_depth: o.maxReorgDepth,
      },
      "block-store started",
    );

    return {
      grpcPort: grpc.port,
      metricsPort: telemetry.port,
      options: o,
      store,
      registry,
      logger,
      publishTip,
      async stop() {
        logger.info("block-store stopping");
        await cleanups.run();
        logger.info("block-store stopped");
      },
    };
  } catch (err) {
    await cleanups.run();
    throw err;
  }
}
