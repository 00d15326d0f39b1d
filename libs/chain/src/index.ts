export { ChainError, type ChainErrorCode } from "./chain-error.js";
export { HASH_LENGTH, HEADER_SIGNING_BYTES_LENGTH, SIGNATURE_LENGTH, headerSigningBytes } from "./header-encoding.js";
export { blockHash, bytesEqual, hashHex, sha256d } from "./block-hash.js";
export { merkleRoot, txHash } from "./merkle.js";
export {
  DEVNET,
  DEVNET_GENESIS_HASH,
  devnetKeyIndex,
  devnetProducerKey,
  isDevnetName,
  MAX_DEVNET_PRODUCER_INDEX,
  expectedProducer,
  genesisBlock,
  loadNetwork,
  withLimits,
  networkFileJson,
  type NetworkParams,
} from "./network-params.js";
export { validateBlock, validateChain, type BlockValidation, type ChainValidation } from "./validate-block.js";
export { statelessChecks, type StatelessChecks, type VerifyFn } from "./stateless-checks.js";
export { canonicalBlockSize } from "./block-size.js";
export { extendsTip } from "./extends-tip.js";
export { signBlock, type BlockInput } from "./sign-block.js";
export { loadNetworkOrExit } from "./load-network-or-exit.js";
export {
  blockWeight,
  earliestTimestampMs,
  producerIndex,
  rankAt,
  rankDistance,
  rankOf,
  weightWindow,
} from "./schedule.js";
export { preferred, summariseBranch, type BranchSummary } from "./fork-choice.js";
export { BLOCK_HEADER_RESERVE, maxTxBytes } from "./tx-limits.js";
export { signatureRate } from "./signature-rate.js";
