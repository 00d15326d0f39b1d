export { startChainSync, type ChainSync } from "./chain-sync.js";
export { resolveChainSyncOptions, type ChainSyncOptions, type ResolvedChainSyncOptions } from "./options.js";
export { chainSyncEnvSchema, parseChainSyncEnv, type ChainSyncEnv } from "./config.js";
export { PeerHeights } from "./peer-heights.js";
export { TipTracker } from "./tip-tracker.js";
export { BlockBuffer } from "./block-buffer.js";
