import { bytes, durationMs, int, parseConfig, serviceEnvSchema, str, type ConfigOf, type Env } from "@timenet/config";
import { DEFAULT_MAX_REORG_DEPTH, DEFAULT_SERVE_MAX_BLOCKS, DEFAULT_SERVE_MAX_BYTES } from "./options.js";

/** The block-store's environment variables (the README's configuration table is generated from this). */
export const blockStoreEnvSchema = {
  ...serviceEnvSchema({ grpcPort: 50054, metricsPort: 9104, grpcServices: "BlockStoreService" }),
  NETWORK: str({ description: "Network: `devnet` (built in), a name in deploy/networks/, or the path of a network JSON file", default: "devnet" }),
  STORE_DB_PATH: str({ description: "LMDB directory of the chain (keep it on a volume)", default: "data/blocks" }),
  MAX_REORG_DEPTH: int({ description: "Deepest fork (main-chain blocks replaced) the store switches to; deeper ones are refused", default: DEFAULT_MAX_REORG_DEPTH, min: 1 }),
  SERVE_MAX_BLOCKS: int({ description: "Most blocks in one answer to a peer's GetBlocks", default: DEFAULT_SERVE_MAX_BLOCKS, min: 1, max: 100_000 }),
  SERVE_MAX_BYTES: bytes({ description: "Most bytes of blocks in one answer to a peer's GetBlocks (also capped by NATS max_payload)", default: DEFAULT_SERVE_MAX_BYTES, min: 1024 }),
  TIP_REPUBLISH: durationMs({ description: "How often the tip is re-published on chain.tip (also on every change)", default: 5_000, min: 100 }),
};

export type BlockStoreEnv = ConfigOf<typeof blockStoreEnvSchema>;

export function parseBlockStoreEnv(env: Env = process.env): BlockStoreEnv {
  return parseConfig(blockStoreEnvSchema, env);
}
