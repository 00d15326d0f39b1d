import { create, toBinary } from "@bufbuild/protobuf";
import { PeerMessageSchema } from "@timenet/proto";

// PeerMessage.envelope is field 3, length-delimited: tag (3 << 3) | 2.
const ENVELOPE_TAG = 0x1a;

/**
 * Encodes PeerMessage{peer_ip, conn_id, envelope} around the envelope bytes
 * exactly as they came off the socket: an embedded message is encoded as
 * length-delimited bytes, so splicing them in equals re-encoding the
 * decoded Envelope, without the cost (the hot path of every peer message).
 */
export function encodePeerMessage(peerIp: string, connId: number, envelopeBytes: Uint8Array): Uint8Array {
  const head = toBinary(PeerMessageSchema, create(PeerMessageSchema, { peerIp, connId }));
  const len: number[] = [];
  for (let n = envelopeBytes.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  const out = new Uint8Array(head.length + 1 + len.length + envelopeBytes.length);
  out.set(head, 0);
  out[head.length] = ENVELOPE_TAG;
  out.set(len, head.length + 1);
  out.set(envelopeBytes, head.length + 1 + len.length);
  return out;
}
