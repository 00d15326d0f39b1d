import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Direction, DisconnectReason, DisconnectReasonSchema, enumLabel, EnvelopeSchema, type Envelope, type Hello } from "@timenet/proto";
import type { PeerIp } from "@timenet/net-address";
import { encodeFrame, envelopeKindLabel, FrameDecoder, FrameError } from "@timenet/wire";
import type { Logger } from "@timenet/telemetry";
import type { LocalIdentity } from "./hello.js";
import { Handshake } from "./handshake.js";
import type { GatewayMetrics } from "./metrics.js";
import type { RateLimits } from "./options.js";
import { PeerRateLimits } from "./peer-rate-limits.js";
import { systemClock } from "./clock.js";
import { PeerRequestError, PendingRequests } from "./pending-requests.js";
import { Heartbeat } from "./heartbeat.js";

export type ConnectionState = "handshaking" | "established" | "closing" | "closed";

/** Per-connection timing and limits, shared by every connection of a gateway. */
export interface ConnectionTuning {
  pingIntervalMs: number;
  missedPongs: number;
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  /** Bytes allowed to wait in the socket's write buffer before the peer is cut off. */
  maxSendQueueBytes: number;
  /** How long a closing socket may linger (flushing a Goodbye) before it is destroyed. */
  closeGraceMs: number;
  maxPendingRequests: number;
  rateLimits: RateLimits;
}

export interface PeerConnectionOptions extends ConnectionTuning {
  socket: Socket;
  direction: Direction;
  connId: number;
  /** The peer's identity: the normalised remote address of the socket. */
  remoteIp: PeerIp;
  local: LocalIdentity;
  logger: Logger;
  metrics: GatewayMetrics;
  /** The peer's metrics label: its IP if named in configuration, else "other". */
  peerLabel: string;
}

export interface CloseInfo {
  reason: DisconnectReason;
  /** "local": we decided; "peer": the peer closed the socket or said Goodbye. */
  initiator: "local" | "peer";
  detail: string;
  /** Milliseconds the connection was established (0 if it never was). */
  livedMs: number;
  wasEstablished: boolean;
}

/**
 * One peer socket, inbound or outbound alike: the read loop, the handshake,
 * ping/pong, request/response pairing and dispatch. Direction is only a field;
 * replies and pongs always go out on this socket.
 *
 * Events: "established" (), "message" (envelope, kind, raw envelope bytes), "closing" (CloseInfo,
 * at the moment it stops being usable), "closed" (CloseInfo, when the OS
 * socket is gone), "pong" (rtt ms), "abuse" (detail: the peer kept exceeding
 * its rate limits).
 */
export class PeerConnection extends EventEmitter {
  readonly connId: number;
  readonly direction: Direction;
  readonly remoteIp: PeerIp;
  readonly remotePort: number;
  readonly openedAt = Date.now();
  state: ConnectionState = "handshaking";
  establishedAt = 0;
  bytesIn = 0;
  bytesOut = 0;
  framesIn = 0;
  framesOut = 0;
  closeInfo: CloseInfo | undefined;

  private readonly socket: Socket;
  private readonly o: PeerConnectionOptions;
  private readonly log: Logger;
  private readonly decoder: FrameDecoder;
  private readonly handshake: Handshake;
  private readonly heartbeat: Heartbeat;
  private readonly pending: PendingRequests;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly limits: PeerRateLimits;

  constructor(opts: PeerConnectionOptions) {
    super();
    this.o = opts;
    this.socket = opts.socket;
    this.connId = opts.connId;
    this.direction = opts.direction;
    this.remoteIp = opts.remoteIp;
    this.remotePort = opts.socket.remotePort ?? 0;
    this.log = opts.logger.child({ peer_ip: opts.remoteIp, conn_id: opts.connId, direction: directionLabel(opts.direction) });
    this.decoder = new FrameDecoder(opts.maxFrameBytes);
    this.limits = new PeerRateLimits(opts.rateLimits);
    this.pending = new PendingRequests(opts.maxPendingRequests, systemClock);
    this.heartbeat = new Heartbeat(
      {
        sendPing: (nonce) => this.sendFrame(create(EnvelopeSchema, { payload: { case: "ping", value: { nonce } } })),
        pong: (rttMs) => this.emit("pong", rttMs),
        timedOut: (unanswered) => this.close(DisconnectReason.PING_TIMEOUT, `${unanswered} consecutive pings unanswered`),
      },
      { intervalMs: opts.pingIntervalMs, missedPongs: opts.missedPongs, clock: systemClock, metrics: opts.metrics, peerLabel: opts.peerLabel, log: this.log },
    );
    this.handshake = new Handshake(
      {
        send: (envelope) => this.sendFrame(envelope),
        complete: () => this.onHandshakeComplete(),
        fail: (reason, detail) => this.close(reason, detail),
      },
      // remoteIp is what the dialler dialled and what the acceptor sees.
      { local: opts.local, observedIp: opts.remoteIp, timeoutMs: opts.handshakeTimeoutMs, clock: systemClock },
    );
  }

  /** The Hello we sent on this socket. */
  get ourHello(): Hello {
    return this.handshake.ourHello;
  }

  /** The peer's Hello, once accepted. */
  get peerHello(): Hello | undefined {
    return this.handshake.peerHello;
  }

  /** The last ping round trip, in milliseconds (0 before the first pong). */
  get lastRttMs(): number {
    return this.heartbeat.lastRttMs;
  }

  get established(): boolean {
    return this.state === "established";
  }

  /** Starts the read loop and sends our Hello. */
  start(): void {
    const s = this.socket;
    s.setNoDelay(true);
    s.setKeepAlive(true, 15_000);
    s.on("data", (chunk: Buffer) => this.onData(chunk));
    s.on("end", () => this.close(DisconnectReason.PEER_CLOSED, "peer closed the socket", { initiator: "peer", goodbye: false }));
    s.on("error", (err: NodeJS.ErrnoException) =>
      this.close(DisconnectReason.SOCKET_ERROR, `${err.code ?? ""} ${err.message}`.trim(), { initiator: "peer", goodbye: false }),
    );
    s.on("close", () => this.onSocketClosed());
    this.log.debug("connection opened, sending hello");
    this.handshake.start();
  }

  /** Sends a message; false if the connection is not usable. Overflowing the send queue closes it. */
  send(envelope: Envelope): boolean {
    if (this.state !== "established") return false;
    return this.sendFrame(envelope);
  }

  /** Asks the peer a question on this socket and waits for the response with the same request id. */
  request(envelope: Envelope, timeoutMs: number): Promise<Envelope> {
    if (this.state !== "established") return Promise.reject(new PeerRequestError("PEER_CLOSED", "connection is not established"));
    return this.pending.ask(timeoutMs, (requestId) => this.sendFrame({ ...envelope, requestId }));
  }

  /**
   * Closes with a reason. Sends Goodbye first when the socket can still carry
   * it, then half-closes and destroys after the grace period. Idempotent: the
   * first reason wins.
   */
  close(reason: DisconnectReason, detail: string, opts: { initiator?: "local" | "peer"; goodbye?: boolean } = {}): void {
    if (this.state === "closing" || this.state === "closed") return;
    const wasEstablished = this.state === "established";
    const initiator = opts.initiator ?? "local";
    this.state = "closing";
    this.closeInfo = {
      reason,
      initiator,
      detail,
      livedMs: wasEstablished ? Date.now() - this.establishedAt : 0,
      wasEstablished,
    };
    this.stopTimers();
    if (opts.goodbye !== false && !this.socket.destroyed && this.socket.writable) {
      this.sendFrame(create(EnvelopeSchema, { payload: { case: "goodbye", value: { reason, message: detail } } }), true);
    }
    this.pending.rejectAll(`connection closed: ${enumLabel(DisconnectReasonSchema, reason)}`);
    const level = reason === DisconnectReason.SHUTDOWN || reason === DisconnectReason.DUPLICATE ? "info" : "warn";
    this.log[level](
      { reason: enumLabel(DisconnectReasonSchema, reason), initiator, detail, lived_ms: this.closeInfo.livedMs, established: wasEstablished },
      "connection closing",
    );
    this.emit("closing", this.closeInfo);
    this.socket.end();
    this.graceTimer = setTimeout(() => this.socket.destroy(), this.o.closeGraceMs);
    this.graceTimer.unref();
  }

  /** Destroys the socket now (shutdown after Goodbyes were flushed, tests). */
  destroy(): void {
    this.socket.destroy();
  }

  private sendFrame(envelope: Envelope, force = false): boolean {
    const frame = encodeFrame(envelope);
    // The bounded send queue is the socket's own write buffer: a peer that does
    // not read cannot make us hold more than maxSendQueueBytes for it.
    if (!force && this.socket.writableLength + frame.length > this.o.maxSendQueueBytes) {
      this.close(DisconnectReason.SEND_QUEUE_FULL, `send queue above ${this.o.maxSendQueueBytes} bytes`, { goodbye: false });
      this.socket.destroy();
      return false;
    }
    if (this.socket.destroyed || !this.socket.writable) return false;
    const kind = envelopeKindLabel(envelope);
    this.socket.write(frame);
    this.bytesOut += frame.length;
    this.framesOut++;
    this.o.metrics.traffic(kind, "out", frame.length);
    return true;
  }

  private onData(chunk: Buffer): void {
    if (this.state === "closing" || this.state === "closed") return;
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      if (err instanceof FrameError) {
        this.close(err.code === "FRAME_TOO_LARGE" ? DisconnectReason.FRAME_TOO_LARGE : DisconnectReason.BAD_FRAME, err.message);
        return;
      }
      throw err;
    }
    for (const { envelope, size, body } of frames) {
      // A frame earlier in this chunk may have closed us (the compiler cannot see that).
      if (this.isClosingOrClosed()) return;
      const kind = envelopeKindLabel(envelope);
      this.bytesIn += size;
      this.framesIn++;
      this.o.metrics.traffic(kind, "in", size);
      // Goodbye ends the connection in every state, with the peer's reason.
      if (envelope.payload.case === "goodbye") this.onGoodbye(envelope.payload.value.reason, envelope.payload.value.message);
      else if (this.state === "handshaking") this.handshake.onFrame(envelope);
      else this.onEstablishedFrame(envelope, kind, body);
    }
  }

  private isClosingOrClosed(): boolean {
    return this.state === "closing" || this.state === "closed";
  }

  private onHandshakeComplete(): void {
    this.state = "established";
    this.establishedAt = Date.now();
    this.log.info(
      {
        peer_port: this.peerHello!.listenPort,
        peer_version: this.peerHello!.softwareVersion,
        peer_height: this.peerHello!.bestHeight,
        node_id: Buffer.from(this.peerHello!.nodeId).toString("hex").slice(0, 16),
      },
      "handshake complete",
    );
    this.emit("established");
    // Duplicate resolution may have closed us in the "established" handler.
    if (this.state !== "established") return;
    this.heartbeat.start();
  }

  /** False (and counted) when the peer is over its limit for this kind. */
  private withinLimits(kind: string): boolean {
    const verdict = this.limits.check(kind);
    if (verdict === "ok") return true;
    this.o.metrics.rateLimited.inc({ kind });
    if (verdict === "abuse") {
      this.log.warn({ kind }, "peer keeps exceeding its rate limits");
      this.emit("abuse", `sustained ${kind} above its rate limit`);
    }
    return false;
  }

  private onEstablishedFrame(envelope: Envelope, kind: string, body: Uint8Array): void {
    const p = envelope.payload;
    switch (p.case) {
      case "ping":
        if (!this.withinLimits(kind)) return;
        // Answer at once, on this socket, with the same nonce.
        this.sendFrame(create(EnvelopeSchema, { payload: { case: "pong", value: { nonce: p.value.nonce } } }));
        return;
      case "pong":
        return this.heartbeat.onPong(p.value.nonce);
      case "hello":
      case "helloAck":
        return this.close(DisconnectReason.PROTOCOL_ERROR, `${kind} after the handshake`);
      default: {
        // Responses to our own questions are never rate limited.
        if (this.pending.answer(envelope, kind)) return;
        if (!this.withinLimits(kind)) return;
        this.emit("message", envelope, kind, body);
      }
    }
  }

  private onGoodbye(reason: DisconnectReason, message: string): void {
    // The peer's own reason explains the close on both ends (duplicate,
    // shutdown, wrong genesis...); an unspecified one is a plain close.
    const r = reason === DisconnectReason.UNSPECIFIED ? DisconnectReason.PEER_CLOSED : reason;
    this.close(r, `peer said goodbye: ${enumLabel(DisconnectReasonSchema, reason)}${message ? ` (${message})` : ""}`, { initiator: "peer", goodbye: false });
  }

  private stopTimers(): void {
    this.handshake.cancel();
    this.heartbeat.stop();
  }

  private onSocketClosed(): void {
    if (this.state !== "closing" && this.state !== "closed") {
      this.close(DisconnectReason.PEER_CLOSED, "socket closed", { initiator: "peer", goodbye: false });
    }
    clearTimeout(this.graceTimer);
    this.state = "closed";
    this.emit("closed", this.closeInfo!);
  }
}

export function directionLabel(d: Direction): "inbound" | "outbound" {
  return d === Direction.OUTBOUND ? "outbound" : "inbound";
}
