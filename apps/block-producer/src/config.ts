import { MAX_DEVNET_PRODUCER_INDEX } from "@timenet/chain";
import { bytes, int, optional, parseConfig, serviceEnvSchema, str, type ConfigOf, type Env } from "@timenet/config";
import { BLOCK_PRODUCER_DEFAULTS as D } from "./options.js";

/** The producer's environment variables (a README configuration table can be generated from this with describeSchema). */
export const blockProducerEnvSchema = {
  ...serviceEnvSchema({ service: "block-producer", grpcServices: "BlockProducerService" }),
  NETWORK: str({ description: "Network: `devnet` (built in), a name in deploy/networks/, or the path of a network JSON file", default: "devnet" }),
  PRODUCER_KEY_FILE: str({ description: "ed25519 producer key (`timenetctl producer-key create`, or created on first start; its public key must be one of the network's producers)", default: "data/producer.key" }),
  PRODUCER_DEVNET_INDEX: optional(
    int({ description: "Devnets only (NETWORK `devnet` or `devnet-*`; refused on any other): use the public devnet producer key k instead of PRODUCER_KEY_FILE", min: 0, max: MAX_DEVNET_PRODUCER_INDEX }),
  ),
  BLOCK_STORE_GRPC: str({ description: "The block-store's gRPC address (GetTip, GetBlock, PutBlocks)", default: D.blockStoreGrpc }),
  MEMPOOL_MAX_TXS: int({ description: "Transactions the mempool holds; new ones are dropped beyond it", default: D.mempoolMaxTxs, min: 1 }),
  MEMPOOL_MAX_BYTES: bytes({ description: "Bytes of transactions the mempool holds; new ones are dropped beyond it", default: D.mempoolMaxBytes, min: 1024 }),
};

export type BlockProducerEnv = ConfigOf<typeof blockProducerEnvSchema>;

export function parseBlockProducerEnv(env: Env = process.env): BlockProducerEnv {
  return parseConfig(blockProducerEnvSchema, env);
}
