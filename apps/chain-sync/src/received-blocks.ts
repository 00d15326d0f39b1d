import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { PeerResponseSchema, PutBlocksRequestSchema, type Block, type PeerResponse, type PutBlocksRequest } from "@timenet/proto";
import type { RequestEncoders } from "@timenet/grpc";
import { fieldSlices, peekEnvelopeHead, repeatedEmbeddedField } from "@timenet/wire";

// PeerResponse.envelope = 1; Envelope.blocks = 17 (its head says so); Blocks.blocks = 1; PutBlocksRequest.blocks = 1.
const RESPONSE_ENVELOPE = 1;
const BLOCKS_ENTRY = 1;
const PUT_BLOCKS_TAG = 0x0a;

/** Each block's bytes as the peer sent them, for as long as the decoded block lives. */
const asReceived = new WeakMap<Block, Uint8Array>();

/**
 * Decodes a gateway's PeerResponse and remembers, for each block of a Blocks
 * answer, its bytes as the peer sent them (the gateway carries the peer's
 * answer on as it came off the socket). A put of those blocks then sends
 * those bytes (encodePutBlocksRequest) instead of encoding every block
 * again: the store keeps and checks the bytes as sent in any case. Throws
 * what fromBinary throws.
 */
export function decodePeerResponse(bytes: Uint8Array): PeerResponse {
  const res = fromBinary(PeerResponseSchema, bytes, { readUnknownFields: false });
  if (res.result.case === "envelope" && res.result.value.payload.case === "blocks") {
    const blocks = res.result.value.payload.value.blocks;
    const entries = blockEntries(bytes);
    // Anything but one entry per decoded block (a form no gateway of ours writes): the blocks are encoded again when put.
    if (entries?.length === blocks.length) blocks.forEach((b, i) => asReceived.set(b, entries[i]!));
  }
  return res;
}

/** The size of a block's bytes as received (0 when they are not known). */
export function receivedBytes(block: Block): number {
  return asReceived.get(block)?.length ?? 0;
}

/** A block decoded from `bytes` elsewhere (a pushed block): its put sends those bytes. */
export function rememberReceived(block: Block, bytes: Uint8Array): void {
  asReceived.set(block, bytes);
}

function blockEntries(bytes: Uint8Array): Uint8Array[] | undefined {
  try {
    const envelopes = fieldSlices(bytes, RESPONSE_ENVELOPE);
    if (envelopes.length !== 1) return undefined;
    const env = envelopes[0]!;
    const head = peekEnvelopeHead(env, env.length);
    if (head.kind !== "blocks") return undefined;
    return fieldSlices(env.subarray(head.payloadOffset, head.payloadOffset + head.payloadLength), BLOCKS_ENTRY);
  } catch {
    return undefined;
  }
}

/**
 * PutBlocksRequest's encoding, each block as received when its bytes are
 * known (they all are for blocks fetched through decodePeerResponse), else
 * the whole request encoded as usual.
 */
export function encodePutBlocksRequest(req: PutBlocksRequest): Buffer {
  const entries: Uint8Array[] = [];
  for (const b of req.blocks) {
    const bytes = asReceived.get(b);
    if (bytes === undefined) return toBuffer(toBinary(PutBlocksRequestSchema, req));
    entries.push(bytes);
  }
  return toBuffer(repeatedEmbeddedField(PUT_BLOCKS_TAG, entries));
}

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** The block-store client's encoders (createGrpcClient's `encoders`). */
export const STORE_REQUEST_ENCODERS: RequestEncoders = { putBlocks: encodePutBlocksRequest };
