import { toBinary } from "@bufbuild/protobuf";
import { BLOCK_HEADER_RESERVE, signBlock, type NetworkParams } from "@timenet/chain";
import type { NodeKey } from "@timenet/node-key";
import { BlockSchema, type Block, type ChainTip } from "@timenet/proto";
import { lengthDelimitedBytes } from "@timenet/wire";

/** Bytes one transaction adds to an encoded Block (tag, length, data): what maxBlockBytes counts. */
export function txCost(tx: Uint8Array): number {
  return lengthDelimitedBytes(tx.length);
}

/** The byte budget of a block's transactions, in txCost units. */
export function txBudget(network: NetworkParams): number {
  return network.maxBlockBytes - BLOCK_HEADER_RESERVE;
}

/**
 * The block on top of `tip`: the next height, its hash as the parent, a
 * timestamp never before the parent's, signed by `key`. Throws when the
 * result would break the network's size limits (a bug in the budget).
 */
export function buildBlock(tip: ChainTip, txs: Uint8Array[], key: NodeKey, network: NetworkParams, nowMs: number): Block {
  const now = BigInt(Math.floor(nowMs));
  const block = signBlock(
    { height: tip.height + 1, prevHash: tip.hash, timestampMs: now > tip.timestampMs ? now : tip.timestampMs, txs },
    key,
  );
  const size = toBinary(BlockSchema, block).length;
  if (size > network.maxBlockBytes || txs.length > network.maxTxs) {
    throw new Error(`built a block of ${size} bytes and ${txs.length} txs, the network allows ${network.maxBlockBytes} and ${network.maxTxs}`);
  }
  return block;
}
