import { create } from "@bufbuild/protobuf";
import { HelloSchema, type Hello, DisconnectReason } from "@timenet/proto";
import { isValidIp } from "@timenet/net-address";
import { verifySignature, type NodeKey } from "@timenet/node-key";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { CanonicalWriter } from "./canonical-writer.js";

export { WIRE_PROTOCOL_VERSION as PROTOCOL_VERSION } from "./channel-identity.js";
const HELLO_TAG = "timenet/hello/v3";
/** A Hello's largest encoding (its handshake message refuses more). */
export const MAX_HELLO_BYTES = 2048;

/** What this node says about itself in every Hello. */
export interface LocalIdentity {
  key: NodeKey;
  network: string;
  genesisHash: Uint8Array;
  protocolVersion: number;
  minProtocolVersion: number;
  softwareVersion: string;
  listenPort: number;
  /** Random per process: lets a peer tell a restart from a second socket. */
  sessionId: Uint8Array;
  sessionStartedMs: bigint;
  tip(): { height: number; hash: Uint8Array };
}

/**
 * The bytes a Hello's signature covers: a tag, the Noise handshake hash as
 * the handshake message carrying it began (it holds the other side's fresh
 * ephemeral key, so the Hello cannot be replayed on any other connection), then
 * every field in field order with explicit widths and length prefixes.
 * Defined here, not by the protobuf encoding, which is not canonical across
 * implementations.
 */
export function canonicalHelloBytes(h: Hello, handshakeHash: Uint8Array): Uint8Array {
  const w = new CanonicalWriter();
  w.str(HELLO_TAG);
  w.bytes(handshakeHash);
  w.u32(h.protocolVersion);
  w.str(h.network);
  w.bytes(h.genesisHash);
  w.u32(h.bestHeight);
  w.bytes(h.bestHash);
  w.u32(h.listenPort);
  w.bytes(h.nodeId);
  w.str(h.softwareVersion);
  w.bytes(h.nonce);
  w.bytes(h.sessionId);
  w.u64(h.sessionStartedMs);
  w.str(h.observedIp);
  w.u64(h.timestampMs);
  return w.finish();
}

/**
 * Hello.timestamp_ms for one session: the wall clock, but strictly
 * increasing, so that of two Hellos of a session the later one always has
 * the larger timestamp, even within one millisecond or when the clock steps
 * back. Duplicate resolution relies on it to tell the newer of two dials.
 */
export class HelloTimestamps {
  private last = 0n;

  next(nowMs: number = Date.now()): bigint {
    const now = BigInt(nowMs);
    this.last = now > this.last ? now : this.last + 1n;
    return this.last;
  }
}

/**
 * Our signed Hello for one connection, bound to the handshake hash as the
 * Noise message carrying it begins; `timestampMs` comes from the session's
 * HelloTimestamps.
 */
export function buildHello(local: LocalIdentity, observedIp: string, timestampMs: bigint, handshakeHash: Uint8Array): Hello {
  const tip = local.tip();
  const hello = create(HelloSchema, {
    protocolVersion: local.protocolVersion,
    network: local.network,
    genesisHash: local.genesisHash,
    bestHeight: tip.height,
    bestHash: tip.hash,
    listenPort: local.listenPort,
    nodeId: local.key.publicKey,
    softwareVersion: local.softwareVersion,
    nonce: randomBytes(16),
    sessionId: local.sessionId,
    sessionStartedMs: local.sessionStartedMs,
    observedIp,
    timestampMs,
  });
  hello.signature = local.key.sign(canonicalHelloBytes(hello, handshakeHash));
  return hello;
}

/** What the Noise handshake of the connection proved, against which a Hello is checked. */
export interface ChannelProof {
  /** The node id the handshake proved (the peer holds its key). */
  remoteNodeId: Uint8Array;
  /** The handshake hash the peer's Hello must be signed over (as its handshake message began). */
  handshakeHash: Uint8Array;
  /** The fingerprints differed: the Hello must show another network or genesis. */
  otherNetwork: boolean;
}

/** Checks a peer's Hello; returns the reason to refuse it, or undefined to accept. */
export function checkHello(local: LocalIdentity, h: Hello, proof: ChannelProof): { reason: DisconnectReason; detail: string } | undefined {
  // First whether the Hello is the proven peer's own, for this connection:
  // only then is anything it says the peer's word.
  if (!bytesEqual(h.nodeId, proof.remoteNodeId) || !verifySignature(h.nodeId, canonicalHelloBytes(h, proof.handshakeHash), h.signature)) {
    return { reason: DisconnectReason.BAD_SIGNATURE, detail: "hello is not signed, for this connection, by the node id the handshake proved" };
  }
  if (h.network !== local.network) {
    return { reason: DisconnectReason.WRONG_NETWORK, detail: `network "${h.network.slice(0, 64)}", expected "${local.network}"` };
  }
  if (!bytesEqual(h.genesisHash, local.genesisHash)) {
    return { reason: DisconnectReason.WRONG_GENESIS, detail: `genesis ${hex(h.genesisHash).slice(0, 64)}, expected ${hex(local.genesisHash)}` };
  }
  if (proof.otherNetwork) {
    return { reason: DisconnectReason.PROTOCOL_ERROR, detail: "hello names our network, but the handshake's network fingerprint did not" };
  }
  if (h.protocolVersion < local.minProtocolVersion) {
    return { reason: DisconnectReason.BAD_VERSION, detail: `protocol ${h.protocolVersion}, need >= ${local.minProtocolVersion}` };
  }
  if (h.nonce.length !== 16 || h.sessionId.length !== 16 || !isValidIp(h.observedIp)) {
    return { reason: DisconnectReason.PROTOCOL_ERROR, detail: "hello lacks a 16-byte nonce, a session id or a valid observed_ip" };
  }
  return undefined;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}
