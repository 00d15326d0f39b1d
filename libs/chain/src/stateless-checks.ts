import { verifySignature } from "@timenet/node-key";
import { BlockInvalidReason, type Block } from "@timenet/proto";
import { blockHash, hashHex } from "./block-hash.js";
import { canonicalBlockSize } from "./block-size.js";
import { headerFieldProblem, headerSigningBytes } from "./header-encoding.js";
import { merkleRoot, txHash } from "./merkle.js";
import type { NetworkParams } from "./network-params.js";

/**
 * What validateBlock needs to know about a block that no chain state
 * changes: a plain, structured-clonable value, so it can be computed in a
 * worker thread. `ok: false` is the first MALFORMED / TOO_LARGE problem;
 * otherwise the block's hash, whether its signature verifies for the key in
 * producer_id (whether that key is a producer is a rule of the network,
 * checked by validateBlock), and the merkle root its txs give.
 */
export type StatelessChecks =
  | { ok: true; hash: Uint8Array; signatureValid: boolean; merkleRoot: Uint8Array }
  | { ok: false; reason: BlockInvalidReason; detail: string };

/** Verifies an ed25519 signature (verifySignature, or a CachedVerifier's verify). */
export type VerifyFn = (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array) => boolean;

/**
 * The stateless half of validateBlock. `encodedSize` is the length of the
 * bytes the caller holds for this block (what it will store and serve): it
 * must be the canonical encoding's (canonicalBlockSize), else the block is
 * MALFORMED. Without it, the canonical size is the block's size.
 */
export function statelessChecks(
  block: Block,
  params: Pick<NetworkParams, "maxTxs" | "maxBlockBytes">,
  verify: VerifyFn = verifySignature,
  encodedSize?: number,
): StatelessChecks {
  const header = block.header;
  if (header === undefined) return { ok: false, reason: BlockInvalidReason.MALFORMED, detail: "block has no header" };
  const problem = headerFieldProblem(header);
  if (problem !== undefined) return { ok: false, reason: BlockInvalidReason.MALFORMED, detail: problem };

  if (block.txs.length > params.maxTxs) {
    return { ok: false, reason: BlockInvalidReason.TOO_LARGE, detail: `${block.txs.length} txs, at most ${params.maxTxs}` };
  }
  const canonical = canonicalBlockSize(block);
  const size = encodedSize ?? canonical;
  if (size > params.maxBlockBytes) return { ok: false, reason: BlockInvalidReason.TOO_LARGE, detail: `${size} bytes, at most ${params.maxBlockBytes}` };
  // The bytes kept are the bytes received: any beyond the canonical encoding's are padding that would be stored and served.
  if (size !== canonical) return { ok: false, reason: BlockInvalidReason.MALFORMED, detail: `${size} bytes where the block's canonical encoding has ${canonical}: padding, unknown or repeated fields` };
  // A transaction appears once per block: it is its id. (The merkle tree no
  // longer depends on this rule — merkleRoot never duplicates a node, so
  // [a,b,c] and [a,b,c,c] have different roots — but a repeat means nothing.)
  // (One tx cannot repeat: not hashed for this.)
  if (block.txs.length > 1 && new Set(block.txs.map((tx) => hashHex(txHash(tx)))).size !== block.txs.length) {
    return { ok: false, reason: BlockInvalidReason.MALFORMED, detail: "a transaction appears twice" };
  }

  return {
    ok: true,
    hash: blockHash(header),
    signatureValid: verify(header.producerId, headerSigningBytes(header), header.signature),
    merkleRoot: merkleRoot(block.txs),
  };
}
