import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, type Envelope } from "@timenet/proto";
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
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: FrameError | undefined;

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes held for a frame that has not fully arrived (non-zero at close = truncated frame). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Decodes every complete frame in the stream so far. Throws FrameError; after that, always throws it. */
  push(chunk: Uint8Array): DecodedFrame[] {
    if (this.failed) throw this.failed;
    if (chunk.length > 0) {
      this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.buffered += chunk.length;
    }
    const out: DecodedFrame[] = [];
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const length = this.peekLength();
      if (length > this.maxFrameBytes) {
        this.failed = new FrameError("FRAME_TOO_LARGE", `frame of ${length} bytes exceeds the maximum of ${this.maxFrameBytes}`);
        this.chunks = [];
        this.buffered = 0;
        throw this.failed;
      }
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      this.consume(FRAME_HEADER_BYTES);
      const body = this.consume(length);
      let envelope: Envelope;
      try {
        envelope = fromBinary(EnvelopeSchema, body);
      } catch (err) {
        this.failed = new FrameError("BAD_FRAME", `frame does not decode as an Envelope: ${(err as Error).message}`);
        this.chunks = [];
        this.buffered = 0;
        throw this.failed;
      }
      out.push({ envelope, size: FRAME_HEADER_BYTES + length, body });
    }
    return out;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32BE(0);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    let filled = 0;
    for (const c of this.chunks) {
      const n = Math.min(c.length, FRAME_HEADER_BYTES - filled);
      c.copy(header, filled, 0, n);
      filled += n;
      if (filled === FRAME_HEADER_BYTES) break;
    }
    return header.readUInt32BE(0);
  }

  /** Removes n bytes from the front; copies only when they span chunks. */
  private consume(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, take);
      filled += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    return out;
  }
}
