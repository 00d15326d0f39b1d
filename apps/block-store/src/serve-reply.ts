import { blocksEnvelopeLength, varintLength, writeBlocksEnvelope, writeVarint } from "@timenet/wire";
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

/** `busy`: no block could be sent for load, not for lack of blocks (Blocks.busy: the asker blames nobody). */
export function encodeBlocksReply(to: ReplyTo, blocks: readonly Uint8Array[], busy = false): Uint8Array {
  const ip = new TextEncoder().encode(to.peerIp);
  const envelopeLength = blocksEnvelopeLength(to.requestId, blocks, busy);
  const total =
    (ip.length > 0 ? 1 + varintLength(ip.length) + ip.length : 0) + (to.connId !== 0 ? 1 + varintLength(to.connId) : 0) + 1 + varintLength(envelopeLength) + envelopeLength;
  const out = new Uint8Array(total);
  let pos = 0;
  if (ip.length > 0) {
    out[pos++] = SEND_TO_PEER_PEER_IP;
    pos = writeVarint(out, pos, ip.length);
    out.set(ip, pos);
    pos += ip.length;
  }
  if (to.connId !== 0) {
    out[pos++] = SEND_TO_PEER_CONN_ID;
    pos = writeVarint(out, pos, to.connId);
  }
  out[pos++] = SEND_TO_PEER_ENVELOPE;
  pos = writeVarint(out, pos, envelopeLength);
  writeBlocksEnvelope(out, pos, to.requestId, blocks, busy);
  return out;
}
