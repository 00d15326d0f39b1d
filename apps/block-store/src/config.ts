import { hostname } from "node:os";
import { bool, bytes, durationMs, int, oneOf, optional, parseConfig, str, type ConfigOf, type Env } from "@timenet/config";
import { DEFAULT_MAX_REORG_DEPTH, DEFAULT_SERVE_MAX_BLOCKS, DEFAULT_SERVE_MAX_BYTES } from "./options.js";

/** The block-store's environment variables (the README's configuration table is generated from this). */
export const blockStoreEnvSchema = {
  NODE_NAME: str({ description: "Name of this node in logs", default: hostname() }),
  NETWORK: str({ description: "Network: `devnet` (built in), a name in deploy/networks/, or the path of a network JSON file", default: "devnet" }),
  STORE_DB_PATH: str({ description: "LMDB directory of the chain (keep it on a volume)", default: "data/blocks" }),
  MAX_REORG_DEPTH: int({ description: "Deepest fork (main-chain blocks replaced) the store switches to; deeper ones are refused", default: DEFAULT_MAX_REORG_DEPTH, min: 1 }),
  SERVE_MAX_BLOCKS: int({ description: "Most blocks in one answer to a peer's GetBlocks", default: DEFAULT_SERVE_MAX_BLOCKS, min: 1, max: 100_000 }),
  SERVE_MAX_BYTES: bytes({ description: "Most bytes of blocks in one answer to a peer's GetBlocks (also capped by NATS max_payload)", default: DEFAULT_SERVE_MAX_BYTES, min: 1024 }),
  TIP_REPUBLISH: durationMs({ description: "How often the tip is re-published on chain.tip (also on every change)", default: 5_000, min: 100 }),
  NATS_URL: str({ description: "The node's NATS server", default: "nats://127.0.0.1:4222" }),
  NATS_USER: optional(str({ description: "NATS user" })),
  NATS_PASS: optional(str({ description: "NATS password" })),
  GRPC_HOST: str({ description: "gRPC bind address", default: "127.0.0.1" }),
  GRPC_PORT: int({ description: "gRPC port (BlockStoreService, health, reflection)", default: 50054, min: 0, max: 65535 }),
  METRICS_HOST: str({ description: "/metrics /healthz /readyz bind address", default: "127.0.0.1" }),
  METRICS_PORT: int({ description: "Metrics and health port", default: 9104, min: 0, max: 65535 }),
  LOG_LEVEL: oneOf(["trace", "debug", "info", "warn", "error", "fatal"] as const, { description: "pino level", default: "info" }),
  LOG_PRETTY: optional(bool({ description: "Human-readable logs (default: when stdout is a terminal)" })),
};

export type BlockStoreEnv = ConfigOf<typeof blockStoreEnvSchema>;

export function parseBlockStoreEnv(env: Env = process.env): BlockStoreEnv {
  return parseConfig(blockStoreEnvSchema, env);
}
