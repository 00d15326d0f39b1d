import { createHash } from "node:crypto";
import type { BlockHeader } from "@timenet/proto";
import { headerSigningBytes } from "./header-encoding.js";

/** SHA-256 applied twice: the hash of blocks, transactions and merkle nodes. */
export function sha256d(...parts: Uint8Array[]): Uint8Array {
  const inner = createHash("sha256");
  for (const part of parts) inner.update(part);
  return new Uint8Array(createHash("sha256").update(inner.digest()).digest());
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
