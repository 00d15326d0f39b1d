import { create, fromBinary } from "@bufbuild/protobuf";
import { DisconnectReason, EnvelopeSchema, type Envelope } from "@timenet/proto";
import { generateDhKeyPair, HandshakeXX, NoiseError, TransportOpener, TransportSealer, type NoiseSessionKeys } from "@timenet/noise";
import { encodeFrame, FRAME_HEADER_BYTES } from "@timenet/wire";
import { ByteQueue } from "@timenet/byte-queue";
import {
  FINGERPRINT_BYTES,
  IDENTITY_PAYLOAD_BYTES,
  provenNodeId,
  WIRE_PROTOCOL_VERSION,
  type ChannelIdentity,
} from "./channel-identity.js";

/**
 * The first bytes each side sends, in the clear: a protocol-1 frame holding
 * Goodbye{BAD_VERSION} with a message to upgrade. A node of protocol 1 reads
 * it as a refusal it understands; a node of a later protocol (2, 3) requires exactly
 * these bytes before the Noise handshake. Nothing in it names the network.
 */
export const PREAMBLE: Buffer = encodeFrame(
  create(EnvelopeSchema, {
    payload: {
      case: "goodbye",
      value: { reason: DisconnectReason.BAD_VERSION, message: `timenet wire protocol ${WIRE_PROTOCOL_VERSION} (Noise XX) only: upgrade this node` },
    },
  }),
);
/** How operators see a link protected by this channel (ListConnections, the published connection state). */
export const ENCRYPTION_LABEL = "noise-xx";
/**
 * Noise handshake messages are length-prefixed like transport messages.
 * Messages 2 and 3 carry an identity (96 bytes) and a Hello (at most 2 KiB,
 * its frame price): ours are < 600 bytes.
 */
export const MAX_HANDSHAKE_MESSAGE_BYTES = 4096;
/** A protocol-1 Hello read instead of the preamble (to say "upgrade"), at most this big. */
const MAX_FOREIGN_FIRST_FRAME = 4096;

export type ChannelRole = "initiator" | "responder";

/** The authenticated session a completed Noise handshake gives. */
export interface SecureSession {
  /** The peer's node id as its handshake proved it (it holds the key). */
  remoteNodeId: Uint8Array;
  /** True when the peer's network fingerprint differed: only the refusal may follow. */
  otherNetwork: boolean;
  /** The peer's Hello as it came in its handshake message (after its identity), not yet decoded or checked. */
  peerHello: Uint8Array;
  /** The handshake hash when the peer's message carrying its Hello began: what its Hello's signature must cover. */
  peerHelloBinding: Uint8Array;
}

export interface SecureChannelHost {
  /** Bytes for the socket. */
  write(bytes: Buffer): void;
  /**
   * Our Hello's bytes for the handshake message we are about to write
   * (message 2 as responder, 3 as initiator), signed over `binding`: the
   * handshake hash as that message begins, unique to this connection.
   */
  helloFor(binding: Uint8Array): Uint8Array;
  opened(session: SecureSession): void;
  /** The channel cannot be (or stay) open: close with this reason, no Goodbye possible. */
  failed(reason: DisconnectReason, detail: string): void;
}

export interface SecureChannelOptions {
  role: ChannelRole;
  identity: ChannelIdentity;
  rekeyAfterMessages?: number;
}

type Phase = "preamble" | "message1" | "message2" | "message3" | "open" | "failed";

/**
 * One connection's Noise XX channel, sans I/O: bytes in from the socket,
 * plaintext out; plaintext in, sealed bytes out.
 *
 *   both:       PREAMBLE
 *   initiator:  [len][e, fingerprint]                       message 1
 *   responder:  [len][e, ee, s, es, identity, Hello]        message 2
 *   initiator:  [len][s, se, identity, Hello]               message 3
 *   both:       [len][sealed transport message] ...
 *
 * Each Hello rides in its side's handshake message (encrypted, and covered
 * by every later message's authentication), signed over the handshake hash
 * as that message began: the responder's over one that holds the
 * initiator's fresh ephemeral key, the initiator's over one that holds both
 * ephemeral keys and the responder's Hello. So the initiator knows its peer
 * (and can ask it things) as soon as message 2 arrives, and the responder
 * as soon as message 3 does: one round trip less than a Hello exchange
 * inside the open channel. The channel hands the peer's Hello on undecoded;
 * the connection checks it (Handshake).
 *
 * The prologue binds the protocol version, network and genesis: a session
 * between nodes of one network cannot be moved to another. When message 1's
 * fingerprint says the networks differ, both sides use the neutral prologue
 * instead (the initiator tries both on message 2), so the session still
 * authenticates and each Hello can say, signed, which network it is on.
 *
 * Every failure before the channel opens (bad preamble, any message that
 * does not authenticate, an identity that does not verify) is reported as
 * AUTHENTICATION_FAILED or, for an older protocol, BAD_VERSION: none of it
 * can be told apart from bytes changed on the path, so none of it is
 * evidence against the peer's IP.
 */
export class SecureChannel {
  private phase: Phase = "preamble";
  private readonly queue = new ByteQueue();
  private network: HandshakeXX | undefined;
  private neutral: HandshakeXX | undefined;
  private active: HandshakeXX | undefined;
  private sealer: TransportSealer | undefined;
  private opener: TransportOpener | undefined;
  /** The authenticated session, once open. */
  session: SecureSession | undefined;
  private neutralChosen = false;

  constructor(
    private readonly host: SecureChannelHost,
    private readonly o: SecureChannelOptions,
  ) {}

  get transportMessages(): { out: bigint; in: bigint } {
    return { out: this.sealer?.messages ?? 0n, in: this.opener?.messages ?? 0n };
  }

  get isOpen(): boolean {
    return this.phase === "open";
  }

  /** Sends the preamble and, as initiator, message 1 (no round trip is spent on the preamble). */
  start(): void {
    const id = this.o.identity;
    if (this.o.role === "initiator") {
      // One ephemeral key, two candidate transcripts: the responder picks the prologue.
      const ephemeralKey = generateDhKeyPair();
      this.network = new HandshakeXX({ role: "initiator", prologue: id.prologue, staticKey: id.staticKey, ephemeralKey });
      this.neutral = new HandshakeXX({ role: "initiator", prologue: id.neutralPrologue, staticKey: id.staticKey, ephemeralKey });
      const m1 = this.network.write1(id.fingerprint);
      this.neutral.write1(id.fingerprint);
      this.host.write(Buffer.concat([PREAMBLE, lengthPrefix(m1.length), m1]));
    } else {
      this.host.write(PREAMBLE);
    }
  }

  /** Feeds socket bytes; returns the plaintext of transport messages that completed. */
  push(chunk: Buffer): Buffer[] {
    if (this.phase === "failed") return [];
    if (this.phase === "open") return this.openTransport(chunk);
    this.queue.push(chunk);
    try {
      while (this.step()) {
        /* one handshake step per turn, while its bytes are here */
      }
    } catch (err) {
      if (!(err instanceof NoiseError)) throw err;
      this.fail(DisconnectReason.AUTHENTICATION_FAILED, `noise handshake (${this.phase}): ${err.message}`);
      return [];
    }
    if (!this.isOpen) return [];
    // Transport bytes may follow the last handshake message in the same chunk.
    const rest = this.queue.takeAll();
    return rest.length > 0 ? this.openTransport(rest) : [];
  }

  /** Seals plaintext into transport messages for the socket. */
  seal(plaintext: Uint8Array): Buffer {
    if (!this.sealer) throw new Error("secure channel is not open");
    return this.sealer.seal(plaintext);
  }

  /** One handshake step if its bytes are all here; false to wait for more. */
  private step(): boolean {
    switch (this.phase) {
      case "preamble":
        return this.readPreamble();
      case "message1": {
        const m = this.takeMessage();
        if (!m) return false;
        this.onMessage1(m);
        return true;
      }
      case "message2": {
        const m = this.takeMessage();
        if (!m) return false;
        this.onMessage2(m);
        return true;
      }
      case "message3": {
        const m = this.takeMessage();
        if (!m) return false;
        this.onMessage3(m);
        return true;
      }
      default:
        return false;
    }
  }

  private readPreamble(): boolean {
    if (this.queue.length < FRAME_HEADER_BYTES) return false;
    const head = this.queue.peek(FRAME_HEADER_BYTES);
    const declared = head.readUInt32BE(0);
    const ours = PREAMBLE.readUInt32BE(0);
    if (declared !== ours) {
      // Not our preamble. A protocol-1 node starts with its Hello frame: say
      // so, to tell the operator to upgrade it. Anything else is not a
      // timenet peer of this version (or bytes changed on the path).
      if (declared > MAX_FOREIGN_FIRST_FRAME) {
        return this.fail(DisconnectReason.AUTHENTICATION_FAILED, `stream does not start with the timenet protocol ${WIRE_PROTOCOL_VERSION} preamble`);
      }
      if (this.queue.length < FRAME_HEADER_BYTES + declared) return false;
      return this.fail(...this.foreignFirstFrame(this.queue.peek(FRAME_HEADER_BYTES + declared).subarray(FRAME_HEADER_BYTES)));
    }
    if (this.queue.length < PREAMBLE.length) return false;
    const got = this.queue.take(PREAMBLE.length);
    if (!got.equals(PREAMBLE)) return this.fail(...this.foreignFirstFrame(got.subarray(FRAME_HEADER_BYTES)));
    this.phase = this.o.role === "initiator" ? "message2" : "message1";
    return true;
  }

  private foreignFirstFrame(body: Buffer): [DisconnectReason, string] {
    let env: Envelope | undefined;
    try {
      env = fromBinary(EnvelopeSchema, body);
    } catch {
      env = undefined;
    }
    if (env?.payload.case === "hello") {
      return [DisconnectReason.BAD_VERSION, `peer speaks timenet protocol ${env.payload.value.protocolVersion}; this node speaks ${WIRE_PROTOCOL_VERSION} only: upgrade the peer`];
    }
    if (env?.payload.case === "goodbye" && env.payload.value.reason === DisconnectReason.BAD_VERSION) {
      return [DisconnectReason.BAD_VERSION, `peer speaks another protocol version: "${env.payload.value.message.slice(0, 120)}"`];
    }
    return [DisconnectReason.AUTHENTICATION_FAILED, `stream does not start with the timenet protocol ${WIRE_PROTOCOL_VERSION} preamble`];
  }

  private onMessage1(m: Buffer): void {
    const id = this.o.identity;
    // The fingerprint (message 1's payload, hashed into the transcript) picks the prologue.
    const fingerprint = m.subarray(32);
    const same = fingerprint.length === FINGERPRINT_BYTES && fingerprint.equals(id.fingerprint);
    this.neutralChosen = !same;
    const prologue = same ? id.prologue : id.neutralPrologue;
    this.active = new HandshakeXX({ role: "responder", prologue, staticKey: id.staticKey });
    this.active.read1(m);
    const m2 = this.active.write2(Buffer.concat([id.identityPayload, this.host.helloFor(this.active.handshakeHash)]));
    this.host.write(Buffer.concat([lengthPrefix(m2.length), m2]));
    this.phase = "message3";
  }

  private onMessage2(m: Buffer): void {
    let payload: Buffer;
    let otherNetwork = false;
    // The hash as message 2 begins (per candidate transcript): what the responder's Hello is signed over.
    let binding = this.network!.handshakeHash;
    const neutralBinding = this.neutral!.handshakeHash;
    try {
      payload = this.network!.read2(m);
      this.active = this.network;
    } catch (err) {
      if (!(err instanceof NoiseError) || err.code !== "DECRYPT_FAILED") throw err;
      // The responder is on another network (or the bytes were changed: then this fails too).
      payload = this.neutral!.read2(m);
      this.active = this.neutral;
      binding = neutralBinding;
      otherNetwork = true;
    }
    this.network = this.neutral = undefined;
    const nodeId = this.identify(payload);
    if (!nodeId) return;
    const hello = this.host.helloFor(this.active!.handshakeHash);
    const m3 = this.active!.write3(Buffer.concat([this.o.identity.identityPayload, hello]));
    this.host.write(Buffer.concat([lengthPrefix(m3.length), m3]));
    this.open(this.active!.keys(), nodeId, otherNetwork, payload.subarray(IDENTITY_PAYLOAD_BYTES), binding);
  }

  private onMessage3(m: Buffer): void {
    const binding = this.active!.handshakeHash;
    const payload = this.active!.read3(m);
    const nodeId = this.identify(payload);
    if (!nodeId) return;
    // Our own prologue choice tells whether the networks differ.
    this.open(this.active!.keys(), nodeId, this.neutralChosen, payload.subarray(IDENTITY_PAYLOAD_BYTES), binding);
  }

  /** The node id the payload's identity (its first bytes) proves for the static key of this handshake; fails the channel otherwise. */
  private identify(payload: Buffer): Uint8Array | undefined {
    const nodeId = provenNodeId(payload.subarray(0, IDENTITY_PAYLOAD_BYTES), this.active!.remoteStatic!);
    if (!nodeId) {
      this.fail(DisconnectReason.AUTHENTICATION_FAILED, "peer's identity does not verify for its static key");
      return undefined;
    }
    if (Buffer.compare(nodeId, this.o.identity.nodeKey.publicKey) === 0) {
      // Proven: only this node holds its static key.
      this.fail(DisconnectReason.SELF_CONNECTION, "the handshake proved our own node id: this address is this node");
      return undefined;
    }
    return nodeId;
  }

  private open(keys: NoiseSessionKeys, remoteNodeId: Uint8Array, otherNetwork: boolean, peerHello: Uint8Array, peerHelloBinding: Uint8Array): void {
    const o = { rekeyAfterMessages: this.o.rekeyAfterMessages };
    this.sealer = new TransportSealer(keys.send, o);
    this.opener = new TransportOpener(keys.receive, o);
    this.active = undefined;
    this.phase = "open";
    this.session = { remoteNodeId, otherNetwork, peerHello: Uint8Array.from(peerHello), peerHelloBinding };
    this.host.opened(this.session);
  }

  private openTransport(chunk: Buffer): Buffer[] {
    try {
      return this.opener!.push(chunk);
    } catch (err) {
      if (!(err instanceof NoiseError)) throw err;
      this.fail(DisconnectReason.AUTHENTICATION_FAILED, `transport: ${err.message}`);
      return [];
    }
  }

  private fail(reason: DisconnectReason, detail: string): false {
    if (this.phase === "failed") return false;
    this.phase = "failed";
    this.queue.clear();
    this.host.failed(reason, detail);
    return false;
  }

  /** The next length-prefixed handshake message, once whole. */
  private takeMessage(): Buffer | undefined {
    if (this.queue.length < 2) return undefined;
    const len = this.queue.peek(2).readUInt16BE(0);
    if (len > MAX_HANDSHAKE_MESSAGE_BYTES) {
      this.fail(DisconnectReason.AUTHENTICATION_FAILED, `handshake message of ${len} bytes (at most ${MAX_HANDSHAKE_MESSAGE_BYTES})`);
      return undefined;
    }
    if (this.queue.length < 2 + len) return undefined;
    this.queue.take(2);
    return Buffer.from(this.queue.take(len));
  }
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
