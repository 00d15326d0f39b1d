import type { Socket } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Direction, DisconnectReason, DisconnectReasonSchema, enumLabel, EnvelopeSchema, type Envelope, type Hello } from "@timenet/proto";
import { TypedEvents } from "@timenet/events";
import { TokenBucket } from "@timenet/rate-limit";
import type { PeerIp } from "@timenet/net-address";
import type { Logger } from "@timenet/telemetry";
import { systemClock } from "./clock.js";
import type { ClockSample } from "./clock-offsets.js";
import { FRAME_COST, FramedSocket, type TrafficCounts } from "./framed-socket.js";
import { Handshake } from "./handshake.js";
import { Heartbeat } from "./heartbeat.js";
import type { LocalIdentity } from "./hello.js";
import type { ChannelIdentity } from "./channel-identity.js";
import { ENCRYPTION_LABEL, type SecureSession } from "./secure-channel.js";
import { reportListenerError } from "./listener-errors.js";
import type { GatewayMetrics } from "./metrics.js";
import type { RateLimits } from "./options.js";
import { PeerRateLimits } from "./peer-rate-limits.js";
import type { FramePrices } from "./frame-prices.js";
import { inboundFrameAdmission } from "./inbound-frame-policy.js";
import type { InboundByteBudget, InboundUsage } from "./inbound-byte-budget.js";
import { envelopeRuleViolation, type EncodedEnvelope, type EnvelopeHead } from "@timenet/wire";
import { PeerRequestError, PendingRequests, type PeerAnswer } from "./pending-requests.js";

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
  /** Transport messages per direction before its key is replaced (Noise Rekey). */
  rekeyAfterMessages?: number;
  /** What each kind of frame may cost (from the network's block and transaction limits). */
  prices: FramePrices;
}

export interface PeerConnectionOptions extends ConnectionTuning {
  socket: Socket;
  direction: Direction;
  connId: number;
  /** The peer's identity: the normalised remote address of the socket. */
  remoteIp: PeerIp;
  local: LocalIdentity;
  /** Our static Noise key and the node key's signature over it. */
  channelIdentity: ChannelIdentity;
  /** Our Hello's timestamp_ms: strictly increasing over the connections of this session. */
  helloTimestampMs: bigint;
  logger: Logger;
  metrics: GatewayMetrics;
  /** The peer's metrics label: its IP if named in configuration, else "other". */
  peerLabel: string;
  /** Unsolicited bytes from all peers together (one per gateway): the heaviest senders are held beyond it. */
  inboundBudget: InboundByteBudget;
  /** Whether the node budget may hold this peer now: not a peer we dialled, nor one allow-listed (their bytes still count). */
  heldByNodeBudget: () => boolean;
}

export interface CloseInfo {
  reason: DisconnectReason;
  /** "local": we decided; "peer": the peer closed the socket or said Goodbye. */
  initiator: "local" | "peer";
  detail: string;
  /** Milliseconds the connection was established (0 if it never was). */
  livedMs: number;
  wasEstablished: boolean;
  /**
   * The Noise handshake had completed: the peer was proven to hold its node
   * key, so what it sent is its own. Before that, nothing can be told apart
   * from bytes changed on the path, and no close is held against the IP.
   */
  authenticated: boolean;
}

export type PeerConnectionEvents = {
  /** The handshake completed. */
  established: () => void;
  /** A message after the handshake, with the envelope's bytes as received. */
  message: (envelope: Envelope, kind: string, body: Uint8Array) => void;
  /** The connection stopped being usable. */
  closing: (info: CloseInfo) => void;
  /** The OS socket is gone. */
  closed: (info: CloseInfo) => void;
  pong: (rttMs: number) => void;
  /** The peer kept exceeding its rate limits. */
  abuse: (detail: string) => void;
};

/** A close the peer caused: there is nobody left to say Goodbye to. */
const BY_PEER = { initiator: "peer", goodbye: false } as const;

/**
 * One peer socket, inbound or outbound alike: the one code path that composes
 * the framed socket, the handshake, the heartbeat and the pending requests,
 * and owns what they share: the connection's state, its single close reason,
 * the per-peer rate limits and the dispatch of established traffic. Direction
 * is only a field; replies and pongs always go out on this socket.
 *
 * Its events are emitted from inside the socket's read: a listener that
 * throws is counted and logged, and cannot close the connection or take the
 * gateway down.
 */
export class PeerConnection {
  readonly events: TypedEvents<PeerConnectionEvents>;
  readonly connId: number;
  readonly direction: Direction;
  readonly remoteIp: PeerIp;
  readonly remotePort: number;
  /** Our end's port: with remotePort, names the socket the same way on both ends. */
  readonly localPort: number;
  state: ConnectionState = "handshaking";
  /** When the socket was adopted (TCP up): how long a handshake has taken. */
  readonly openedAt = Date.now();
  establishedAt = 0;
  closeInfo: CloseInfo | undefined;
  /** What the Noise handshake proved, once it completed. */
  secureSession: SecureSession | undefined;
  /** When the peer last gave us something new (blocks we asked for, or the first announcement of a higher block): eviction protects the useful. */
  lastUsefulAtMs = 0;
  /** The highest block the peer announced after its Hello (NewBlock); height 0 before one. A claim, shown to operators, never trusted. */
  private announcedTip: { height: number; hash: Uint8Array } = { height: 0, hash: new Uint8Array(0) };

  private readonly o: PeerConnectionOptions;
  private readonly log: Logger;
  private readonly io: FramedSocket;
  private readonly handshake: Handshake;
  private readonly heartbeat: Heartbeat;
  private readonly pending: PendingRequests;
  private readonly limits: PeerRateLimits;
  /** Bytes of gossip we relay to this peer: a flood we received is not passed on beyond this rate. */
  private readonly relayBytes: TokenBucket;
  /** This peer's recent unasked bytes, in the node-wide budget. */
  private readonly inboundUsage: InboundUsage;

  constructor(opts: PeerConnectionOptions) {
    this.o = opts;
    this.connId = opts.connId;
    this.direction = opts.direction;
    this.remoteIp = opts.remoteIp;
    this.log = opts.logger.child({ peer_ip: opts.remoteIp, conn_id: opts.connId, direction: directionLabel(opts.direction) });
    this.events = new TypedEvents((event, err) => reportListenerError(opts.metrics, this.log, event, err));
    this.io = new FramedSocket(
      opts.socket,
      {
        helloFor: (binding) => this.handshake.helloFor(binding),
        secured: (session) => this.onSecured(session),
        insecure: (reason, detail) => this.close(reason, detail, { goodbye: this.io.secure }),
        frame: (envelope, kind, body) => this.onFrame(envelope, kind, body),
        forwarded: (head, kind, body, entries) => this.onForwarded(head, kind, body, entries),
        unreadable: (reason, detail) => this.close(reason, detail),
        sendQueueFull: (detail) => this.close(DisconnectReason.SEND_QUEUE_FULL, detail, { goodbye: false }),
        ended: () => this.close(DisconnectReason.PEER_CLOSED, "peer closed the socket", BY_PEER),
        error: (err) => this.close(DisconnectReason.SOCKET_ERROR, `${err.code ?? ""} ${err.message}`.trim(), BY_PEER),
        closed: () => this.onSocketClosed(),
      },
      {
        ...opts,
        channel: { role: opts.direction === Direction.OUTBOUND ? "initiator" : "responder", identity: opts.channelIdentity, rekeyAfterMessages: opts.rekeyAfterMessages },
        skipBudget: opts.rateLimits.gossipBytes,
        admission: inboundFrameAdmission(opts.prices, {
          established: () => this.state === "established",
          expectedAnswer: (requestId) => this.pending.expected(requestId),
          askedLately: (requestId) => this.pending.wasAsked(requestId),
          limit: (kind, size) => {
            const verdict = this.limits.check(kind, size);
            if (verdict !== "ok") this.o.metrics.rateLimited.inc({ kind });
            // Every unasked byte, read or skipped, was decrypted: the node's budget counts them all.
            const holdMs = opts.inboundBudget.charge(this.inboundUsage, size + FRAME_COST);
            // A peer whose answer we wait for is not held: the answer would queue behind the hold, and its timeout
            // would be our doing, blamed on it (an honest relay can be heavy in a flood that strangers started).
            if (holdMs > 0 && this.pending.size === 0 && opts.heldByNodeBudget()) this.io.holdReading(holdMs, "node");
            return verdict;
          },
          abuse: (kind) => this.onAbuse(kind),
          overLimitQuestion: (requestId) => this.answerBusy(requestId),
        }),
      },
    );
    this.remotePort = this.io.remotePort;
    this.localPort = this.io.localPort;
    this.limits = new PeerRateLimits(opts.rateLimits);
    this.inboundUsage = opts.inboundBudget.usage();
    this.relayBytes = new TokenBucket(opts.rateLimits.gossipBytes);
    this.pending = new PendingRequests(opts.maxPendingRequests, systemClock);
    this.heartbeat = new Heartbeat(
      {
        sendPing: (nonce) => this.io.send(create(EnvelopeSchema, { payload: { case: "ping", value: { nonce } } })),
        pong: (rttMs) => this.events.emit("pong", rttMs),
        timedOut: (unanswered) => this.close(DisconnectReason.PING_TIMEOUT, `${unanswered} consecutive pings unanswered`),
      },
      { intervalMs: opts.pingIntervalMs, missedPongs: opts.missedPongs, clock: systemClock, metrics: opts.metrics, peerLabel: opts.peerLabel, log: this.log },
    );
    this.handshake = new Handshake(
      {
        complete: () => this.onHandshakeComplete(),
        fail: (reason, detail) => this.close(reason, detail),
      },
      // remoteIp is what the dialler dialled and what the acceptor sees.
      {
        local: opts.local,
        observedIp: opts.remoteIp,
        helloTimestampMs: opts.helloTimestampMs,
        initiator: opts.direction === Direction.OUTBOUND,
        timeoutMs: opts.handshakeTimeoutMs,
        clock: systemClock,
      },
    );
  }

  /** The Hello we sent on this socket (set once our Noise message carried it; always set once established). */
  get ourHello(): Hello {
    return this.handshake.ourHello!;
  }

  /** The peer's Hello, once accepted. */
  get peerHello(): Hello | undefined {
    return this.handshake.peerHello;
  }

  /** The peer's latest known height: its Hello's, raised by each NewBlock it announced since (Hello alone goes stale within minutes). */
  get bestHeight(): number {
    return Math.max(this.peerHello?.bestHeight ?? 0, this.announcedTip.height);
  }

  /** The highest block the peer announced since its Hello (height 0 before one). */
  get announced(): { readonly height: number; readonly hash: Uint8Array } {
    return this.announcedTip;
  }

  /** A NewBlock the peer announced; true when it is higher than every one before. */
  noteAnnounced(height: number, hash: Uint8Array): boolean {
    if (height <= this.announcedTip.height) return false;
    this.announcedTip = { height, hash };
    return true;
  }

  /** What the peer's Hello said about its clock, once the handshake completed (observed only, never judged). */
  get clockSample(): ClockSample | undefined {
    return this.handshake.clockSample;
  }

  /** The last ping round trip, in milliseconds (0 before the first pong). */
  get lastRttMs(): number {
    return this.heartbeat.lastRttMs;
  }

  get traffic(): Readonly<TrafficCounts> {
    return this.io.traffic;
  }

  /** How the link is protected ("noise-xx" once the Noise handshake completed, else ""). */
  get encryption(): string {
    return this.secureSession ? ENCRYPTION_LABEL : "";
  }

  /** Noise transport messages sealed and opened so far. */
  get transportMessages(): { out: bigint; in: bigint } {
    return this.io.transportMessages;
  }

  /** Starts the read loop and the Noise handshake (whose messages 2 and 3 carry the Hellos). */
  start(): void {
    this.handshake.start();
    this.io.start();
    this.log.debug("connection opened, noise handshake started");
  }

  /**
   * Sends a message, or one already encoded (our store's answer, carried as it
   * built it); false if the connection is not usable. Overflowing the send
   * queue closes it.
   */
  send(envelope: Envelope | EncodedEnvelope): boolean {
    if (this.state !== "established") return false;
    return this.io.send(envelope);
  }

  /** Relays gossip (a Tx) within this peer's relay byte budget (over it, nothing is sent). */
  relay(envelope: Envelope, bytes: number): "sent" | "over_budget" | "not_sent" {
    if (this.state !== "established") return "not_sent";
    if (!this.relayBytes.take(bytes)) return "over_budget";
    return this.io.send(envelope) ? "sent" : "not_sent";
  }

  /** Asks the peer a question on this socket and waits for the response with the same request id. */
  request(envelope: Envelope, timeoutMs: number): Promise<PeerAnswer> {
    if (this.state !== "established") return Promise.reject(new PeerRequestError("PEER_CLOSED", "connection is not established"));
    const q = envelope.payload;
    const answer = q.case === "getBlocks" ? this.o.prices.blocksAnswer(q.value.count) : q.case === "getPeers" ? this.o.prices.peersAnswer(q.value.max) : undefined;
    if (!answer) return Promise.reject(new PeerRequestError("NOT_A_QUESTION", `${q.case ?? "empty"} is not a question a peer answers`));
    // Its answer must not wait out a hold of the node budget that began before we asked.
    this.io.releaseHold("node");
    return this.pending.ask(timeoutMs, answer, (requestId) => this.io.send({ ...envelope, requestId }));
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
      authenticated: this.secureSession !== undefined,
    };
    this.handshake.cancel();
    this.heartbeat.stop();
    if (opts.goodbye !== false && this.io.writable) {
      this.io.send(create(EnvelopeSchema, { payload: { case: "goodbye", value: { reason, message: detail } } }), true);
    }
    this.pending.rejectAll(`connection closed: ${enumLabel(DisconnectReasonSchema, reason)}`);
    const level = reason === DisconnectReason.SHUTDOWN || reason === DisconnectReason.DUPLICATE ? "info" : "warn";
    this.log[level](
      { reason: enumLabel(DisconnectReasonSchema, reason), initiator, detail, lived_ms: this.closeInfo.livedMs, established: wasEstablished, authenticated: this.closeInfo.authenticated },
      "connection closing",
    );
    this.events.emit("closing", this.closeInfo);
    this.io.end(this.o.closeGraceMs);
  }

  /** Destroys the socket now (shutdown after Goodbyes were flushed, tests). */
  destroy(): void {
    this.io.destroy();
  }

  private onFrame(envelope: Envelope, kind: string, body: Uint8Array): void {
    // Field rules (hash lengths, bounded strings) before anything reads the message.
    const violation = envelopeRuleViolation(envelope);
    if (violation) return this.close(DisconnectReason.PROTOCOL_ERROR, violation);
    // Goodbye ends the connection in every state, with the peer's reason.
    if (envelope.payload.case === "goodbye") this.onGoodbye(envelope.payload.value.reason, envelope.payload.value.message);
    // The frame policy admits nothing else before the handshake completed (which happens as the channel opens).
    else if (this.state === "handshaking") this.close(DisconnectReason.PROTOCOL_ERROR, `${kind} before the handshake completed`);
    else this.onEstablishedFrame(envelope, kind, body);
  }

  private onSecured(session: SecureSession): void {
    this.secureSession = session;
    this.log.debug({ node_id: Buffer.from(session.remoteNodeId).toString("hex").slice(0, 16) }, "noise handshake complete, checking the peer's hello");
    this.handshake.open(session);
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
    this.events.emit("established");
    // A listener (duplicate resolution) may have closed us.
    if (this.state !== "established") return;
    this.heartbeat.start();
  }

  /** The frame policy skipped a message over the peer's limits, and the peer has been over them for too long. */
  private onAbuse(kind: string): void {
    this.log.warn({ kind }, "peer keeps exceeding its rate limits");
    this.events.emit("abuse", `sustained ${kind} above its rate limit`);
  }

  /**
   * A GetBlocks over the peer's rate limit, skipped unread: answered "busy"
   * (Blocks with no blocks and busy set: "ask later or elsewhere", which says
   * nothing about our chain), so an honest asker neither waits out its
   * timeout nor reports us for it. Bounded by PeerRateLimits.mayAnswerBusy.
   */
  private answerBusy(requestId: number): void {
    if (!this.limits.mayAnswerBusy()) {
      this.o.metrics.busyAnswers.inc({ result: "skipped" });
      return;
    }
    this.o.metrics.busyAnswers.inc({ result: "sent" });
    // Queued for this turn's flush, as a pong sent from inside a read is.
    this.io.send(create(EnvelopeSchema, { requestId, payload: { case: "blocks", value: { busy: true } } }));
  }

  private onEstablishedFrame(envelope: Envelope, kind: string, body: Uint8Array): void {
    const p = envelope.payload;
    switch (p.case) {
      case "ping":
        // Answer at once, on this socket, with the same nonce.
        this.io.send(create(EnvelopeSchema, { payload: { case: "pong", value: { nonce: p.value.nonce } } }));
        return;
      case "pong":
        return this.heartbeat.onPong(p.value.nonce);
      case "hello":
      case "helloAck":
        // Since protocol 3 Hellos ride in the Noise handshake; neither is ever sent as a frame.
        return this.close(DisconnectReason.PROTOCOL_ERROR, `${kind} as a frame`);
      default: {
        // Rate limits were applied from the frame's head (answers to our own questions are exempt).
        // Blocks answers never come here: the frame policy forwards them undecoded (onForwarded).
        if (this.pending.answer(envelope.requestId, kind, body)) return;
        this.events.emit("message", envelope, kind, body);
      }
    }
  }

  /**
   * An answer the frame policy forwarded undecoded (Blocks, to our question
   * only): to the question, whose asker decodes it and applies its field
   * rules (chain-sync reports a peer whose answer breaks them).
   */
  private onForwarded(head: EnvelopeHead, kind: string, body: Uint8Array, entries: number): void {
    if (this.pending.answer(head.requestId, kind, body)) {
      if (kind === "blocks" && entries > 0) this.lastUsefulAtMs = Date.now();
      return;
    }
    // Admitted from its head while its question waited, complete after it timed out: late, as if skipped.
    this.o.metrics.skipped(kind, "late");
  }

  private onGoodbye(reason: DisconnectReason, message: string): void {
    // The peer's own reason explains the close on both ends (duplicate,
    // shutdown, wrong genesis...); an unspecified one is a plain close.
    const r = reason === DisconnectReason.UNSPECIFIED ? DisconnectReason.PEER_CLOSED : reason;
    this.close(r, `peer said goodbye: ${enumLabel(DisconnectReasonSchema, reason)}${message ? ` (${message})` : ""}`, BY_PEER);
  }

  private onSocketClosed(): void {
    if (this.state !== "closing" && this.state !== "closed") {
      this.close(DisconnectReason.PEER_CLOSED, "socket closed", BY_PEER);
    }
    this.state = "closed";
    this.events.emit("closed", this.closeInfo!);
  }
}

export function directionLabel(d: Direction): "inbound" | "outbound" {
  return d === Direction.OUTBOUND ? "outbound" : "inbound";
}
