import { create } from "@bufbuild/protobuf";
import { DisconnectReason, EnvelopeSchema, type Envelope, type Hello } from "@timenet/proto";
import { envelopeKindLabel } from "@timenet/wire";
import type { Clock, TimerHandle } from "./clock.js";
import type { ClockSample } from "./clock-offsets.js";
import { buildHello, checkHello, signAck, verifyAck, type ChannelProof, type LocalIdentity } from "./hello.js";

/** What the handshake asks of its connection. */
export interface HandshakeHost {
  send(envelope: Envelope): void;
  /** We accepted the peer's Hello and it acknowledged ours: the connection is established. */
  complete(peerHello: Hello): void;
  /** The handshake cannot complete: close with this reason. */
  fail(reason: DisconnectReason, detail: string): void;
}

export interface HandshakeOptions {
  local: LocalIdentity;
  /**
   * The address we see the peer at, sent as Hello.observed_ip: for the
   * dialler the address it dialled, for the acceptor the remote address
   * (duplicate resolution compares them).
   */
  observedIp: string;
  /** Our Hello's timestamp_ms: from the session's HelloTimestamps. */
  helloTimestampMs: bigint;
  timeoutMs: number;
  clock: Clock;
}

/**
 * The opening of a connection inside its Noise channel, the same in both
 * directions: each side sends its Hello signed over the channel's handshake
 * hash, checks the peer's (signed by the node id the channel proved, for this
 * channel; network, genesis, version) and answers it with a HelloAck signed
 * over the same hash and the peer's nonce. Nothing of it can be replayed on
 * another connection. It is complete once we accepted the peer's Hello and
 * verified its HelloAck for ours; the timeout (armed at `start`, covering the
 * Noise handshake too) is `timeoutMs`. Before that only Hello and HelloAck
 * are accepted (Goodbye, allowed in every state, is handled by the connection
 * before frames get here): anything else ends the connection.
 */
export class Handshake {
  /** Our Hello, once the channel is open. */
  ourHello: Hello | undefined;
  /** The peer's Hello, once accepted. */
  peerHello: Hello | undefined;
  /**
   * What the peer's Hello says about its clock, once the handshake completed.
   * Only observed (ClockOffsets): no timestamp is ever checked against our
   * clock, which may be the wrong one; replays are refused by the HelloAck's
   * signature over our fresh nonce, not by freshness.
   */
  clockSample: ClockSample | undefined;
  private timer: TimerHandle | undefined;
  private sentAtMono = 0;
  private peerHelloAtMono = 0;
  private proof: ChannelProof | undefined;

  constructor(
    private readonly host: HandshakeHost,
    private readonly o: HandshakeOptions,
  ) {}

  /** Arms the timeout, when the socket opens. */
  start(): void {
    this.timer = this.o.clock.setTimeout(
      () => this.host.fail(DisconnectReason.HANDSHAKE_TIMEOUT, `no complete handshake within ${this.o.timeoutMs}ms (${this.proof ? "hello" : "noise"} stage)`),
      this.o.timeoutMs,
    );
  }

  /** The channel is open: sends our Hello, bound to it. */
  begin(proof: ChannelProof): void {
    this.proof = proof;
    this.ourHello = buildHello(this.o.local, this.o.observedIp, this.o.helloTimestampMs, proof.handshakeHash);
    this.sentAtMono = this.o.clock.now();
    this.host.send(create(EnvelopeSchema, { payload: { case: "hello", value: this.ourHello } }));
  }

  /** The connection closed first. */
  cancel(): void {
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  onFrame(envelope: Envelope): void {
    const p = envelope.payload;
    if (!this.proof || !this.ourHello) return this.host.fail(DisconnectReason.PROTOCOL_ERROR, "frame before the channel opened");
    switch (p.case) {
      case "hello":
        if (this.peerHello) return this.host.fail(DisconnectReason.PROTOCOL_ERROR, "second hello");
        return this.onHello(p.value);
      case "helloAck":
        // The peer acknowledges our Hello only after sending its own, so the
        // handshake always completes here.
        if (!this.peerHello) return this.host.fail(DisconnectReason.PROTOCOL_ERROR, "hello ack before hello");
        if (!verifyAck(this.ourHello, this.peerHello.nodeId, p.value.signature, this.proof.handshakeHash)) {
          return this.host.fail(DisconnectReason.BAD_SIGNATURE, "hello ack signature does not verify");
        }
        this.cancel();
        this.clockSample = {
          peerTimestampMs: Number(this.peerHello.timestampMs),
          receivedMonoMs: this.peerHelloAtMono,
          rttMs: this.o.clock.now() - this.sentAtMono,
        };
        return this.host.complete(this.peerHello);
      default:
        return this.host.fail(DisconnectReason.PROTOCOL_ERROR, `${envelopeKindLabel(envelope)} before the handshake completed`);
    }
  }

  private onHello(hello: Hello): void {
    this.peerHelloAtMono = this.o.clock.now();
    const proof = this.proof!;
    const refusal = checkHello(this.o.local, hello, proof);
    if (refusal) return this.host.fail(refusal.reason, refusal.detail);
    this.peerHello = hello;
    this.host.send(create(EnvelopeSchema, { payload: { case: "helloAck", value: { signature: signAck(this.o.local, hello, proof.handshakeHash) } } }));
  }
}
