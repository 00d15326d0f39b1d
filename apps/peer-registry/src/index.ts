export { startRegistry, type PeerRegistry } from "./registry.js";
export { resolveRegistryOptions, DEFAULT_SCORE_POLICY, type RegistryOptions, type ResolvedRegistryOptions, type ScorePolicy } from "./options.js";
export { registryEnvSchema, parseRegistryEnv, type RegistryEnv } from "./config.js";
export { PeerBook, type DialOrder } from "./peer-book.js";
export { PeerStore, PeerStoreError } from "./peer-store.js";
export { PeerExchange } from "./peer-exchange.js";
export { backoffDelayMs } from "./backoff.js";
export { banDurationMs, decayedScore, penaltyFor } from "./scoring.js";
