import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, type Envelope } from "@timenet/proto";
import { ByteQueue } from "@timenet/byte-queue";
import { FrameError } from "./frame-error.js";
import { ENVELOPE_HEAD_BYTES, peekEnvelopeHead, type EnvelopeHead } from "./envelope-head.js";
import { checkShape, type ShapeLimit } from "./message-shape.js";

/** 8 MiB: room for a 256-block batch of ~1 KiB blocks many times over. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;
export const FRAME_HEADER_BYTES = 4;

/** Frame = 4-byte big-endian length + one encoded Envelope. */
export function encodeFrame(envelope: Envelope): Buffer {
  return encodedFrame(toBinary(EnvelopeSchema, envelope));
}

/** The frame of an Envelope already encoded (see EncodedEnvelope). */
export function encodedFrame(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

export interface DecodedFrame {
  envelope: Envelope;
  head: EnvelopeHead;
  /** Bytes on the wire, header included (for byte counters). */
  size: number;
  /** The encoded Envelope as received, to forward without re-encoding. */
  body: Uint8Array;
  /** Milliseconds spent decoding it (the CPU a peer made us spend). */
  decodeMs: number;
}

/** A frame handed on as its bytes, never decoded here (a "forward" verdict). */
export interface ForwardedFrame {
  head: EnvelopeHead;
  /** Bytes on the wire, header included (for byte counters). */
  size: number;
  /** The encoded Envelope as received. */
  body: Uint8Array;
  /** Entries of the shape's nested field, as its check counted them (0 without a nested limit). */
  entries: number;
}

/**
 * What a frame may cost, decided from its length and head before its body is
 * buffered: "decode" it (after an optional shape check), "forward" it
 * (the shape check alone, then its bytes to FrameSink.forwarded: for a
 * message this reader only carries on, whose receiver decodes it), "skip"
 * its bytes as they arrive (never buffered, never decoded), read only its
 * first `bytes` ("prefix": handed to FrameSink.prefix, the rest skipped as
 * it arrives), or refuse it with a FrameError that ends the stream.
 */
export type FrameVerdict =
  | { action: "decode"; shape?: ShapeLimit }
  | { action: "forward"; shape?: ShapeLimit }
  | { action: "skip"; why: string }
  | { action: "prefix"; bytes: number; why: string }
  | FrameError;

/** Prices each frame from its head; called once per frame, in stream order, after the previous frame was handled. */
export type FrameAdmission = (head: EnvelopeHead, bodyLength: number) => FrameVerdict;

/** What the decoder hands each frame to; frames are handled one at a time, so a frame can change how the next is priced. */
export interface FrameSink {
  frame(f: DecodedFrame): void;
  /** A frame with a "forward" verdict; a sink without this method gets it decoded, through `frame`. */
  forwarded?(f: ForwardedFrame): void;
  /** A frame skipped by the admission (its bytes are discarded as they arrive). */
  skipped?(head: EnvelopeHead, size: number, why: string): void;
  /** The first bytes of a frame read in part (a "prefix" verdict): `size` is the whole frame's; the rest is discarded as it arrives. */
  prefix?(head: EnvelopeHead, prefix: Uint8Array, size: number, why: string): void;
  /** False stops reading (the connection is ending): the rest of the chunk is ignored. */
  reading?(): boolean;
}

const DECODE_DEFAULT: FrameVerdict = { action: "decode" };

/**
 * Incremental decoder: feed it whatever the socket delivers (one byte or many
 * frames at a time) and it yields the same frames. It holds at most one
 * partial frame; a declared length above the maximum is refused from the
 * header, and every other price (the admission's) from the length and the
 * first ENVELOPE_HEAD_BYTES of the body, before the rest is buffered.
 * Unknown fields are skipped, never kept.
 */
export class FrameDecoder {
  private readonly queue = new ByteQueue();
  private failed: FrameError | undefined;
  /** The frame being read: its length and verdict once known. */
  private current: { length: number; head: EnvelopeHead; shape: ShapeLimit | undefined; forward: boolean; prefix: { bytes: number; why: string } | undefined } | undefined;
  /** Bytes of a skipped frame still to discard. */
  private skipRemaining = 0;

  constructor(
    private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
    private readonly admission: FrameAdmission = () => DECODE_DEFAULT,
  ) {}

  /** Bytes held for a frame that has not fully arrived (non-zero at close = truncated frame). */
  get bufferedBytes(): number {
    return this.queue.length;
  }

  /** Decodes every complete frame in the stream so far. Throws FrameError; after that, always throws it. */
  push(chunk: Uint8Array): DecodedFrame[] {
    const out: DecodedFrame[] = [];
    this.feed(chunk, { frame: (f) => out.push(f) });
    return out;
  }

  /** Hands every complete frame to the sink, one at a time. Throws FrameError; after that, always throws it. */
  feed(chunk: Uint8Array, sink: FrameSink): void {
    if (this.failed) throw this.failed;
    try {
      this.feedUnsafe(chunk, sink);
    } catch (err) {
      if (err instanceof FrameError) {
        this.failed = err;
        this.queue.clear();
        this.current = undefined;
      }
      throw err;
    }
  }

  private feedUnsafe(chunk: Uint8Array, sink: FrameSink): void {
    this.queue.push(chunk);
    for (;;) {
      if (sink.reading && !sink.reading()) return;
      if (this.skipRemaining > 0) {
        const n = Math.min(this.skipRemaining, this.queue.length);
        this.queue.discard(n);
        this.skipRemaining -= n;
        if (this.skipRemaining > 0) return;
      }
      if (!this.current) {
        if (this.queue.length < FRAME_HEADER_BYTES) return;
        const length = this.queue.peek(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (length > this.maxFrameBytes) throw new FrameError("FRAME_TOO_LARGE", `frame of ${length} bytes exceeds the maximum of ${this.maxFrameBytes}`);
        const headBytes = Math.min(length, ENVELOPE_HEAD_BYTES);
        if (this.queue.length < FRAME_HEADER_BYTES + headBytes) return;
        const head = peekEnvelopeHead(this.queue.peek(FRAME_HEADER_BYTES + headBytes).subarray(FRAME_HEADER_BYTES), length);
        const verdict = this.admission(head, length);
        if (verdict instanceof FrameError) throw verdict;
        if (verdict.action === "skip") {
          this.queue.discard(FRAME_HEADER_BYTES);
          this.skipRemaining = length;
          sink.skipped?.(head, FRAME_HEADER_BYTES + length, verdict.why);
          continue;
        }
        this.current =
          verdict.action === "prefix"
            ? { length, head, shape: undefined, forward: false, prefix: { bytes: Math.min(verdict.bytes, length), why: verdict.why } }
            : { length, head, shape: verdict.shape, forward: verdict.action === "forward", prefix: undefined };
      }
      const { length, head, shape, forward, prefix } = this.current;
      if (this.queue.length < FRAME_HEADER_BYTES + (prefix?.bytes ?? length)) return;
      this.current = undefined;
      this.queue.discard(FRAME_HEADER_BYTES);
      if (prefix) {
        // The verdict was given once, from the head: the rest of the frame is discarded as it arrives, like a skipped one's.
        const bytes = this.queue.take(prefix.bytes);
        this.skipRemaining = length - prefix.bytes;
        sink.prefix?.(head, bytes, FRAME_HEADER_BYTES + length, prefix.why);
        continue;
      }
      const body = this.queue.take(length);
      if (forward && sink.forwarded) {
        const entries = shape ? checkShape(body, head.payloadOffset, length, shape) : 0;
        sink.forwarded({ head, size: FRAME_HEADER_BYTES + length, body, entries });
        continue;
      }
      const started = performance.now();
      if (shape) checkShape(body, head.payloadOffset, length, shape);
      let envelope: Envelope;
      try {
        envelope = fromBinary(EnvelopeSchema, body, { readUnknownFields: false });
      } catch (err) {
        throw new FrameError("BAD_FRAME", `frame does not decode as an Envelope: ${(err as Error).message}`);
      }
      sink.frame({ envelope, head, size: FRAME_HEADER_BYTES + length, body, decodeMs: performance.now() - started });
    }
  }
}
