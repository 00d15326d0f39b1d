export { startBlockStore, type BlockStoreHandle } from "./service.js";
export {
  resolveBlockStoreOptions,
  BLOCK_STORE_DEFAULTS,
  type BlockStoreOptions,
  type ResolvedBlockStoreOptions,
} from "./options.js";
export { blockStoreEnvSchema, parseBlockStoreEnv, type BlockStoreEnv } from "./config.js";
export { BlockStore, BlockStoreError, type BlockStoreDeps, type BlockStoreErrorCode, type PutOutcome, type StoredTip } from "./block-store.js";
export { StoreMetrics } from "./metrics.js";
export { blockStoreServiceImpl, putResponse } from "./block-store-service.js";
export { servePeers } from "./serve-peers.js";
