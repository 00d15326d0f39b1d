import type { Registry } from "prom-client";
import { hashHex, maxTxBytes } from "@timenet/chain";
import { BlockProducerService, BlockStoreService, ChainTipSchema, PeerMessageSchema, Subjects } from "@timenet/proto";
import { ServiceFrame } from "@timenet/service-runtime";
import { createGrpcClient } from "@timenet/grpc";
import type { Logger } from "@timenet/telemetry";
import { Mempool } from "./mempool.js";
import { ProducerMetrics } from "./metrics.js";
import { resolveBlockProducerOptions, type BlockProducerOptions, type ResolvedBlockProducerOptions } from "./options.js";
import { resolveProducerIdentity, type ProducerIdentity } from "./producer-key.js";
import { producerServiceImpl } from "./producer-service.js";
import { Production, type ProductionStatus } from "./production.js";

export interface BlockProducer {
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly options: ResolvedBlockProducerOptions;
  readonly identity: ProducerIdentity;
  readonly mempool: Mempool;
  readonly registry: Registry;
  readonly logger: Logger;
  status(): ProductionStatus;
  stop(): Promise<void>;
}

/**
 * Starts a block-producer: checks its key is one of the network's producers
 * (ProducerError otherwise), fills its mempool from p2p.in.tx, follows the
 * block-store's tip (chain.tip, GetTip) and makes a block with PutBlocks
 * whenever it is its turn. Several can run in one process (tests, devnet).
 */
export async function startBlockProducer(options: BlockProducerOptions): Promise<BlockProducer> {
  const o = resolveBlockProducerOptions(options);
  // Before anything opens: a key that is not a producer stops the start here.
  const identity = await resolveProducerIdentity(o.key, o.network);
  return ServiceFrame.start("block-producer", o, async (frame) => {
    const { logger, registry, cleanups } = frame;

    const mempool = new Mempool({ maxTxs: o.mempoolMaxTxs, maxBytes: o.mempoolMaxBytes, maxTxBytes: maxTxBytes(o.network) });
    const metrics = new ProducerMetrics(registry, () => ({ txs: mempool.size, bytes: mempool.bytes }));

    const store = createGrpcClient(BlockStoreService, o.blockStoreGrpc, { tls: o.tls });
    cleanups.push(() => store.close());
    const production = new Production({
      network: o.network,
      identity,
      intervalMs: o.network.blockIntervalMs,
      store,
      mempool,
      metrics,
      logger,
      storeDeadlineMs: o.storeDeadlineMs,
      retryMs: o.retryMs,
      evictionDepth: o.evictionDepth,
      now: o.now,
    });

    const bus = await frame.connectBus();

    const subs = [
      bus.subscribe(Subjects.peerIn("tx"), PeerMessageSchema, (m) => {
        const p = m.envelope?.payload;
        if (p?.case !== "tx") return;
        const admission = mempool.add(p.value.data);
        if (admission !== "added") metrics.txsDropped.inc({ reason: admission });
      }),
      bus.subscribe(Subjects.chainTip, ChainTipSchema, (tip) => production.onTipEvent(tip)),
    ];
    cleanups.push(() => subs.forEach((s) => s.unsubscribe()));
    production.start();
    cleanups.push(() => production.stop());

    await frame.serve(
      [{ service: BlockProducerService, impl: producerServiceImpl({ identity, producers: o.network.producers.length, mempool, production }) }],
      [
        { name: "nats", check: () => bus.connected },
        { name: "block_store", check: () => production.storeReachable },
      ],
    );

    frame.started({
      network: o.network.name,
      producer_id: hashHex(identity.key.publicKey),
      producer_index: identity.index,
      producers: o.network.producers.length,
      key: identity.origin,
      interval_ms: o.network.blockIntervalMs,
      block_store: o.blockStoreGrpc,
    });

    return {
      grpcPort: frame.grpcPort,
      metricsPort: frame.metricsPort,
      options: o,
      identity,
      mempool,
      registry,
      logger,
      status: () => production.status(),
      stop: () => frame.stop(),
    };
  });
}
