import { atMost, bytes, durationMs, int, optional, parseConfig, serviceEnvSchema, str, type ConfigOf, type CrossCheck, type Env } from "@timenet/config";
import { CHAIN_SYNC_DEFAULTS as D } from "./options.js";

/** chain-sync's environment variables (the README's configuration table is generated from this). */
export const chainSyncEnvSchema = {
  ...serviceEnvSchema({ service: "chain-sync", grpcServices: "ChainSyncService" }),
  WORKER_ID: optional(str({ description: "This replica's id (default: NODE_NAME + the container hostname)" })),
  NETWORK: str({ description: "Network parameters: `devnet` or a JSON file (deploy/networks/<name>.json)", default: "devnet" }),
  BLOCK_STORE_GRPC: str({ description: "The block-store's gRPC address", default: D.blockStoreGrpc }),
  SYNC_BATCH_SIZE: int({ description: "Blocks per batch", default: D.batchSize, min: 1, max: 1_000 }),
  SYNC_BATCH_MAX_BYTES: bytes({ description: "Once the blocks' size is known, a batch holds at most this many bytes (one default peer answer: the store's SERVE_MAX_BYTES)", default: D.batchMaxBytes, min: 1024 }),
  SYNC_MAX_PENDING_BATCHES: int({ description: "Batches planned and not yet taken", default: D.maxPendingBatches, min: 1 }),
  SYNC_LOOKAHEAD_BATCHES: int({ description: "Batches planned beyond what peers have backed with blocks: how far a height claim is probed", default: D.lookaheadBatches, min: 1 }),
  SYNC_WINDOW_MIN_BATCHES: int({ description: "The sync window (2 × the store's rate × one batch's fetch time, how far beyond our tip batches are planned) never below this many batches", default: D.windowMinBatches, min: 1 }),
  SYNC_WINDOW_MAX_BATCHES: int({ description: "Nor above this many", default: D.windowMaxBatches, min: 1 }),
  SYNC_LOSING_BRANCH_GRACE: durationMs({ description: "A peer serving only a branch our fork choice does not prefer is reported after 3 batches in a row and this long on one connection (a healed partition needs time)", default: D.losingBranchGraceMs, min: 1_000 }),
  SYNC_FORK_PROBE_INTERVAL: durationMs({ description: "A peer's tip at or below our height that we do not hold is fetched from it for the fork choice (a heavier branch may be the shorter one) at most once per this per peer", default: D.forkProbeIntervalMs, min: 50 }),
  SYNC_UNBACKED_CLAIM_FOR: durationMs({ description: "A peer found claiming heights it cannot serve: its claims steer nothing for this long", default: D.unbackedClaimMs, min: 1_000 }),
  SYNC_CONCURRENCY: int({ description: "Batches one replica works on at once", default: D.concurrency, min: 2, max: 64 }),
  SYNC_PUTS_AHEAD: int({ description: "Batches put to the store beyond the one it is writing (a batch further ahead of the tip waits, fetched, in the buffer)", default: D.putsAhead, min: 0, max: 16 }),
  SYNC_MAX_BUFFERED_BLOCKS: int({ description: "Fetched blocks held waiting for the chain to reach them", default: D.maxBufferedBlocks, min: 1 }),
  SYNC_ACK_WAIT: durationMs({ description: "A taken batch not finished within this is redelivered", default: D.ackWaitMs, min: 100 }),
  SYNC_REQUEST_TIMEOUT: durationMs({ description: "GetBlocks timeout towards a peer", default: D.requestTimeoutMs, min: 50 }),
  SYNC_MAX_WAIT: durationMs({ description: "A batch waiting for its parent longer than this is handed back", default: D.maxWaitMs, min: 50 }),
  SYNC_LEASE_TTL: durationMs({ description: "Planner lease; another replica takes over within it", default: D.leaseTtlMs, min: 300 }),
  SYNC_REPLAN_AFTER: durationMs({ description: "No progress for this long while behind: plan the range again", default: D.replanAfterMs, min: 100 }),
};

/** Values each valid alone that do not work together. */
export const chainSyncEnvChecks: Array<CrossCheck<typeof chainSyncEnvSchema>> = [
  // A batch ahead of the tip must fit the buffer, or it could never wait for its parent.
  atMost("SYNC_BATCH_SIZE", "SYNC_MAX_BUFFERED_BLOCKS"),
  atMost("SYNC_WINDOW_MIN_BATCHES", "SYNC_WINDOW_MAX_BATCHES"),
];

export type ChainSyncEnv = ConfigOf<typeof chainSyncEnvSchema>;

export function parseChainSyncEnv(env: Env = process.env): ChainSyncEnv {
  return parseConfig(chainSyncEnvSchema, env, chainSyncEnvChecks);
}
