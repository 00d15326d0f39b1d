// block-producer entry point: configuration from the environment, then startBlockProducer.
import { loadConfigOrExit } from "@timenet/config";
import { loadNetwork } from "@timenet/chain";
import { createLogger } from "@timenet/telemetry";
import { endpointsFromEnv, runMain } from "@timenet/service-runtime";
import { blockProducerEnvSchema } from "./config.js";
import { startBlockProducer } from "./producer.js";

const env = loadConfigOrExit(blockProducerEnvSchema);
const logger = createLogger({ service: "block-producer", node: env.NODE_NAME, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });

await runMain("block-producer", logger, async () => {
  return startBlockProducer({
    ...endpointsFromEnv(env, logger),
    network: loadNetwork(env.NETWORK),
    key: env.PRODUCER_DEVNET_INDEX !== undefined ? { devnetIndex: env.PRODUCER_DEVNET_INDEX } : { file: env.PRODUCER_KEY_FILE },
    blockStoreGrpc: env.BLOCK_STORE_GRPC,
    mempoolMaxTxs: env.MEMPOOL_MAX_TXS,
    mempoolMaxBytes: env.MEMPOOL_MAX_BYTES,
  });
});
