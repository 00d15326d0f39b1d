import type { Socket } from "node:net";
import { TokenBucket, type Rate } from "@timenet/rate-limit";
import { DisconnectReason, type Envelope } from "@timenet/proto";
import {
  announcementFromPrefix,
  encodedFrame,
  encodeFrame,
  envelopeKindLabel,
  FrameDecoder,
  FrameError,
  isEncodedEnvelope,
  kindLabel,
  type EncodedEnvelope,
  type EnvelopeHead,
  type FrameAdmission,
  type FrameErrorCode,
} from "@timenet/wire";
import type { GatewayMetrics } from "./metrics.js";
import { SecureChannel, type SecureChannelOptions, type SecureSession } from "./secure-channel.js";

/** What the framed socket tells its connection. */
export interface FramedSocketHandler {
  /** Our Hello's bytes for the Noise handshake message being written, signed over `binding` (SecureChannelHost.helloFor). */
  helloFor(binding: Uint8Array): Uint8Array;
  /** The Noise handshake completed (the peer's Hello in `session`, not yet checked): frames can flow. */
  secured(session: SecureSession): void;
  /** The channel failed (before it opened, or a message that did not authenticate): the socket must close. */
  insecure(reason: DisconnectReason, detail: string): void;
  /** A complete frame arrived. `body` is the envelope as received, to forward without re-encoding. */
  frame(envelope: Envelope, kind: string, body: Uint8Array): void;
  /** A complete frame the policy forwards undecoded (an answer to our question): `entries` as its shape check counted them. */
  forwarded(head: EnvelopeHead, kind: string, body: Uint8Array, entries: number): void;
  /** The byte stream cannot be read further (FRAME_TOO_LARGE, BAD_FRAME). */
  unreadable(reason: DisconnectReason, detail: string): void;
  /** The peer does not read what we send: the socket is destroyed right after this call. */
  sendQueueFull(detail: string): void;
  /** The peer half-closed the socket. */
  ended(): void;
  error(err: NodeJS.ErrnoException): void;
  /** The OS socket is gone. */
  closed(): void;
}

export interface FramedSocketOptions {
  maxFrameBytes: number;
  /** Bytes allowed to wait in the socket's write buffer before the peer is cut off. */
  maxSendQueueBytes: number;
  metrics: GatewayMetrics;
  channel: SecureChannelOptions;
  /** Prices each frame from its length and head before its body is buffered (the connection's frame policy). */
  admission: FrameAdmission;
  /**
   * Bytes of frames skipped unread (unasked, unknown, over the rate limits)
   * allowed per peer, each frame charged FRAME_COST more; beyond it the
   * socket is not read until the budget refills: TCP's own flow control then
   * holds the sender back, and its bytes cost us no decryption at all.
   */
  skipBudget: Rate;
  /** The peer's metrics label (its IP if named in configuration, else "other"). */
  peerLabel: string;
}

/** What a frame costs beyond its bytes (the head read, the policy, the counters): empty frames are not free. */
export const FRAME_COST = 256;
/** Longest pause of reading one socket: its pings still get answered after it, and honest peers never get here. */
const MAX_READ_PAUSE_MS = 2_000;
/**
 * Bytes read and dropped after we closed, before the socket is destroyed at
 * once: a closing socket is still read for the peer's FIN (an orderly close),
 * but a peer that keeps sending (an 8 MiB frame behind a refused Hello) must
 * not make us read and free all of it. An honest peer stops at our Goodbye.
 */
const MAX_BYTES_AFTER_CLOSE = 64 * 1024;

const UNREADABLE: Record<FrameErrorCode, DisconnectReason> = {
  FRAME_TOO_LARGE: DisconnectReason.FRAME_TOO_LARGE,
  BAD_FRAME: DisconnectReason.BAD_FRAME,
  UNEXPECTED_FRAME: DisconnectReason.PROTOCOL_ERROR,
};

export interface TrafficCounts {
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
}

/**
 * Frames over one TCP socket, inside its Noise channel: the channel's
 * plaintext is a stream of length-prefixed envelopes (the decoder rejects an
 * oversized length from its header, before buffering the body, for any split
 * of the stream); envelopes go out through a bounded send queue, and every
 * frame is counted both ways. Frames sent in one turn of the event loop are
 * sealed together (fewer, fuller transport messages).
 */
export class FramedSocket {
  readonly traffic: TrafficCounts = { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0 };
  private readonly decoder: FrameDecoder;
  private readonly channel: SecureChannel;
  private reading = true;
  private graceTimer: NodeJS.Timeout | undefined;
  private outbox: Buffer[] = [];
  private outboxBytes = 0;
  private flushQueued = false;
  private readonly skipBudget: TokenBucket;
  private pauseTimer: NodeJS.Timeout | undefined;
  /** Which budget the running hold (pauseTimer) is for. */
  private heldFor: "peer" | "node" = "peer";
  /** Bytes dropped since end(); undefined while the connection is open. */
  private droppedAfterEnd: number | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly handler: FramedSocketHandler,
    private readonly o: FramedSocketOptions,
  ) {
    this.decoder = new FrameDecoder(o.maxFrameBytes, o.admission);
    this.skipBudget = new TokenBucket(o.skipBudget);
    this.channel = new SecureChannel(
      {
        write: (bytes) => {
          if (!this.socket.destroyed) this.socket.write(bytes);
        },
        helloFor: (binding) => this.handler.helloFor(binding),
        opened: (session) => this.handler.secured(session),
        failed: (reason, detail) => {
          this.reading = false;
          this.handler.insecure(reason, detail);
        },
      },
      o.channel,
    );
  }

  get transportMessages(): { out: bigint; in: bigint } {
    return this.channel.transportMessages;
  }

  /** True once the Noise channel is open. */
  get secure(): boolean {
    return this.channel.isOpen;
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  /** True while a frame written now can still reach the peer. */
  get writable(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  start(): void {
    const s = this.socket;
    s.setNoDelay(true);
    s.setKeepAlive(true, 15_000);
    s.on("data", (chunk: Buffer) => this.onData(chunk));
    s.on("end", () => this.handler.ended());
    s.on("error", (err: NodeJS.ErrnoException) => this.handler.error(err));
    s.on("close", () => {
      this.handler.closed();
      clearTimeout(this.graceTimer);
      clearTimeout(this.pauseTimer);
    });
    this.channel.start();
  }

  /**
   * Writes one frame; false if it cannot go out. `force` skips the queue
   * bound (the Goodbye on close must not be refused by it).
   */
  send(envelope: Envelope | EncodedEnvelope, force = false): boolean {
    if (!this.channel.isOpen) return false;
    const frame = isEncodedEnvelope(envelope) ? encodedFrame(envelope.body) : encodeFrame(envelope);
    // The bounded send queue is the socket's own write buffer (and this
    // turn's outbox): a peer that does not read cannot make us hold more
    // than maxSendQueueBytes for it.
    if (!force && this.socket.writableLength + this.outboxBytes + frame.length > this.o.maxSendQueueBytes) {
      this.handler.sendQueueFull(`send queue above ${this.o.maxSendQueueBytes} bytes`);
      this.socket.destroy();
      return false;
    }
    if (!this.writable) return false;
    this.outbox.push(frame);
    this.outboxBytes += frame.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
    this.traffic.bytesOut += frame.length;
    this.traffic.framesOut++;
    this.o.metrics.traffic(envelopeKindLabel(envelope), "out", frame.length);
    return true;
  }

  /**
   * Stops reading and half-closes (what was written is still flushed); the
   * socket is destroyed if it has not closed within graceMs, so a peer that
   * never closes its end cannot keep it open.
   */
  end(graceMs: number): void {
    this.reading = false;
    this.droppedAfterEnd ??= 0;
    // After this turn's frames, in the order they were sent across all
    // sockets: what this turn queued on another socket (the link duplicate
    // resolution keeps) must not be overtaken by this socket's Goodbye.
    queueMicrotask(() => {
      this.flush();
      this.socket.end();
    });
    this.graceTimer = setTimeout(() => this.socket.destroy(), graceMs);
    this.graceTimer.unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Seals this turn's frames into transport messages and writes them. */
  private flush(): void {
    this.flushQueued = false;
    if (this.outbox.length === 0) return;
    const plaintext = this.outbox.length === 1 ? this.outbox[0]! : Buffer.concat(this.outbox, this.outboxBytes);
    this.outbox = [];
    this.outboxBytes = 0;
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(this.channel.seal(plaintext));
  }

  private onData(chunk: Buffer): void {
    if (!this.reading) {
      if (this.droppedAfterEnd !== undefined && (this.droppedAfterEnd += chunk.length) > MAX_BYTES_AFTER_CLOSE && !this.socket.destroyed) {
        this.o.metrics.closesCutShort.inc();
        this.socket.destroy();
      }
      return;
    }
    for (const plaintext of this.channel.push(chunk)) {
      this.onPlaintext(plaintext);
      if (!this.reading) return;
    }
  }

  private onPlaintext(chunk: Buffer): void {
    try {
      this.decoder.feed(chunk, {
        // A frame earlier in this chunk may have ended the connection.
        reading: () => this.reading,
        frame: ({ envelope, size, body, decodeMs }) => {
          const kind = envelopeKindLabel(envelope);
          this.countIn(kind, size);
          this.o.metrics.decodeSeconds(kind, decodeMs / 1000);
          this.handler.frame(envelope, kind, body);
        },
        forwarded: ({ head, size, body, entries }) => {
          const kind = kindLabel(head.kind);
          this.countIn(kind, size);
          this.handler.forwarded(head, kind, body, entries);
        },
        skipped: (head, size, why) => this.onSkipped(head, size, why),
        // A push over its budget: the announcement read from its head goes on, the block was skipped.
        prefix: (head, prefix, size, why) => {
          this.onSkipped(head, size, why);
          const announcement = announcementFromPrefix(prefix, head);
          if (announcement && this.reading) this.handler.frame(announcement.envelope, "new_block", announcement.body);
        },
      });
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.reading = false;
      this.handler.unreadable(UNREADABLE[err.code], err.message);
    }
  }

  /** A frame skipped unread (whole or but for its head): counted, and charged to the skip budget. */
  private onSkipped(head: EnvelopeHead, size: number, why: string): void {
    const kind = kindLabel(head.kind);
    this.countIn(kind, size);
    this.o.metrics.skipped(kind, why);
    // The frame is read already: it is charged in any case, and the socket waits until the budget is out of debt
    // (a frame refused a take() but read anyway would go free, and the sustained rate would double).
    const debtMs = this.skipBudget.spend(size + FRAME_COST);
    if (debtMs > 0) this.holdReading(debtMs, "peer");
  }

  /**
   * Stops reading this socket for `ms` (at most MAX_READ_PAUSE_MS; a hold
   * already running is not extended): the peer over a budget, its own
   * ("peer") or the node's ("node"), waits on TCP, not on our CPU.
   */
  holdReading(ms: number, budget: "peer" | "node"): void {
    if (this.pauseTimer !== undefined || this.socket.destroyed) return;
    this.o.metrics.readPauses.inc({ budget, peer: this.o.peerLabel });
    this.heldFor = budget;
    this.socket.pause();
    this.pauseTimer = setTimeout(() => this.releaseHold(budget), Math.min(MAX_READ_PAUSE_MS, ms));
    this.pauseTimer.unref();
  }

  /** Ends a hold of this budget now, if one is running. */
  releaseHold(budget: "peer" | "node"): void {
    if (this.pauseTimer === undefined || this.heldFor !== budget) return;
    clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
    if (!this.socket.destroyed) this.socket.resume();
  }

  private countIn(kind: string, size: number): void {
    this.traffic.bytesIn += size;
    this.traffic.framesIn++;
    this.o.metrics.traffic(kind, "in", size);
  }
}
