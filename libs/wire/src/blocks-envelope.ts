import { lengthDelimitedBytes, varintLength, writeVarint } from "./varint.js";

/**
 * The answer to a GetBlocks, Envelope { request_id, blocks { blocks, busy } },
 * written around blocks' bytes as stored or received: no block is decoded and
 * encoded again. Byte for byte what protobuf-es writes for the decoded
 * message. A store writes it into the message that carries it (one
 * allocation, `writeBlocksEnvelope`); a lone answer is `encodeBlocksEnvelope`.
 */

const ENVELOPE_REQUEST_ID = 0x08; // Envelope field 1, varint
const ENVELOPE_BLOCKS = [0x8a, 0x01]; // Envelope field 17 (oneof payload.blocks), length-delimited
const BLOCKS_BLOCK = 0x0a; // Blocks field 1 (repeated Block), length-delimited
const BLOCKS_BUSY = [0x10, 0x01]; // Blocks field 2 (busy), varint true

/** Bytes one block of `bodyLength` adds to the answer (what a serving limit counts). */
export function blocksEntryBytes(bodyLength: number): number {
  return lengthDelimitedBytes(bodyLength);
}

function blocksLength(blocks: readonly Uint8Array[], busy: boolean): number {
  return blocks.reduce((n, b) => n + blocksEntryBytes(b.length), 0) + (busy ? BLOCKS_BUSY.length : 0);
}

/** Bytes of the answer `writeBlocksEnvelope` writes. */
export function blocksEnvelopeLength(requestId: number, blocks: readonly Uint8Array[], busy = false): number {
  const inner = blocksLength(blocks, busy);
  return (requestId !== 0 ? 1 + varintLength(requestId) : 0) + ENVELOPE_BLOCKS.length + varintLength(inner) + inner;
}

/**
 * Writes the answer into `out` at `pos`; returns the position after it.
 * `busy`: no block could be sent for load, not for lack of blocks (the asker blames nobody).
 */
export function writeBlocksEnvelope(out: Uint8Array, pos: number, requestId: number, blocks: readonly Uint8Array[], busy = false): number {
  if (requestId !== 0) {
    out[pos++] = ENVELOPE_REQUEST_ID;
    pos = writeVarint(out, pos, requestId);
  }
  out.set(ENVELOPE_BLOCKS, pos);
  pos = writeVarint(out, pos + ENVELOPE_BLOCKS.length, blocksLength(blocks, busy));
  for (const b of blocks) {
    out[pos++] = BLOCKS_BLOCK;
    pos = writeVarint(out, pos, b.length);
    out.set(b, pos);
    pos += b.length;
  }
  if (busy) {
    out.set(BLOCKS_BUSY, pos);
    pos += BLOCKS_BUSY.length;
  }
  return pos;
}

/** The answer on its own. */
export function encodeBlocksEnvelope(requestId: number, blocks: readonly Uint8Array[], busy = false): Uint8Array {
  const out = new Uint8Array(blocksEnvelopeLength(requestId, blocks, busy));
  writeBlocksEnvelope(out, 0, requestId, blocks, busy);
  return out;
}
