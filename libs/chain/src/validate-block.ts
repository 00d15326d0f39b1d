import { BlockInvalidReason, type Block, type BlockHeader } from "@timenet/proto";
import { blockHash, bytesEqual, hashHex } from "./block-hash.js";
import type { NetworkParams } from "./network-params.js";
import { statelessChecks, type StatelessChecks } from "./stateless-checks.js";
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
 * The checks that need no chain (MALFORMED, TOO_LARGE, the signature, the
 * merkle root: stateless-checks.ts) may be computed beforehand, elsewhere
 * (a worker thread), and given as `checks`; this function still decides
 * which failure counts, in the order above. `parentHash`, when known, saves
 * hashing the parent again.
 *
 * The producers' schedule is a rule (schedule.ts): a block's timestamp is at
 * least its parent's + interval * (1 + its producer's rank distance).
 * TIMESTAMP_IN_FUTURE is checked last, so a block failing only it is valid
 * but early (the store holds it: our clock may be the slow one); `nowMs` of
 * Infinity skips that check.
 */
export function validateBlock(
  block: Block,
  parent: BlockHeader | undefined,
  params: NetworkParams,
  nowMs: number,
  checks: StatelessChecks = statelessChecks(block, params),
  parentHash?: Uint8Array,
): BlockValidation {
  const header = block.header;
  if (!checks.ok) return invalid(checks.reason, checks.detail);
  if (header === undefined) return invalid(BlockInvalidReason.MALFORMED, "block has no header");
  const hash = checks.hash;

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
  const parentId = parentHash ?? blockHash(parent);
  if (!bytesEqual(header.prevHash, parentId)) {
    return invalid(BlockInvalidReason.BAD_PREV_HASH, `prev_hash ${hashHex(header.prevHash)}, parent is ${hashHex(parentId)}`);
  }
  const index = producerIndex(header.producerId, params);
  if (index < 0) {
    return invalid(BlockInvalidReason.UNKNOWN_PRODUCER, `producer ${hashHex(header.producerId)} is not a ${params.name} producer`);
  }
  if (!checks.signatureValid) {
    return invalid(BlockInvalidReason.BAD_SIGNATURE, `signature does not verify for producer ${hashHex(header.producerId)}`);
  }
  if (!bytesEqual(header.merkleRoot, checks.merkleRoot)) {
    return invalid(BlockInvalidReason.BAD_MERKLE_ROOT, `merkle_root ${hashHex(header.merkleRoot)}, txs give ${hashHex(checks.merkleRoot)}`);
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
export function validateChain(
  blocks: readonly Block[],
  parent: BlockHeader | undefined,
  params: NetworkParams,
  nowMs: number,
  checks?: readonly StatelessChecks[],
): ChainValidation {
  const hashes: Uint8Array[] = [];
  let previous = parent;
  for (const [index, block] of blocks.entries()) {
    // The parent's hash is the one just computed: no block is hashed twice.
    const result = validateBlock(block, previous, params, nowMs, checks?.[index] ?? statelessChecks(block, params), hashes[index - 1]);
    if (!result.ok) return { ok: false, index, reason: result.reason, detail: result.detail };
    hashes.push(result.hash);
    previous = block.header;
  }
  return { ok: true, hashes };
}
