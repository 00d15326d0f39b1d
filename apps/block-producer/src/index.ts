export { startBlockProducer, type BlockProducer } from "./producer.js";
export { resolveBlockProducerOptions, BLOCK_PRODUCER_DEFAULTS, type BlockProducerOptions, type ProducerKeySource, type ResolvedBlockProducerOptions } from "./options.js";
export { blockProducerEnvSchema, parseBlockProducerEnv, type BlockProducerEnv } from "./config.js";
export { ProducerError, type ProducerErrorCode } from "./producer-error.js";
export { resolveProducerIdentity, type ProducerIdentity } from "./producer-key.js";
export { Mempool, type MempoolLimits, type TxAdmission } from "./mempool.js";
export { rankDistance, turnBaseMs, turnFor, type Turn, type TurnInput } from "./turn.js";
export { buildBlock, txBudget, txCost } from "./block-builder.js";
export { Production, type BlockStoreClient, type ProductionStatus } from "./production.js";
