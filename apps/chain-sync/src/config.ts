import { durationMs, int, optional, parseConfig, serviceEnvSchema, str, type ConfigOf, type Env } from "@timenet/config";

/** chain-sync's environment variables (the README's configuration table is generated from this). */
export const chainSyncEnvSchema = {
  ...serviceEnvSchema({ grpcPort: 50053, metricsPort: 9103, grpcServices: "ChainSyncService" }),
  WORKER_ID: optional(str({ description: "This replica's id (default: NODE_NAME + the container hostname)" })),
  NETWORK: str({ description: "Network parameters: `devnet` or a JSON file (deploy/networks/<name>.json)", default: "devnet" }),
  BLOCK_STORE_GRPC: str({ description: "The block-store's gRPC address", default: "127.0.0.1:50054" }),
  GATEWAY_GRPC: str({ description: "The gateway's gRPC address (peers' heights at start)", default: "127.0.0.1:50051" }),
  SYNC_BATCH_SIZE: int({ description: "Blocks per batch", default: 128, min: 1, max: 1_000 }),
  SYNC_MAX_PENDING_BATCHES: int({ description: "Batches planned and not yet taken", default: 64, min: 1 }),
  SYNC_CONCURRENCY: int({ description: "Batches one replica works on at once", default: 4, min: 2, max: 64 }),
  SYNC_MAX_BUFFERED_BLOCKS: int({ description: "Fetched blocks held waiting for the chain to reach them", default: 4_096, min: 1 }),
  SYNC_ACK_WAIT: durationMs({ description: "A taken batch not finished within this is redelivered", default: 30_000, min: 100 }),
  SYNC_REQUEST_TIMEOUT: durationMs({ description: "GetBlocks timeout towards a peer", default: 10_000, min: 50 }),
  SYNC_MAX_WAIT: durationMs({ description: "A batch waiting for its parent longer than this is handed back", default: 20_000, min: 50 }),
  SYNC_LEASE_TTL: durationMs({ description: "Planner lease; another replica takes over within it", default: 10_000, min: 300 }),
  SYNC_REPLAN_AFTER: durationMs({ description: "No progress for this long while behind: plan the range again", default: 60_000, min: 100 }),
  MAX_REORG_DEPTH: int({ description: "Forks up to this deep are fetched and offered to the store", default: 100, min: 1 }),
};

export type ChainSyncEnv = ConfigOf<typeof chainSyncEnvSchema>;

export function parseChainSyncEnv(env: Env = process.env): ChainSyncEnv {
  return parseConfig(chainSyncEnvSchema, env);
}
