// Hand-encoded frames (4-byte length + Envelope bytes) for the attacks: the
// protobuf writer would take seconds to build millions of empty entries, and
// some of these are not what any writer would produce (unknown fields, kinds
// this build does not know). Field numbers are those of wire.proto.
import { randomBytes } from "node:crypto";
import { encodeVarint, FRAME_HEADER_BYTES } from "@timenet/wire";

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
/** Envelope fields (wire.proto). */
const ENVELOPE_PING = 12;
const ENVELOPE_BLOCKS = 17;
const ENVELOPE_TX = 19;
/** A field number no Envelope of this protocol has: the receiver sees an envelope of unknown kind. */
const UNKNOWN_FIELD = 99;
/** Ping.nonce; and an unknown Ping field carrying the padding. */
const PING_NONCE = 1;
const PING_PADDING = 2047;
/** Blocks.blocks (repeated Block). */
const BLOCKS_BLOCKS = 1;

const tag = (field: number, wire: number) => encodeVarint(field * 8 + wire);

/** A length-delimited field: tag, length, bytes. */
function lenField(field: number, body: Buffer): Buffer {
  return Buffer.concat([tag(field, WIRE_LEN), encodeVarint(body.length), body]);
}

/** Bytes of a length-delimited field around a body of n bytes. */
const lenFieldBytes = (field: number, n: number) => tag(field, WIRE_LEN).length + encodeVarint(n).length + n;

export function frame(envelope: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + envelope.length);
  out.writeUInt32BE(envelope.length, 0);
  envelope.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** The largest n whose length-delimited field fits in `bytes`. */
function fitting(field: number, bytes: number): number {
  let n = bytes;
  while (lenFieldBytes(field, n) > bytes) n--;
  return n;
}

/**
 * A Blocks envelope of at most `bytes`, made of empty Block entries (2 bytes
 * each): one message object per 2 bytes for whoever decodes it, millions in
 * an 8 MiB frame.
 */
export function emptyBlocksFrame(bytes: number): Buffer {
  const inner = fitting(ENVELOPE_BLOCKS, bytes) & ~1;
  const entries = Buffer.alloc(inner);
  const entry = tag(BLOCKS_BLOCKS, WIRE_LEN)[0]!;
  for (let i = 0; i < inner; i += 2) entries[i] = entry; // [tag, length 0]
  return frame(lenField(ENVELOPE_BLOCKS, entries));
}

/** A Ping envelope of at most `bytes`: a nonce, and the rest an unknown field the decoder must keep. */
export function paddedPingFrame(bytes: number): Buffer {
  const nonce = Buffer.concat([tag(PING_NONCE, WIRE_VARINT), encodeVarint(1)]);
  const padFieldBytes = fitting(ENVELOPE_PING, bytes) - nonce.length;
  const ping = Buffer.concat([nonce, lenField(PING_PADDING, Buffer.alloc(fitting(PING_PADDING, padFieldBytes), 0x55))]);
  return frame(lenField(ENVELOPE_PING, ping));
}

/** A Tx envelope of at most `bytes` with random data (every one a new transaction). */
export function txFrame(bytes: number): Buffer {
  const data = randomBytes(fitting(1, fitting(ENVELOPE_TX, bytes)));
  return frame(lenField(ENVELOPE_TX, lenField(1, data)));
}

/** The empty envelope: a zero length and no body. */
export const EMPTY_FRAME: Buffer = frame(Buffer.alloc(0));

/** An envelope of a kind this protocol does not have (field 99 = 1). */
export const UNKNOWN_KIND_FRAME: Buffer = frame(Buffer.concat([tag(UNKNOWN_FIELD, WIRE_VARINT), encodeVarint(1)]));

/** As many copies of one frame as fit in `bytes`, back to back: one write's worth of a flood. */
export function repeated(f: Buffer, bytes: number): Buffer {
  return Buffer.concat(Array.from({ length: Math.max(1, Math.floor(bytes / f.length)) }, () => f));
}
