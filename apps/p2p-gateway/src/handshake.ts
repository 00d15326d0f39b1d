import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DisconnectReason, EnvelopeSchema, HelloSchema, type Hello } from "@timenet/proto";
import { envelopeRuleViolation } from "@timenet/wire";
import type { Clock, TimerHandle } from "./clock.js";
import type { ClockSample } from "./clock-offsets.js";
import { buildHello, checkHello, MAX_HELLO_BYTES, type LocalIdentity } from "./hello.js";
import type { SecureSession } from "./secure-channel.js";

/** What the handshake asks of its connection. */
export interface HandshakeHost {
  /** We accepted the peer's Hello (and it has ours): the connection is established. */
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
  /** We dialled: our first Noise message left when the socket opened (the round trip is timed from then). */
  initiator: boolean;
  timeoutMs: number;
  clock: Clock;
}

/**
 * The opening of a connection, the same in both directions. Each side's
 * Hello rides in its own Noise handshake message (SecureChannel), signed by
 * its node key over the handshake hash as that message began: the
 * responder's in message 2, the initiator's in message 3. When the channel
 * opens, the peer's Hello is checked here: signed, for this connection, by
 * the node id the channel proved; our network, genesis and a protocol
 * version we speak. Accepted, the connection is established at once; our
 * peer has our Hello too (the initiator's covers the responder's, and every
 * transport message covers both), and a peer that refuses ours says so with
 * Goodbye. Nothing of it can be replayed on another connection: each Hello
 * is bound to the other side's fresh ephemeral key. The timeout (armed at
 * `start`) covers the whole Noise handshake.
 */
export class Handshake {
  /** Our Hello, once a handshake message carried it. */
  ourHello: Hello | undefined;
  /** The peer's Hello, once accepted. */
  peerHello: Hello | undefined;
  /**
   * What the peer's Hello says about its clock, once the handshake completed.
   * Only observed (ClockOffsets): no timestamp is ever checked against our
   * clock, which may be the wrong one; replays are refused by the signature
   * over this connection's handshake hash, not by freshness.
   */
  clockSample: ClockSample | undefined;
  private timer: TimerHandle | undefined;
  private startedAtMono = 0;
  private helloSentAtMono = 0;

  constructor(
    private readonly host: HandshakeHost,
    private readonly o: HandshakeOptions,
  ) {}

  /** Arms the timeout, when the socket opens. */
  start(): void {
    this.startedAtMono = this.o.clock.now();
    this.timer = this.o.clock.setTimeout(() => this.host.fail(DisconnectReason.HANDSHAKE_TIMEOUT, `no complete handshake within ${this.o.timeoutMs}ms`), this.o.timeoutMs);
  }

  /** Our Hello's bytes for the handshake message being written, signed over `binding` (the handshake hash as it begins). */
  helloFor(binding: Uint8Array): Uint8Array {
    this.ourHello = buildHello(this.o.local, this.o.observedIp, this.o.helloTimestampMs, binding);
    this.helloSentAtMono = this.o.clock.now();
    return toBinary(HelloSchema, this.ourHello);
  }

  /** The connection closed first. */
  cancel(): void {
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The Noise channel opened with the peer's Hello: completes or fails the connection. */
  open(session: SecureSession): void {
    this.cancel();
    const atMono = this.o.clock.now();
    if (session.peerHello.length > MAX_HELLO_BYTES) return this.host.fail(DisconnectReason.PROTOCOL_ERROR, `hello of ${session.peerHello.length} bytes (at most ${MAX_HELLO_BYTES})`);
    let hello: Hello;
    try {
      hello = fromBinary(HelloSchema, session.peerHello);
    } catch (err) {
      return this.host.fail(DisconnectReason.PROTOCOL_ERROR, `hello does not decode: ${(err as Error).message}`);
    }
    const violation = envelopeRuleViolation(create(EnvelopeSchema, { payload: { case: "hello", value: hello } }));
    if (violation) return this.host.fail(DisconnectReason.PROTOCOL_ERROR, violation);
    const refusal = checkHello(this.o.local, hello, { remoteNodeId: session.remoteNodeId, handshakeHash: session.peerHelloBinding, otherNetwork: session.otherNetwork });
    if (refusal) return this.host.fail(refusal.reason, refusal.detail);
    this.peerHello = hello;
    // The initiator's round trip: message 1 out (at start) to message 2 in; the responder's: message 2 out (its Hello) to message 3 in.
    this.clockSample = {
      peerTimestampMs: Number(hello.timestampMs),
      receivedMonoMs: atMono,
      rttMs: atMono - (this.o.initiator ? this.startedAtMono : this.helloSentAtMono),
    };
    this.host.complete(hello);
  }
}
