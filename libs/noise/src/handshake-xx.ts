import type { CipherState } from "./cipher-state.js";
import { TAG_LEN } from "./cipher-state.js";
import { NoiseError } from "./noise-error.js";
import { SymmetricState } from "./symmetric-state.js";
import { dh, DH_LEN, generateDhKeyPair, type DhKeyPair } from "./x25519.js";

export const NOISE_XX_PROTOCOL_NAME = "Noise_XX_25519_ChaChaPoly_SHA256";

export type NoiseRole = "initiator" | "responder";

export interface HandshakeXXOptions {
  role: NoiseRole;
  prologue: Uint8Array;
  /** Our static X25519 key (its public half is sent encrypted). */
  staticKey: DhKeyPair;
  /** Fixed ephemeral key, for test vectors only; fresh and random otherwise. */
  ephemeralKey?: DhKeyPair;
}

/** The outcome of a completed handshake. */
export interface NoiseSessionKeys {
  send: CipherState;
  receive: CipherState;
  /** Unique to this session and bound to everything both sides said: what signatures inside the channel cover. */
  handshakeHash: Uint8Array;
  remoteStatic: Uint8Array;
}

/**
 * The XX pattern, step by step (no general pattern interpreter: three fixed
 * messages are easier to read and to audit):
 *
 *   -> e                 message 1 (payload in clear, but hashed)
 *   <- e, ee, s, es      message 2 (static key and payload encrypted)
 *   -> s, se             message 3 (static key and payload encrypted)
 *
 * Each side calls, in order: initiator write1, read2, write3; responder
 * read1, write2, read3. Then `keys()`. Any failure throws NoiseError and the
 * state must be discarded.
 */
export class HandshakeXX {
  private readonly ss = new SymmetricState(NOISE_XX_PROTOCOL_NAME);
  private e: DhKeyPair | undefined;
  private re: Uint8Array | undefined;
  private rs: Uint8Array | undefined;
  private step = 0;

  constructor(private readonly o: HandshakeXXOptions) {
    this.ss.mixHash(o.prologue);
  }

  get role(): NoiseRole {
    return this.o.role;
  }

  /** The remote static key, once message 2 (initiator) or 3 (responder) was read. */
  get remoteStatic(): Uint8Array | undefined {
    return this.rs;
  }

  get handshakeHash(): Uint8Array {
    return this.ss.handshakeHash;
  }

  write1(payload: Uint8Array): Buffer {
    this.expect("initiator", 0);
    this.e = this.o.ephemeralKey ?? generateDhKeyPair();
    this.ss.mixHash(this.e.publicKey);
    return Buffer.concat([this.e.publicKey, this.ss.encryptAndHash(payload)]);
  }

  read1(message: Uint8Array): Buffer {
    this.expect("responder", 0);
    if (message.length < DH_LEN) throw new NoiseError("BAD_MESSAGE", `message 1 of ${message.length} bytes is shorter than a key`);
    this.re = message.subarray(0, DH_LEN);
    this.ss.mixHash(this.re);
    return this.ss.decryptAndHash(message.subarray(DH_LEN));
  }

  write2(payload: Uint8Array): Buffer {
    this.expect("responder", 1);
    this.e = this.o.ephemeralKey ?? generateDhKeyPair();
    this.ss.mixHash(this.e.publicKey);
    this.ss.mixKey(dh(this.e, this.re!));
    const s = this.ss.encryptAndHash(this.o.staticKey.publicKey);
    this.ss.mixKey(dh(this.o.staticKey, this.re!));
    return Buffer.concat([this.e.publicKey, s, this.ss.encryptAndHash(payload)]);
  }

  read2(message: Uint8Array): Buffer {
    this.expect("initiator", 1);
    if (message.length < 2 * DH_LEN + 2 * TAG_LEN) throw new NoiseError("BAD_MESSAGE", `message 2 of ${message.length} bytes is too short`);
    this.re = message.subarray(0, DH_LEN);
    this.ss.mixHash(this.re);
    this.ss.mixKey(dh(this.e!, this.re));
    this.rs = this.ss.decryptAndHash(message.subarray(DH_LEN, 2 * DH_LEN + TAG_LEN));
    this.ss.mixKey(dh(this.e!, this.rs));
    return this.ss.decryptAndHash(message.subarray(2 * DH_LEN + TAG_LEN));
  }

  write3(payload: Uint8Array): Buffer {
    this.expect("initiator", 2);
    const s = this.ss.encryptAndHash(this.o.staticKey.publicKey);
    this.ss.mixKey(dh(this.o.staticKey, this.re!));
    return Buffer.concat([s, this.ss.encryptAndHash(payload)]);
  }

  read3(message: Uint8Array): Buffer {
    this.expect("responder", 2);
    if (message.length < DH_LEN + 2 * TAG_LEN) throw new NoiseError("BAD_MESSAGE", `message 3 of ${message.length} bytes is too short`);
    this.rs = this.ss.decryptAndHash(message.subarray(0, DH_LEN + TAG_LEN));
    this.ss.mixKey(dh(this.e!, this.rs));
    return this.ss.decryptAndHash(message.subarray(DH_LEN + TAG_LEN));
  }

  /** The transport keys, after the third message. */
  keys(): NoiseSessionKeys {
    if (this.step !== 3) throw new Error(`handshake not complete (step ${this.step})`);
    const [c1, c2] = this.ss.split();
    const initiator = this.o.role === "initiator";
    return { send: initiator ? c1 : c2, receive: initiator ? c2 : c1, handshakeHash: this.ss.handshakeHash, remoteStatic: this.rs! };
  }

  private expect(role: NoiseRole, step: number): void {
    if (this.o.role !== role || this.step !== step) throw new Error(`handshake step ${step + 1} out of order for the ${this.o.role}`);
    this.step++;
  }
}
