import { hash } from "node:crypto";
import type { BlockHeader } from "@timenet/proto";
import { headerSigningBytes } from "./header-encoding.js";

/** SHA-256 applied twice: the hash of blocks, transactions and merkle nodes. */
export function sha256d(...parts: Uint8Array[]): Uint8Array {
  // Always the one-shot hash(), over the parts joined: a Hash object per call cost more than the copy (the store hashes every block and tx).
  const inner = hash("sha256", parts.length === 1 ? parts[0]! : Buffer.concat(parts), "buffer");
  // A copy: never a view of a shared Buffer pool.
  return new Uint8Array(hash("sha256", inner, "buffer"));
}

/**
 * A block's id (32 bytes): SHA-256d( headerSigningBytes(h) || uint8 signature
 * length || signature ). The signature is included, so a block is fixed by
 * its hash; genesis, unsigned, hashes with a length byte of 0.
 */
export function blockHash(h: BlockHeader): Uint8Array {
  // headerSigningBytes has checked the signature length (0 or 64), so it fits a byte.
  const body = headerSigningBytes(h);
  return sha256d(body, Uint8Array.of(h.signature.length), h.signature);
}

export function hashHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}
