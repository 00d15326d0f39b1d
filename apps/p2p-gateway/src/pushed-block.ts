import { fromBinary } from "@bufbuild/protobuf";
import { blockHash, bytesEqual } from "@timenet/chain";
import { BlockSchema, type NewBlock } from "@timenet/proto";

/** A pushed block (NewBlock.block) looked at: the block its NewBlock names, or why it is not. */
export type PushedBlockCheck = { ok: true } | { wrong: string };

/**
 * Whether `nb.block` is the block `nb` announces: it decodes, and its header
 * has the announced height and hash. Anything else is the sender's doing (it
 * wrote the message on its own authenticated channel). Says nothing about
 * the block's validity: the store decides that.
 */
export function checkPushedBlock(nb: NewBlock): PushedBlockCheck {
  let header;
  try {
    header = fromBinary(BlockSchema, nb.block).header;
  } catch {
    return { wrong: "does not decode as a block" };
  }
  if (!header) return { wrong: "has no header" };
  if (header.height !== nb.height) return { wrong: `is at height ${header.height}, announced ${nb.height}` };
  let hash;
  try {
    hash = blockHash(header);
  } catch {
    return { wrong: "has a header that cannot be hashed" };
  }
  return bytesEqual(hash, nb.hash) ? { ok: true } : { wrong: "is not the block whose hash is announced" };
}
