// The bus messages that carry a peer's Envelope, read and written around the
// Envelope's bytes: a block batch crosses the gateway without being decoded
// and encoded again on the way.
import { create, toBinary } from "@bufbuild/protobuf";
import { PeerMessageSchema } from "@timenet/proto";
import { encodedEnvelope, FrameError, VarintReader, withEmbeddedField, type EncodedEnvelope } from "@timenet/wire";

// PeerMessage.envelope is field 3, length-delimited: tag (3 << 3) | 2.
const ENVELOPE_TAG = 0x1a;

/**
 * Encodes PeerMessage{peer_ip, conn_id, envelope} around the envelope bytes
 * exactly as they came off the socket (withEmbeddedField: the same bytes as
 * encoding the decoded Envelope, without the cost; the hot path of every
 * peer message).
 */
export function encodePeerMessage(peerIp: string, connId: number, envelopeBytes: Uint8Array): Uint8Array {
  return withEmbeddedField(toBinary(PeerMessageSchema, create(PeerMessageSchema, { peerIp, connId })), ENVELOPE_TAG, envelopeBytes);
}

// PeerResponse.envelope is field 1, length-delimited.
const RESPONSE_ENVELOPE_TAG = 0x0a;
const EMPTY = new Uint8Array(0);

/** PeerResponse{envelope} around a peer's answer as it came off the socket. */
export function encodePeerResponse(envelopeBytes: Uint8Array): Uint8Array {
  return withEmbeddedField(EMPTY, RESPONSE_ENVELOPE_TAG, envelopeBytes);
}

/** A SendToPeer read without decoding its envelope. */
export interface SendToPeerBytes {
  peerIp: string;
  connId: number;
  /** Undefined when the message has none. */
  envelope: EncodedEnvelope | undefined;
}

// SendToPeer: peer_ip = 1 (string), conn_id = 2 (varint), envelope = 3 (message).
const SEND_PEER_IP = 1;
const SEND_CONN_ID = 2;
const SEND_ENVELOPE = 3;

/**
 * Reads SendToPeer as protobuf would (unknown fields skipped, the last
 * peer_ip and conn_id win) but keeps its envelope as bytes, checked for the
 * canonical form a peer requires. Throws FrameError("BAD_FRAME") on bytes that
 * do not parse, an envelope a peer would refuse, or two envelopes (protobuf
 * would merge them: no sender of ours writes that).
 */
export function decodeSendToPeer(bytes: Uint8Array): SendToPeerBytes {
  const r = new VarintReader(bytes);
  const out: SendToPeerBytes = { peerIp: "", connId: 0, envelope: undefined };
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (wireType === 2 && (field === SEND_PEER_IP || field === SEND_ENVELOPE)) {
      const length = r.varint();
      if (r.pos + length > bytes.length) throw new FrameError("BAD_FRAME", `SendToPeer field ${field} runs past the message`);
      const value = bytes.subarray(r.pos, r.pos + length);
      r.pos += length;
      if (field === SEND_PEER_IP) out.peerIp = new TextDecoder().decode(value);
      else if (out.envelope) throw new FrameError("BAD_FRAME", "SendToPeer with two envelopes");
      else out.envelope = encodedEnvelope(value);
    } else if (wireType === 0 && field === SEND_CONN_ID) {
      out.connId = r.varint() >>> 0;
    } else {
      r.skip(wireType);
    }
  }
  return out;
}
