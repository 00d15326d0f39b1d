import type { BlockHeader } from "@timenet/proto";
import { ChainError } from "./chain-error.js";

const MAGIC = new TextEncoder().encode("TNH1");
const UINT64_MAX = (1n << 64n) - 1n;

/** Length of the canonical header encoding: 4 + 4 + 32 + 32 + 8 + 32. */
export const HEADER_SIGNING_BYTES_LENGTH = 112;
/** Length of prev_hash, merkle_root and producer_id. */
export const HASH_LENGTH = 32;
/** Length of an ed25519 signature; genesis carries an empty one. */
export const SIGNATURE_LENGTH = 64;

/**
 * What is wrong with a header's fields, or undefined when every field has a
 * length and range the canonical encoding and the block hash accept.
 */
export function headerFieldProblem(h: BlockHeader): string | undefined {
  if (!Number.isInteger(h.height) || h.height < 0 || h.height > 0xffff_ffff) return `height ${h.height} is not a uint32`;
  if (h.prevHash.length !== HASH_LENGTH) return `prev_hash is ${h.prevHash.length} bytes, expected ${HASH_LENGTH}`;
  if (h.merkleRoot.length !== HASH_LENGTH) return `merkle_root is ${h.merkleRoot.length} bytes, expected ${HASH_LENGTH}`;
  if (h.timestampMs < 0n || h.timestampMs > UINT64_MAX) return `timestamp_ms ${h.timestampMs} is not a uint64`;
  if (h.producerId.length !== HASH_LENGTH) return `producer_id is ${h.producerId.length} bytes, expected ${HASH_LENGTH}`;
  if (h.signature.length !== 0 && h.signature.length !== SIGNATURE_LENGTH) {
    return `signature is ${h.signature.length} bytes, expected ${SIGNATURE_LENGTH} (or 0 for genesis)`;
  }
  return undefined;
}

/**
 * THE canonical encoding of a block header: the bytes a producer signs and
 * (with the signature) the bytes the block hash is taken over. Protobuf is
 * not canonical (field order, varint widths and unknown fields may differ
 * between implementations), so nothing about the chain depends on it.
 *
 *   offset  size  field
 *        0     4  magic "TNH1" (ASCII)
 *        4     4  height, uint32 big-endian
 *        8    32  prev_hash
 *       40    32  merkle_root
 *       72     8  timestamp_ms, uint64 big-endian
 *       80    32  producer_id (ed25519 public key)
 *      112        total
 *
 * The signature is not part of it. Throws ChainError "ERR_MALFORMED" when a
 * field has the wrong length or range.
 */
export function headerSigningBytes(h: BlockHeader): Uint8Array {
  const problem = headerFieldProblem(h);
  if (problem !== undefined) throw new ChainError("ERR_MALFORMED", `malformed block header: ${problem}`);
  const out = new Uint8Array(HEADER_SIGNING_BYTES_LENGTH);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(4, h.height, false);
  out.set(h.prevHash, 8);
  out.set(h.merkleRoot, 40);
  view.setBigUint64(72, h.timestampMs, false);
  out.set(h.producerId, 80);
  return out;
}
