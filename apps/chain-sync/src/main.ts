// chain-sync entry point: configuration from the environment, then startChainSync.
import { hostname } from "node:os";
import { loadConfigOrExit } from "@timenet/config";
import { createLogger } from "@timenet/telemetry";
import { endpointsFromEnv, runMain } from "@timenet/service-runtime";
import { loadNetworkOrExit } from "@timenet/chain";
import { chainSyncEnvChecks, chainSyncEnvSchema } from "./config.js";
import { startChainSync } from "./chain-sync.js";

const env = loadConfigOrExit(chainSyncEnvSchema, process.env, chainSyncEnvChecks);
const network = loadNetworkOrExit(env.NETWORK);
const logger = createLogger({ service: "chain-sync", node: env.NODE_NAME, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });

await runMain("chain-sync", logger, async () =>
  startChainSync({
    ...endpointsFromEnv(env, logger),
    // Compose replicas share NODE_NAME; the container hostname tells them apart.
    workerId: env.WORKER_ID ?? `${env.NODE_NAME}-${hostname()}-${process.pid}`,
    network,
    blockStoreGrpc: env.BLOCK_STORE_GRPC,
    batchSize: env.SYNC_BATCH_SIZE,
    batchMaxBytes: env.SYNC_BATCH_MAX_BYTES,
    maxPendingBatches: env.SYNC_MAX_PENDING_BATCHES,
    lookaheadBatches: env.SYNC_LOOKAHEAD_BATCHES,
    windowMinBatches: env.SYNC_WINDOW_MIN_BATCHES,
    windowMaxBatches: env.SYNC_WINDOW_MAX_BATCHES,
    unbackedClaimMs: env.SYNC_UNBACKED_CLAIM_FOR,
    losingBranchGraceMs: env.SYNC_LOSING_BRANCH_GRACE,
    forkProbeIntervalMs: env.SYNC_FORK_PROBE_INTERVAL,
    concurrency: env.SYNC_CONCURRENCY,
    putsAhead: env.SYNC_PUTS_AHEAD,
    maxBufferedBlocks: env.SYNC_MAX_BUFFERED_BLOCKS,
    ackWaitMs: env.SYNC_ACK_WAIT,
    requestTimeoutMs: env.SYNC_REQUEST_TIMEOUT,
    maxWaitMs: env.SYNC_MAX_WAIT,
    leaseTtlMs: env.SYNC_LEASE_TTL,
    replanAfterMs: env.SYNC_REPLAN_AFTER,
  }),
);
