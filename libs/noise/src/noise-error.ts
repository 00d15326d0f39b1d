export type NoiseErrorCode =
  /** A ciphertext did not authenticate: changed, injected, replayed or under the wrong key. */
  | "DECRYPT_FAILED"
  /** A message has the wrong shape for its place in the handshake or transport. */
  | "BAD_MESSAGE"
  /** A Diffie-Hellman result was all zeros: the peer sent a small-order X25519 key. */
  | "BAD_KEY"
  /** The 64-bit nonce would wrap: the session must end (never reached in practice). */
  | "NONCE_EXHAUSTED";

/** The Noise session cannot continue; the connection must close. */
export class NoiseError extends Error {
  constructor(
    readonly code: NoiseErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "NoiseError";
  }
}
