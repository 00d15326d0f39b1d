import { bytes, durationMs, int, parseConfig, serviceEnvSchema, str, type ConfigOf, type Env } from "@timenet/config";
import { BLOCK_STORE_DEFAULTS as D } from "./options.js";

/** The block-store's environment variables (the README's configuration table is generated from this). */
export const blockStoreEnvSchema = {
  ...serviceEnvSchema({ service: "block-store", grpcServices: "BlockStoreService" }),
  NETWORK: str({ description: "Network: `devnet` (built in), a name in deploy/networks/, or the path of a network JSON file", default: "devnet" }),
  STORE_DB_PATH: str({ description: "LMDB directory of the chain (keep it on a volume)", default: "data/blocks" }),
  SERVE_MAX_BLOCKS: int({ description: "Most blocks in one answer to a peer's GetBlocks", default: D.serveMaxBlocks, min: 1, max: 100_000 }),
  SERVE_MAX_BYTES: bytes({ description: "Most bytes of blocks in one answer to a peer's GetBlocks (also capped by NATS max_payload)", default: D.serveMaxBytes, min: 1024 }),
  TIP_REPUBLISH: durationMs({ description: "How often the tip is re-published on chain.tip (also on every change)", default: D.tipRepublishMs, min: 100 }),
  STORE_SIDE_MAX_BLOCKS: int({ description: "Most blocks kept aside on branches the fork choice does not prefer (lowest heights evicted first)", default: D.sideMaxBlocks, min: 1 }),
  STORE_SIDE_MAX_BYTES: bytes({ description: "Most bytes of blocks kept aside", default: D.sideMaxBytes, min: 1024 * 1024 }),
  STORE_HOLD_MAX_BLOCKS: int({ description: "Most blocks held in memory because their timestamps are ahead of our clock", default: D.holdMaxBlocks, min: 1 }),
  STORE_HOLD_MAX_BYTES: bytes({ description: "Most bytes of early blocks held", default: D.holdMaxBytes, min: 1024 * 1024 }),
  STORE_HOLD_MAX_AHEAD: durationMs({ description: "Blocks further ahead of our clock than the drift bound plus this are answered TOO_EARLY, not held", default: D.holdMaxAheadMs, min: 1000 }),
};

export type BlockStoreEnv = ConfigOf<typeof blockStoreEnvSchema>;

export function parseBlockStoreEnv(env: Env = process.env): BlockStoreEnv {
  return parseConfig(blockStoreEnvSchema, env);
}
