import { toBinary } from "@bufbuild/protobuf";
import { verifySignature } from "@timenet/node-key";
import { BlockInvalidReason, BlockSchema, type Block, type BlockHeader } from "@timenet/proto";
import { blockHash, bytesEqual, hashHex } from "./block-hash.js";
import { headerFieldProblem, headerSigningBytes } from "./header-encoding.js";
import { merkleRoot, txHash } from "./merkle.js";
import type { NetworkParams } from "./network-params.js";
import { earliestTimestampMs, producerIndex, rankAt } from "./schedule.js";

export type BlockValidation = { ok: true; hash: Uint8Array } | { ok: false; reason: BlockInvalidReason; detail: string };

export type ChainValidation =
  | { ok: true; hashes: Uint8Array[] }
  | { ok: false; index: number; reason: BlockInvalidReason; detail: string };

const invalid = (reason: BlockInvalidReason, detail: string): BlockValidation => ({ ok: false, reason, detail });

/**
 * Applies the chain rules to `block` as the child of `parent` (a header
 * already on the chain, trusted: a malformed one throws ChainError), or, when
 * `parent` is undefined, checks that `block` is exactly the network's genesis.
 * The first failing check decides the reason, in this order: MALFORMED,
 * TOO_LARGE, (WRONG_GENESIS), BAD_HEIGHT, BAD_PREV_HASH, UNKNOWN_PRODUCER,
 * BAD_SIGNATURE, BAD_MERKLE_ROOT, TIMESTAMP_BEFORE_PARENT, BEFORE_TURN,
 * TIMESTAMP_IN_FUTURE.
 *
 * The producers' schedule is a rule (schedule.ts): a block's timestamp is at
 * least its parent's + interval * (1 + its producer's rank distance).
 * TIMESTAMP_IN_FUTURE is checked last, so a block failing only it is valid
 * but early (the store holds it: our clock may be the slow one); `nowMs` of
 * Infinity skips that check.
 */
export function validateBlock(block: Block, parent: BlockHeader | undefined, params: NetworkParams, nowMs: number): BlockValidation {
  const header = block.header;
  if (header === undefined) return invalid(BlockInvalidReason.MALFORMED, "block has no header");
  const problem = headerFieldProblem(header);
  if (problem !== undefined) return invalid(BlockInvalidReason.MALFORMED, problem);

  if (block.txs.length > params.maxTxs) {
    return invalid(BlockInvalidReason.TOO_LARGE, `${block.txs.length} txs, at most ${params.maxTxs}`);
  }
  const size = toBinary(BlockSchema, block).length;
  if (size > params.maxBlockBytes) return invalid(BlockInvalidReason.TOO_LARGE, `${size} bytes, at most ${params.maxBlockBytes}`);
  // A transaction appears once per block: it is its id. (The merkle tree no
  // longer depends on this rule — merkleRoot never duplicates a node, so
  // [a,b,c] and [a,b,c,c] have different roots — but a repeat means nothing.)
  const txHashes = new Set(block.txs.map((tx) => hashHex(txHash(tx))));
  if (txHashes.size !== block.txs.length) return invalid(BlockInvalidReason.MALFORMED, "a transaction appears twice");

  const hash = blockHash(header);

  if (parent === undefined) {
    const genesis = params.genesis;
    const sameTxs = block.txs.length === genesis.txs.length && block.txs.every((tx, i) => bytesEqual(tx, genesis.txs[i]!));
    if (!bytesEqual(hash, params.genesisHash) || !sameTxs) {
      return invalid(
        BlockInvalidReason.WRONG_GENESIS,
        `block ${hashHex(hash)} at height ${header.height} is not the ${params.name} genesis ${hashHex(params.genesisHash)}`,
      );
    }
    return { ok: true, hash };
  }

  if (header.height !== parent.height + 1) {
    return invalid(BlockInvalidReason.BAD_HEIGHT, `height ${header.height}, expected ${parent.height + 1}`);
  }
  const parentHash = blockHash(parent);
  if (!bytesEqual(header.prevHash, parentHash)) {
    return invalid(BlockInvalidReason.BAD_PREV_HASH, `prev_hash ${hashHex(header.prevHash)}, parent is ${hashHex(parentHash)}`);
  }
  const index = producerIndex(header.producerId, params);
  if (index < 0) {
    return invalid(BlockInvalidReason.UNKNOWN_PRODUCER, `producer ${hashHex(header.producerId)} is not a ${params.name} producer`);
  }
  if (!verifySignature(header.producerId, headerSigningBytes(header), header.signature)) {
    return invalid(BlockInvalidReason.BAD_SIGNATURE, `signature does not verify for producer ${hashHex(header.producerId)}`);
  }
  const root = merkleRoot(block.txs);
  if (!bytesEqual(header.merkleRoot, root)) {
    return invalid(BlockInvalidReason.BAD_MERKLE_ROOT, `merkle_root ${hashHex(header.merkleRoot)}, txs give ${hashHex(root)}`);
  }
  if (header.timestampMs < parent.timestampMs) {
    return invalid(BlockInvalidReason.TIMESTAMP_BEFORE_PARENT, `timestamp ${header.timestampMs} is before the parent's ${parent.timestampMs}`);
  }
  const rank = rankAt(header.height, index, params);
  const earliest = earliestTimestampMs(parent.timestampMs, rank, params);
  if (header.timestampMs < earliest) {
    return invalid(
      BlockInvalidReason.BEFORE_TURN,
      `timestamp ${header.timestampMs} is before ${earliest}, the earliest its producer (rank ${rank} at height ${header.height}) may make it: ${earliest - header.timestampMs} ms early`,
    );
  }
  if (!Number.isFinite(nowMs)) return { ok: true, hash };
  const latest = BigInt(Math.floor(nowMs)) + BigInt(params.maxFutureDriftMs);
  if (header.timestampMs > latest) {
    return invalid(
      BlockInvalidReason.TIMESTAMP_IN_FUTURE,
      `timestamp ${header.timestampMs} is ${header.timestampMs - BigInt(Math.floor(nowMs))} ms ahead of now, at most ${params.maxFutureDriftMs}`,
    );
  }
  return { ok: true, hash };
}

/**
 * Validates a contiguous run: blocks[0] as the child of `parent` (or as the
 * genesis when `parent` is undefined), each next block as the child of the
 * one before. Stops at the first failure and gives its index in `blocks`.
 */
export function validateChain(blocks: readonly Block[], parent: BlockHeader | undefined, params: NetworkParams, nowMs: number): ChainValidation {
  const hashes: Uint8Array[] = [];
  let previous = parent;
  for (const [index, block] of blocks.entries()) {
    const result = validateBlock(block, previous, params, nowMs);
    if (!result.ok) return { ok: false, index, reason: result.reason, detail: result.detail };
    hashes.push(result.hash);
    previous = block.header;
  }
  return { ok: true, hashes };
}
