import { createHash, hkdfSync } from "node:crypto";
import { CipherState, KEY_LEN } from "./cipher-state.js";

export const HASH_LEN = 32;

/** Noise SymmetricState over SHA-256: the chaining key, the transcript hash and the handshake's cipher. */
export class SymmetricState {
  private ck: Buffer;
  private h: Buffer;
  private readonly cs = new CipherState();

  constructor(protocolName: string) {
    const name = Buffer.from(protocolName, "utf8");
    this.h = name.length <= HASH_LEN ? Buffer.concat([name, Buffer.alloc(HASH_LEN - name.length)]) : sha256(name);
    this.ck = Buffer.from(this.h);
  }

  /** The transcript hash so far; after the handshake, the session's unique handshake hash. */
  get handshakeHash(): Uint8Array {
    return new Uint8Array(this.h);
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, k] = hkdf(this.ck, ikm);
    this.ck = ck;
    this.cs.initializeKey(k.subarray(0, KEY_LEN));
  }

  mixHash(data: Uint8Array): void {
    this.h = sha256(this.h, data);
  }

  encryptAndHash(plaintext: Uint8Array): Buffer {
    const ct = this.cs.encryptWithAd(this.h, plaintext);
    this.mixHash(ct);
    return ct;
  }

  decryptAndHash(ciphertext: Uint8Array): Buffer {
    const pt = this.cs.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return pt;
  }

  /** The two transport ciphers: the initiator sends with the first, the responder with the second. */
  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf(this.ck, new Uint8Array(0));
    return [new CipherState(k1.subarray(0, KEY_LEN)), new CipherState(k2.subarray(0, KEY_LEN))];
  }
}

function sha256(...parts: Uint8Array[]): Buffer {
  const hash = createHash("sha256");
  for (const p of parts) hash.update(p);
  return hash.digest();
}

/** Noise's HKDF with two outputs is RFC 5869 HKDF-SHA256 with salt = ck and empty info (OpenSSL's). */
function hkdf(ck: Buffer, ikm: Uint8Array): [Buffer, Buffer] {
  const out = Buffer.from(hkdfSync("sha256", ikm, ck, new Uint8Array(0), 2 * HASH_LEN));
  return [out.subarray(0, HASH_LEN), out.subarray(HASH_LEN)];
}
