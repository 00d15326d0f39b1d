import { lengthDelimitedBytes, varintLength, writeVarint } from "@timenet/wire";
/**
 * The answer to a peer's GetBlocks as the bytes of a SendToPeer, spliced
 * around the stored block bytes: no block is decoded and encoded again, and
 * the whole message is one allocation (a worker hands it to the main thread
 * by transfer, not copy). Byte for byte what protobuf-es writes for
 * SendToPeer { peer_ip, conn_id, envelope { request_id, blocks { blocks } } }.
 */

/** Who the answer goes to: the peer, the connection the request came in on, the request's id. */
export interface ReplyTo {
  peerIp: string;
  connId: number;
  requestId: number;
}

const SEND_TO_PEER_PEER_IP = 0x0a; // field 1, length-delimited
const SEND_TO_PEER_CONN_ID = 0x10; // field 2, varint
const SEND_TO_PEER_ENVELOPE = 0x1a; // field 3, length-delimited
const ENVELOPE_REQUEST_ID = 0x08; // field 1, varint
const ENVELOPE_BLOCKS = [0x8a, 0x01]; // field 17 (oneof payload.blocks), length-delimited
const BLOCKS_BLOCK = 0x0a; // Blocks field 1 (repeated Block), length-delimited
const BLOCKS_BUSY = [0x10, 0x01]; // Blocks field 2 (busy), varint true

/** Bytes one block adds to a `repeated Block` field: tag, length varint, body. */
export function entryBytes(bodyLength: number): number {
  return lengthDelimitedBytes(bodyLength);
}

/** `busy`: no block could be sent for load, not for lack of blocks (Blocks.busy: the asker blames nobody). */
export function encodeBlocksReply(to: ReplyTo, blocks: readonly Uint8Array[], busy = false): Uint8Array {
  const ip = new TextEncoder().encode(to.peerIp);
  const blocksLength = blocks.reduce((n, b) => n + entryBytes(b.length), 0) + (busy ? BLOCKS_BUSY.length : 0);
  const envelopeLength = (to.requestId !== 0 ? 1 + varintLength(to.requestId) : 0) + ENVELOPE_BLOCKS.length + varintLength(blocksLength) + blocksLength;
  const total =
    (ip.length > 0 ? 1 + varintLength(ip.length) + ip.length : 0) + (to.connId !== 0 ? 1 + varintLength(to.connId) : 0) + 1 + varintLength(envelopeLength) + envelopeLength;
  const out = new Uint8Array(total);
  let pos = 0;
  const byte = (b: number) => void (out[pos++] = b);
  const varint = (n: number) => void (pos = writeVarint(out, pos, n));
  const bytes = (b: Uint8Array) => {
    out.set(b, pos);
    pos += b.length;
  };
  if (ip.length > 0) {
    byte(SEND_TO_PEER_PEER_IP);
    varint(ip.length);
    bytes(ip);
  }
  if (to.connId !== 0) {
    byte(SEND_TO_PEER_CONN_ID);
    varint(to.connId);
  }
  byte(SEND_TO_PEER_ENVELOPE);
  varint(envelopeLength);
  if (to.requestId !== 0) {
    byte(ENVELOPE_REQUEST_ID);
    varint(to.requestId);
  }
  ENVELOPE_BLOCKS.forEach(byte);
  varint(blocksLength);
  for (const b of blocks) {
    byte(BLOCKS_BLOCK);
    varint(b.length);
    bytes(b);
  }
  if (busy) BLOCKS_BUSY.forEach(byte);
  return out;
}
