export { startBlockStore, type BlockStoreHandle } from "./service.js";
export {
  resolveBlockStoreOptions,
  BLOCK_STORE_DEFAULTS,
  type BlockStoreOptions,
  type ResolvedBlockStoreOptions,
} from "./options.js";
export { blockStoreEnvChecks, blockStoreEnvSchema, parseBlockStoreEnv, type BlockStoreEnv } from "./config.js";
export { BlockStore, BlockStoreError, type BlockStoreDeps, type BlockStoreErrorCode, type PutOutcome, type StoredTip } from "./block-store.js";
export { StoreMetrics } from "./metrics.js";
export { blockStoreServiceImpl, putResponse } from "./block-store-service.js";
export { PeerServer, type PeerServerOptions, type ServeLimit } from "./serve-peers.js";
export { ServeThread, ServeThreadError, type ServeThreadErrorCode, type ServeThreadOptions } from "./serve-thread.js";
export { mainThreadBackend, type ServeBackend } from "./serve-backend.js";
export { ServeBudget, type BudgetLimit, type ByteRate, type ServeBudgetLimits } from "./serve-budget.js";
export { ImportBusyError, ImportPipeline, ImportStoppedError } from "./import-pipeline.js";
export { VerifyPool, VerifyPoolError, type VerifyPoolOptions, type VerifyPoolErrorCode } from "./verify-pool.js";
