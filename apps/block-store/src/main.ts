// block-store entry point: configuration from the environment, then startBlockStore.
import { loadNetworkOrExit } from "@timenet/chain";
import { loadConfigOrExit } from "@timenet/config";
import { createLogger } from "@timenet/telemetry";
import { endpointsFromEnv, runMain } from "@timenet/service-runtime";
import { blockStoreEnvChecks, blockStoreEnvSchema } from "./config.js";
import { startBlockStore } from "./service.js";

const env = loadConfigOrExit(blockStoreEnvSchema, process.env, blockStoreEnvChecks);
// A bad network file is a configuration error: one line on stderr, exit 2, like the other services.
const network = loadNetworkOrExit(env.NETWORK);
const logger = createLogger({ service: "block-store", node: env.NODE_NAME, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });

await runMain("block-store", logger, async () => {
  return startBlockStore({
    ...endpointsFromEnv(env, logger),
    // A store of another network stops start-up with one fatal line.
    network,
    dbPath: env.STORE_DB_PATH,
    serveMaxBlocks: env.SERVE_MAX_BLOCKS,
    serveMaxBytes: env.SERVE_MAX_BYTES,
    servePeerRate: env.SERVE_PEER_RATE,
    servePeerBurst: env.SERVE_PEER_BURST,
    serveGlobalRate: env.SERVE_GLOBAL_RATE,
    serveGlobalBurst: env.SERVE_GLOBAL_BURST,
    serveMaxPeers: env.SERVE_MAX_PEERS,
    serveQueue: env.SERVE_QUEUE,
    serveQueuePerPeer: env.SERVE_QUEUE_PER_PEER,
    serveMaxBacklog: env.SERVE_MAX_BACKLOG,
    validation: env.STORE_VALIDATION,
    verifyThreads: env.STORE_VERIFY_THREADS,
    verifyQueue: env.STORE_VERIFY_QUEUE,
    importQueue: env.STORE_IMPORT_QUEUE,
    groupCommitPuts: env.STORE_GROUP_COMMIT_PUTS,
    parentWaitMs: env.STORE_PARENT_WAIT,
    tipRepublishMs: env.TIP_REPUBLISH,
    sideMaxBlocks: env.STORE_SIDE_MAX_BLOCKS,
    sideMaxBytes: env.STORE_SIDE_MAX_BYTES,
    holdMaxBlocks: env.STORE_HOLD_MAX_BLOCKS,
    holdMaxBytes: env.STORE_HOLD_MAX_BYTES,
    holdMaxAheadMs: env.STORE_HOLD_MAX_AHEAD,
  });
});
