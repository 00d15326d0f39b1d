import { FrameError } from "./frame-error.js";
import type { EnvelopeKind } from "./envelope-kind.js";

/** Envelope field numbers of the payload oneof (wire.proto), by kind. */
const KIND_BY_FIELD: ReadonlyMap<number, EnvelopeKind> = new Map<number, EnvelopeKind>([
  [10, "hello"],
  [11, "helloAck"],
  [12, "ping"],
  [13, "pong"],
  [14, "getPeers"],
  [15, "peers"],
  [16, "getBlocks"],
  [17, "blocks"],
  [18, "newBlock"],
  [19, "tx"],
  [20, "goodbye"],
]);

/** What the first bytes of a frame's body say, before the rest is read: enough to price it. */
export interface EnvelopeHead {
  /** The payload's kind; undefined for an empty envelope or a payload field this build does not know. */
  kind: EnvelopeKind | undefined;
  /** The Envelope field number of the payload (0 for an empty envelope). */
  field: number;
  requestId: number;
  /** Offset of the payload message's bytes in the body, and their length. */
  payloadOffset: number;
  payloadLength: number;
}

/**
 * Bytes of a body that always hold its head: request_id (tag + varint of at
 * most 5) + the payload's tag (2) + its length (at most 5).
 */
export const ENVELOPE_HEAD_BYTES = 13;

/**
 * Reads an Envelope's head from the first min(ENVELOPE_HEAD_BYTES, bodyLength)
 * bytes of its body. The canonical shape is required (what every encoder of
 * this protocol writes): an optional request_id, then exactly one
 * length-delimited payload field that runs to the end of the frame. Anything
 * else (fields in another order, a second field, padding after the payload)
 * is a BAD_FRAME, so no byte of a frame escapes the price its kind sets.
 */
export function peekEnvelopeHead(bytes: Uint8Array, bodyLength: number): EnvelopeHead {
  if (bodyLength === 0) return { kind: undefined, field: 0, requestId: 0, payloadOffset: 0, payloadLength: 0 };
  const r = new VarintReader(bytes);
  let tag = r.varint();
  let requestId = 0;
  if (tag === 0x08) {
    const id = r.varint();
    if (id > 0xffffffff) throw bad("request_id above 32 bits");
    requestId = id;
    if (r.pos === bodyLength) return { kind: undefined, field: 0, requestId, payloadOffset: r.pos, payloadLength: 0 };
    tag = r.varint();
  }
  const field = Math.floor(tag / 8);
  if (tag % 8 !== 2 || field < 10) throw bad(`field ${field} (wire type ${tag % 8}) where the payload belongs`);
  const payloadLength = r.varint();
  if (r.pos + payloadLength !== bodyLength) throw bad(`payload of ${payloadLength} bytes in a body of ${bodyLength} (one payload, nothing after it)`);
  return { kind: KIND_BY_FIELD.get(field), field, requestId, payloadOffset: r.pos, payloadLength };
}

function bad(why: string): FrameError {
  return new FrameError("BAD_FRAME", `envelope not in canonical form: ${why}`);
}

/** Protobuf varints (at most 35 bits here: lengths, tags and uint32 ids). */
export class VarintReader {
  pos = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly end = bytes.length,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= this.end) throw bad("truncated varint");
      const b = this.bytes[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
    throw bad("varint longer than 5 bytes");
  }

  /** Skips one field's value of the given wire type. */
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        // uint64 varints may run to 10 bytes.
        for (let i = 0; ; i++) {
          if (this.pos >= this.end || i >= 10) throw bad("bad varint");
          if (this.bytes[this.pos++]! < 0x80) return;
        }
      case 1:
        this.pos += 8;
        break;
      case 2: {
        // The length first: `pos += varint()` would add to pos as it was before the varint was read.
        const length = this.varint();
        this.pos += length;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw bad(`wire type ${wireType}`);
    }
    if (this.pos > this.end) throw bad("field runs past its message");
  }
}
