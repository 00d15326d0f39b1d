import type { NetworkParams } from "@timenet/chain";
import { grpcAddress } from "@timenet/config";
import { resolveServiceEndpoints, withDefaults, type ResolvedServiceEndpoints, type ServiceEndpointOptions } from "@timenet/service-runtime";

/** Everything startChainSync needs. Only NATS and the network are required; the rest default to CHAIN_SYNC_DEFAULTS. */
export interface ChainSyncOptions extends ServiceEndpointOptions {
  /** This replica's id in the work queue and the planner lease. Default: node + random suffix. */
  workerId?: string;
  network: NetworkParams;
  /** The block-store's gRPC address. Default 127.0.0.1:50054. */
  blockStoreGrpc?: string;
  /**
   * Blocks per batch. Default 256 (the block-store's SERVE_MAX_BLOCKS, so one
   * answer of a default peer fills a batch): each batch costs a work-queue
   * message, a GetBlocks round trip, a PutBlocks and the store's transaction
   * whatever its size, and with ~1 KiB blocks 256 a batch took ~10 % less CPU
   * per block than 128 (bench:sync).
   */
  batchSize?: number;
  /**
   * Once the blocks' size is known (blocks this replica put and the store applied), a
   * batch holds at most this many bytes: one answer of a default peer (the
   * store's SERVE_MAX_BYTES), so that big blocks make shorter batches that
   * move side by side instead of one long batch fetched round after round.
   * Default 4 MiB.
   */
  batchMaxBytes?: number;
  /** Batches planned and not yet taken; the planner waits beyond this. Default 64. */
  maxPendingBatches?: number;
  /**
   * Batches planned beyond what is backed (our tip, or what a peer served us):
   * how far a peer's height claim is probed before its blocks arrive. Default 16.
   */
  lookaheadBatches?: number;
  /**
   * The sync window, in batches beyond our tip: 2 × the store's rate × one
   * batch's measured fetch time, never below min (what is planned before
   * anything is measured) nor above max. Default 8 (2,048 blocks of the
   * default batch; Bitcoin Core's window is 1,024 blocks of up to 4 MB) and 64.
   */
  windowMinBatches?: number;
  windowMaxBatches?: number;
  /** A peer shown to claim heights it cannot serve: its claims steer nothing for this long (kept per IP, across reconnects). Default 10 min. */
  unbackedClaimMs?: number;
  /** Peer IPs whose claim standing is remembered. Default 4096. */
  maxStandingEntries?: number;
  /**
   * A peer serving only a branch our fork choice does not prefer is reported
   * (LOSING_BRANCH) once it has done so for LOSING_BRANCH_TRIES batches in a
   * row and for this long on one connection: an honest peer lacks our blocks
   * for a while after a partition heals. Default 60 s.
   */
  losingBranchGraceMs?: number;
  /**
   * A peer's tip at or below our height that the store does not hold is
   * fetched from it for the fork choice (a fork probe): at most once per this
   * per peer. Default 1 s.
   */
  forkProbeIntervalMs?: number;
  /** Batches one replica works on at once. Default 4. */
  concurrency?: number;
  /**
   * Batches put to the store beyond the one it is writing; a batch further
   * ahead of the tip waits, fetched, in the buffer until it is within this
   * (the store would only hold it for its parent). Default 2.
   */
  putsAhead?: number;
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
  heartbeatMs?: number;
}

/** Every default of startChainSync, in one place (the env schema reads them from here). */
export const CHAIN_SYNC_DEFAULTS = {
  blockStoreGrpc: grpcAddress("block-store"),
  batchSize: 256,
  batchMaxBytes: 4 * 1024 * 1024,
  maxPendingBatches: 64,
  lookaheadBatches: 16,
  windowMinBatches: 8,
  windowMaxBatches: 64,
  unbackedClaimMs: 10 * 60_000,
  maxStandingEntries: 4_096,
  losingBranchGraceMs: 60_000,
  forkProbeIntervalMs: 1_000,
  concurrency: 4,
  putsAhead: 2,
  maxBufferedBlocks: 4096,
  ackWaitMs: 30_000,
  requestTimeoutMs: 10_000,
  maxWaitMs: 20_000,
  leaseTtlMs: 10_000,
  planIntervalMs: 500,
  replanAfterMs: 60_000,
  heartbeatMs: 2_000,
};

export type ResolvedChainSyncOptions = typeof CHAIN_SYNC_DEFAULTS & ResolvedServiceEndpoints & { workerId: string; network: NetworkParams };

export function resolveChainSyncOptions(o: ChainSyncOptions): ResolvedChainSyncOptions {
  const endpoints = resolveServiceEndpoints(o, { node: "chain-sync", service: "chain-sync" });
  return {
    ...endpoints,
    ...withDefaults(CHAIN_SYNC_DEFAULTS, o),
    workerId: o.workerId ?? `${endpoints.node}-${Math.random().toString(36).slice(2, 8)}`,
    network: o.network,
  };
}
