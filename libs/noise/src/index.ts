export { NoiseError, type NoiseErrorCode } from "./noise-error.js";
export { CipherState, TAG_LEN } from "./cipher-state.js";
export { SymmetricState, HASH_LEN } from "./symmetric-state.js";
export { dh, DH_LEN, dhKeyPairFromPrivate, generateDhKeyPair, type DhKeyPair } from "./x25519.js";
export { HandshakeXX, NOISE_XX_PROTOCOL_NAME, type HandshakeXXOptions, type NoiseRole, type NoiseSessionKeys } from "./handshake-xx.js";
export {
  DEFAULT_REKEY_AFTER_MESSAGES,
  MAX_NOISE_MESSAGE_BYTES,
  MAX_TRANSPORT_PLAINTEXT,
  MESSAGE_OVERHEAD_BYTES,
  SEALED_LENGTH_BYTES,
  TransportOpener,
  TransportSealer,
  type TransportOptions,
} from "./transport.js";
