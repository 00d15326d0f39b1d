import { fromBinary } from "@bufbuild/protobuf";
import type { RequestDecoders } from "@timenet/grpc";
import { PutBlocksRequestSchema, type PutBlocksRequest } from "@timenet/proto";
import { fieldSlices } from "@timenet/wire";

/** PutBlocksRequest.blocks is field 1. */
const BLOCKS_FIELD = 1;
const asSent = new WeakMap<PutBlocksRequest, readonly Uint8Array[]>();

/**
 * Decodes a PutBlocks request as gRPC would, and keeps each block's bytes as
 * they came: the validation workers check those bytes and the commit writes
 * them, so the writer's thread never encodes a block again (that encoding
 * was a fifth of its time at full import rate). What is checked is what is
 * stored: both are these bytes.
 */
export function decodePutBlocksRequest(bytes: Buffer): PutBlocksRequest {
  // Our own copy of the request: the block slices neither pin a pooled buffer nor post one whole to a worker.
  const own = new Uint8Array(bytes);
  const req = fromBinary(PutBlocksRequestSchema, own);
  const blocks = fieldSlices(own, BLOCKS_FIELD);
  if (blocks.length === req.blocks.length) asSent.set(req, blocks);
  return req;
}

/** The bytes of each of `req`'s blocks as sent, when it came through decodePutBlocksRequest. */
export function blockBytesAsSent(req: PutBlocksRequest): readonly Uint8Array[] | undefined {
  return asSent.get(req);
}

export const BLOCK_STORE_DECODERS: RequestDecoders = { putBlocks: decodePutBlocksRequest };
