import { verify, type KeyObject } from "node:crypto";
import { isStrictPoint, isStrictSignature } from "./strict-ed25519.js";
import { ed25519PublicKey } from "./raw-public-key.js";

/**
 * verifySignature with each public key parsed (and its strictness checked)
 * once (parsing costs about a tenth of a verify). The keys are
 * the producers', a short list; when `maxKeys` distinct keys are cached the
 * cache is emptied (a flood of unknown keys costs parsing, never memory).
 * Answers exactly what verifySignature answers.
 */
export class CachedVerifier {
  /** null: a key that is not strict or does not parse, which verifies nothing. */
  private readonly keys = new Map<string, KeyObject | null>();

  constructor(private readonly maxKeys = 1024) {}

  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
    const key = this.key(publicKey);
    if (key === null || !isStrictSignature(signature)) return false;
    try {
      return verify(null, data, key, signature);
    } catch {
      return false;
    }
  }

  private key(publicKey: Uint8Array): KeyObject | null {
    const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString("hex");
    let key = this.keys.get(id);
    if (key !== undefined) return key;
    key = null;
    if (isStrictPoint(publicKey)) {
      try {
        key = ed25519PublicKey(publicKey);
      } catch {
        key = null;
      }
    }
    if (this.keys.size >= this.maxKeys) this.keys.clear();
    this.keys.set(id, key);
    return key;
  }
}
