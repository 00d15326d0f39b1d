import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, PeerResponseSchema, PutBlocksRequestSchema, type Block, type Envelope, type PeerResponse, type PutBlocksRequest } from "@timenet/proto";
import type { RequestEncoders } from "@timenet/grpc";
import { envelopeRuleViolation, fieldSlices, peekEnvelopeHead, repeatedEmbeddedField } from "@timenet/wire";

// PeerResponse.envelope = 1; Envelope.blocks = 17 (its head says so); Blocks.blocks = 1; PutBlocksRequest.blocks = 1.
const RESPONSE_ENVELOPE = 1;
const BLOCKS_ENTRY = 1;
const PUT_BLOCKS_TAG = 0x0a;

/** Each block's bytes as the peer sent them, for as long as the decoded block lives. */
const asReceived = new WeakMap<Block, Uint8Array>();

/**
 * A peer's answer that does not decode as an Envelope, or breaks a field rule
 * (FIELD_LIMITS: hash, key and signature lengths). The peer's doing: our
 * gateway carries a Blocks answer on as it came off the socket, unread but
 * for its price and shape.
 */
export class MalformedAnswerError extends Error {
  readonly code = "MALFORMED_ANSWER";
  constructor(message: string) {
    super(message);
    this.name = "MalformedAnswerError";
  }
}

/**
 * Decodes a gateway's PeerResponse and remembers, for each block of a Blocks
 * answer, its bytes as the peer sent them. The peer's envelope inside is
 * decoded apart from the response around it, so that what is wrong with it
 * (MalformedAnswerError) is told from what is wrong around it (our
 * gateway's: anything else thrown). A put of those blocks then sends those
 * bytes (encodePutBlocksRequest) instead of encoding every block again: the
 * store keeps and checks the bytes as sent in any case.
 */
export function decodePeerResponse(bytes: Uint8Array): PeerResponse {
  const envelopes = fieldSlices(bytes, RESPONSE_ENVELOPE);
  // No envelope (an error of our gateway's), or a form no gateway of ours writes: decoded whole.
  if (envelopes.length !== 1) return fromBinary(PeerResponseSchema, bytes, { readUnknownFields: false });
  const body = envelopes[0]!;
  let envelope: Envelope;
  try {
    envelope = fromBinary(EnvelopeSchema, body, { readUnknownFields: false });
  } catch (err) {
    throw new MalformedAnswerError(`its answer does not decode as an Envelope: ${(err as Error).message}`);
  }
  const violation = envelopeRuleViolation(envelope);
  if (violation !== undefined) throw new MalformedAnswerError(violation);
  if (envelope.payload.case === "blocks") {
    const blocks = envelope.payload.value.blocks;
    const entries = blockEntries(body);
    // Anything but one entry per decoded block: the blocks are encoded again when put.
    if (entries?.length === blocks.length) blocks.forEach((b, i) => asReceived.set(b, entries[i]!));
  }
  return create(PeerResponseSchema, { result: { case: "envelope", value: envelope } });
}

/** The size of a block's bytes as received (0 when they are not known). */
export function receivedBytes(block: Block): number {
  return asReceived.get(block)?.length ?? 0;
}

/** A block decoded from `bytes` elsewhere (a pushed block): its put sends those bytes. */
export function rememberReceived(block: Block, bytes: Uint8Array): void {
  asReceived.set(block, bytes);
}

/** Each Blocks entry's bytes in an encoded Envelope (undefined when it is not a Blocks answer in canonical form). */
function blockEntries(envelope: Uint8Array): Uint8Array[] | undefined {
  try {
    const head = peekEnvelopeHead(envelope, envelope.length);
    if (head.kind !== "blocks") return undefined;
    return fieldSlices(envelope.subarray(head.payloadOffset, head.payloadOffset + head.payloadLength), BLOCKS_ENTRY);
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
