import { createCipheriv, createDecipheriv } from "node:crypto";
import { NoiseError } from "./noise-error.js";

export const TAG_LEN = 16;
export const KEY_LEN = 32;
const EMPTY = Buffer.alloc(0);
// 2^64 - 1 is reserved for Rekey (Noise spec 5.1); refuse before it.
const MAX_NONCE = 0xffff_ffff_ffff_fffen;
const REKEY_NONCE = 0xffff_ffff_ffff_ffffn;

/**
 * Noise CipherState with ChaChaPoly: a key and a 64-bit counter nonce that
 * only ever grows (never reset, not even by rekey), so no (key, nonce) pair
 * is used twice.
 */
export class CipherState {
  private k: Buffer | undefined;
  private n = 0n;

  constructor(key?: Uint8Array) {
    if (key) this.initializeKey(key);
  }

  initializeKey(key: Uint8Array): void {
    this.k = Buffer.from(key);
    this.n = 0n;
  }

  hasKey(): boolean {
    return this.k !== undefined;
  }

  /** The nonce of the next message (messages sealed or opened so far). */
  get nonce(): bigint {
    return this.n;
  }

  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Buffer {
    if (!this.k) return Buffer.from(plaintext);
    const out = Buffer.allocUnsafe(plaintext.length + TAG_LEN);
    this.encryptWithAdInto(ad, plaintext, out, 0);
    return out;
  }

  /** Seals into `out` at `at` (ciphertext, then tag) without an intermediate buffer; returns the bytes written. Requires a key. */
  encryptWithAdInto(ad: Uint8Array, plaintext: Uint8Array, out: Buffer, at: number): number {
    if (!this.k) throw new Error("encryptWithAdInto needs a key");
    return seal(this.k, this.takeNonce(), ad, plaintext, out, at);
  }

  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Buffer {
    if (!this.k) return Buffer.from(ciphertext);
    if (ciphertext.length < TAG_LEN) throw new NoiseError("BAD_MESSAGE", `a ciphertext of ${ciphertext.length} bytes has no room for its tag`);
    // The nonce advances only on success: a forged message does not desynchronise us (the connection closes anyway).
    const out = open(this.k, this.checkedNonce(), ad, ciphertext);
    this.n++;
    return out;
  }

  /** Noise Rekey(): k = the first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros). The nonce keeps counting. */
  rekey(): void {
    if (!this.k) return;
    const sealed = Buffer.allocUnsafe(KEY_LEN + TAG_LEN);
    seal(this.k, REKEY_NONCE, EMPTY, Buffer.alloc(KEY_LEN), sealed, 0);
    this.k = sealed.subarray(0, KEY_LEN);
  }

  private checkedNonce(): bigint {
    if (this.n > MAX_NONCE) throw new NoiseError("NONCE_EXHAUSTED", "nonce space exhausted");
    return this.n;
  }

  private takeNonce(): bigint {
    const n = this.checkedNonce();
    this.n++;
    return n;
  }
}

/** ChaCha20-Poly1305 nonce: 4 zero bytes, then the counter little-endian. */
function nonceBytes(n: bigint): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64LE(n, 4);
  return iv;
}

/** Writes ciphertext and tag into `out` at `at`; returns the bytes written. */
function seal(key: Buffer, n: bigint, ad: Uint8Array, plaintext: Uint8Array, out: Buffer, at: number): number {
  const c = createCipheriv("chacha20-poly1305", key, nonceBytes(n), { authTagLength: TAG_LEN });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  const written = c.update(plaintext).copy(out, at);
  c.final();
  return written + c.getAuthTag().copy(out, at + written);
}

function open(key: Buffer, n: bigint, ad: Uint8Array, ciphertext: Uint8Array): Buffer {
  const bodyLen = ciphertext.length - TAG_LEN;
  const d = createDecipheriv("chacha20-poly1305", key, nonceBytes(n), { authTagLength: TAG_LEN });
  d.setAAD(ad, { plaintextLength: bodyLen });
  d.setAuthTag(ciphertext.subarray(bodyLen));
  const body = d.update(ciphertext.subarray(0, bodyLen));
  try {
    d.final();
  } catch {
    throw new NoiseError("DECRYPT_FAILED", "message does not authenticate");
  }
  return body;
}
