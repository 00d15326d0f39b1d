// block-producer entry point: configuration from the environment, then startBlockProducer.
import { loadConfigOrExit } from "@timenet/config";
import { loadNetworkOrExit } from "@timenet/chain";
import { createLogger } from "@timenet/telemetry";
import { endpointsFromEnv, runMain } from "@timenet/service-runtime";
import { blockProducerEnvSchema } from "./config.js";
import { startBlockProducer } from "./producer.js";

const env = loadConfigOrExit(blockProducerEnvSchema);
const network = loadNetworkOrExit(env.NETWORK);
const logger = createLogger({ service: "block-producer", node: env.NODE_NAME, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });

await runMain("block-producer", logger, async () => {
  return startBlockProducer({
    ...endpointsFromEnv(env, logger),
    network,
    // A key refused by resolveProducerIdentity (ProducerError: a devnet key off
    // a devnet, a key that is not a producer) is runMain's one fatal line, exit 1.
    key: env.PRODUCER_DEVNET_INDEX !== undefined ? { devnetIndex: env.PRODUCER_DEVNET_INDEX } : { file: env.PRODUCER_KEY_FILE },
    blockStoreGrpc: env.BLOCK_STORE_GRPC,
    mempoolMaxTxs: env.MEMPOOL_MAX_TXS,
    mempoolMaxBytes: env.MEMPOOL_MAX_BYTES,
  });
});
