import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, type Envelope } from "@timenet/proto";
import { ByteQueue } from "@timenet/byte-queue";
import { FrameError } from "./frame-error.js";

/** 8 MiB: room for a 256-block batch of ~1 KiB blocks many times over. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;
export const FRAME_HEADER_BYTES = 4;

/** Frame = 4-byte big-endian length + one encoded Envelope. */
export function encodeFrame(envelope: Envelope): Buffer {
  const body = toBinary(EnvelopeSchema, envelope);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

export interface DecodedFrame {
  envelope: Envelope;
  /** Bytes on the wire, header included (for byte counters). */
  size: number;
  /** The encoded Envelope as received, to forward without re-encoding. */
  body: Uint8Array;
}

/**
 * Incremental decoder: feed it whatever the socket delivers (one byte or many
 * frames at a time) and it yields the same frames. It holds at most one
 * partial frame, and rejects a declared length above the maximum before
 * allocating anything for it.
 */
export class FrameDecoder {
  private readonly queue = new ByteQueue();
  private failed: FrameError | undefined;

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes held for a frame that has not fully arrived (non-zero at close = truncated frame). */
  get bufferedBytes(): number {
    return this.queue.length;
  }

  /** Decodes every complete frame in the stream so far. Throws FrameError; after that, always throws it. */
  push(chunk: Uint8Array): DecodedFrame[] {
    if (this.failed) throw this.failed;
    this.queue.push(chunk);
    const out: DecodedFrame[] = [];
    while (this.queue.length >= FRAME_HEADER_BYTES) {
      const length = this.queue.peek(FRAME_HEADER_BYTES).readUInt32BE(0);
      if (length > this.maxFrameBytes) {
        this.failed = new FrameError("FRAME_TOO_LARGE", `frame of ${length} bytes exceeds the maximum of ${this.maxFrameBytes}`);
        this.queue.clear();
        throw this.failed;
      }
      if (this.queue.length < FRAME_HEADER_BYTES + length) break;
      this.queue.take(FRAME_HEADER_BYTES);
      const body = this.queue.take(length);
      let envelope: Envelope;
      try {
        envelope = fromBinary(EnvelopeSchema, body);
      } catch (err) {
        this.failed = new FrameError("BAD_FRAME", `frame does not decode as an Envelope: ${(err as Error).message}`);
        this.queue.clear();
        throw this.failed;
      }
      out.push({ envelope, size: FRAME_HEADER_BYTES + length, body });
    }
    return out;
  }
}
