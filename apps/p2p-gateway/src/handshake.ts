import { create } from "@bufbuild/protobuf";
import { DisconnectReason, EnvelopeSchema, type Envelope, type Hello } from "@timenet/proto";
import { envelopeKindLabel } from "@timenet/wire";
import type { Clock, TimerHandle } from "./clock.js";
import type { ClockSample } from "./clock-offsets.js";
import { buildHello, checkHello, signAck, verifyAck, type LocalIdentity } from "./hello.js";

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
 * The opening of a connection, the same in both directions: each side sends
 * its signed Hello, checks the peer's (network, genesis, version, signature,
 * not ourselves) and answers it with a HelloAck signed over the peer's fresh
 * nonce, so a replayed Hello cannot complete. It is complete once we accepted
 * the peer's Hello and verified its HelloAck for ours, within `timeoutMs`.
 * Before that only Hello and HelloAck are accepted (Goodbye, allowed in every
 * state, is handled by the connection before frames get here): anything else
 * costs a stranger nothing to send, so it ends the connection.
 */
export class Handshake {
  readonly ourHello: Hello;
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

  constructor(
    private readonly host: HandshakeHost,
    private readonly o: HandshakeOptions,
  ) {
    this.ourHello = buildHello(o.local, o.observedIp, o.helloTimestampMs);
  }

  /** Arms the timeout and sends our Hello. */
  start(): void {
    this.sentAtMono = this.o.clock.now();
    this.timer = this.o.clock.setTimeout(() => this.host.fail(DisconnectReason.HANDSHAKE_TIMEOUT, `no complete handshake within ${this.o.timeoutMs}ms`), this.o.timeoutMs);
    this.host.send(create(EnvelopeSchema, { payload: { case: "hello", value: this.ourHello } }));
  }

  /** The connection closed first. */
  cancel(): void {
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  onFrame(envelope: Envelope): void {
    const p = envelope.payload;
    switch (p.case) {
      case "hello":
        if (this.peerHello) return this.host.fail(DisconnectReason.PROTOCOL_ERROR, "second hello");
        return this.onHello(p.value);
      case "helloAck":
        // The peer acknowledges our Hello only after sending its own, so the
        // handshake always completes here.
        if (!this.peerHello) return this.host.fail(DisconnectReason.PROTOCOL_ERROR, "hello ack before hello");
        if (!verifyAck(this.ourHello, this.peerHello.nodeId, p.value.signature)) {
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
    const refusal = checkHello(this.o.local, hello);
    if (refusal) return this.host.fail(refusal.reason, refusal.detail);
    this.peerHello = hello;
    this.host.send(create(EnvelopeSchema, { payload: { case: "helloAck", value: { signature: signAck(this.o.local, hello) } } }));
  }
}
