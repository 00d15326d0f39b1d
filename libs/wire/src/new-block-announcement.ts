import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, NewBlockSchema, type Envelope } from "@timenet/proto";
import { VarintReader, type EnvelopeHead } from "./envelope-head.js";

/** NewBlock.block (wire.proto): the pushed block, after the announcement's fields in every encoder of this protocol. */
const NEW_BLOCK_BLOCK_FIELD = 4;

/**
 * The announcement (height, hash, header) of a NewBlock read from the first
 * bytes of its frame's body, the block it carries cut off: a push over its
 * budget still tells us the peer's tip. The NewBlock's fields up to its
 * block (field 4) must lie whole within `prefix` and hold its hash; else, or
 * when they do not decode, undefined (nothing is blamed: only a part of the
 * message was read). `body` is the announcement's own encoding, to forward.
 */
export function announcementFromPrefix(prefix: Uint8Array, head: EnvelopeHead): { envelope: Envelope; body: Uint8Array } | undefined {
  if (head.kind !== "newBlock") return undefined;
  const end = head.payloadOffset + head.payloadLength;
  const r = new VarintReader(prefix, Math.min(prefix.length, end));
  r.pos = head.payloadOffset;
  let cut: number | undefined;
  try {
    while (cut === undefined && !r.done) {
      const at = r.pos;
      const tag = r.varint();
      if (Math.floor(tag / 8) === NEW_BLOCK_BLOCK_FIELD) cut = at;
      else r.skip(tag % 8);
    }
  } catch {
    // A field runs past the prefix (or does not parse): the announcement is not all here.
    return undefined;
  }
  // Every field read and none was the block: the announcement is whole only if the message ended here too.
  if (cut === undefined) {
    if (r.pos !== end) return undefined;
    cut = end;
  }
  let envelope: Envelope;
  try {
    const value = fromBinary(NewBlockSchema, prefix.subarray(head.payloadOffset, cut), { readUnknownFields: false });
    // No hash in front of the block: fields in another order (protobuf allows it), not a malformed announcement.
    if (value.hash.length === 0) return undefined;
    envelope = create(EnvelopeSchema, { requestId: head.requestId, payload: { case: "newBlock", value } });
  } catch {
    return undefined;
  }
  return { envelope, body: toBinary(EnvelopeSchema, envelope) };
}
