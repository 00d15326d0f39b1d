import type { Block, BlockHeader } from "@timenet/proto";
import { lengthDelimitedBytes as delimited, varintLength } from "@timenet/wire";

/** A bytes field with implicit presence: absent when empty. */
const bytesField = (b: Uint8Array) => (b.length === 0 ? 0 : delimited(b.length));

function headerBytes(h: BlockHeader): number {
  return (
    (h.height === 0 ? 0 : 1 + varintLength(h.height)) +
    bytesField(h.prevHash) +
    bytesField(h.merkleRoot) +
    (h.timestampMs === 0n ? 0 : 1 + varintLength(h.timestampMs)) +
    bytesField(h.producerId) +
    bytesField(h.signature)
  );
}

/**
 * The size of a block's canonical protobuf encoding (what protobuf-es writes:
 * every field once, in field order, minimal varints, defaults omitted, no
 * unknown fields), computed without encoding it. Any other encoding of the
 * same block is at least as long, and longer unless it only orders the same
 * fields differently: so a block whose bytes are longer than this carries
 * bytes that mean nothing (padding, unknown fields, repeats), which a peer
 * could otherwise make every node store and serve.
 */
export function canonicalBlockSize(block: Block): number {
  // Each tx is written even when empty (a repeated field's entries are all present).
  const txs = block.txs.reduce((n, tx) => n + delimited(tx.length), 0);
  return (block.header === undefined ? 0 : delimited(headerBytes(block.header))) + txs;
}
