import type { NetworkParams } from "@timenet/chain";
import { resolveServiceEndpoints, type ResolvedServiceEndpoints, type ServiceEndpointOptions } from "@timenet/service-runtime";

/** Everything startChainSync needs. Only NATS is required; the rest have the defaults shown. */
export interface ChainSyncOptions extends ServiceEndpointOptions {
  /** This replica's id in the work queue and the planner lease. Default: node + random suffix. */
  workerId?: string;
  network: NetworkParams;
  /** The block-store's gRPC address. Default 127.0.0.1:50054. */
  blockStoreGrpc?: string;
  /** The gateway's gRPC address (peers' heights at start). Default 127.0.0.1:50051. */
  gatewayGrpc?: string;
  /** Blocks per batch. Default 128. */
  batchSize?: number;
  /** Batches planned and not yet taken; the planner waits beyond this. Default 64. */
  maxPendingBatches?: number;
  /** Batches one replica works on at once. Default 4. */
  concurrency?: number;
  /** Blocks held in memory waiting for the chain to reach them, per replica. Default 4096. */
  maxBufferedBlocks?: number;
  /** A taken batch not acknowledged within this is redelivered to another worker. Default 30 s. */
  ackWaitMs?: number;
  /** GetBlocks timeout towards a peer. Default 10 s. */
  requestTimeoutMs?: number;
  /** A batch waiting for its parent longer than this is handed back. Default 20 s. */
  maxWaitMs?: number;
  /** Planner lease in the KV bucket; failover within it. Default 10 s. */
  leaseTtlMs?: number;
  /** How often the planner looks at the gap. Default 500 ms. */
  planIntervalMs?: number;
  /** No tip progress for this long while behind: the range is planned again. Default 60 s. */
  replanAfterMs?: number;
  /** Forks up to this deep are fetched and offered to the store. Default 100. */
  maxReorgDepth?: number;
  heartbeatMs?: number;
}

export type ResolvedChainSyncOptions = Required<Omit<ChainSyncOptions, keyof ServiceEndpointOptions>> & ResolvedServiceEndpoints;

export function resolveChainSyncOptions(o: ChainSyncOptions): ResolvedChainSyncOptions {
  const endpoints = resolveServiceEndpoints(o, { node: "chain-sync", grpcPort: 50053, metricsPort: 9103 });
  const node = endpoints.node;
  return {
    ...endpoints,
    workerId: o.workerId ?? `${node}-${Math.random().toString(36).slice(2, 8)}`,
    network: o.network,
    blockStoreGrpc: o.blockStoreGrpc ?? "127.0.0.1:50054",
    gatewayGrpc: o.gatewayGrpc ?? "127.0.0.1:50051",
    batchSize: o.batchSize ?? 128,
    maxPendingBatches: o.maxPendingBatches ?? 64,
    concurrency: o.concurrency ?? 4,
    maxBufferedBlocks: o.maxBufferedBlocks ?? 4096,
    ackWaitMs: o.ackWaitMs ?? 30_000,
    requestTimeoutMs: o.requestTimeoutMs ?? 10_000,
    maxWaitMs: o.maxWaitMs ?? 20_000,
    leaseTtlMs: o.leaseTtlMs ?? 10_000,
    planIntervalMs: o.planIntervalMs ?? 500,
    replanAfterMs: o.replanAfterMs ?? 60_000,
    maxReorgDepth: o.maxReorgDepth ?? 100,
    heartbeatMs: o.heartbeatMs ?? 2_000,
  };
}
