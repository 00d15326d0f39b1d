import { create } from "@bufbuild/protobuf";
import type { NodeKey } from "@timenet/node-key";
import { BlockHeaderSchema, BlockSchema, type Block } from "@timenet/proto";
import { headerSigningBytes } from "./header-encoding.js";
import { merkleRoot } from "./merkle.js";

export interface BlockInput {
  height: number;
  prevHash: Uint8Array;
  timestampMs: bigint;
  txs: Uint8Array[];
}

/** Builds the block a producer proposes: merkle root over `txs`, producer_id = the key, signed canonical header. */
export function signBlock(input: BlockInput, key: NodeKey): Block {
  const header = create(BlockHeaderSchema, {
    height: input.height,
    prevHash: input.prevHash,
    merkleRoot: merkleRoot(input.txs),
    timestampMs: input.timestampMs,
    producerId: key.publicKey,
  });
  header.signature = key.sign(headerSigningBytes(header));
  return create(BlockSchema, { header, txs: input.txs });
}
