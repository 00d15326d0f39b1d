import { create } from "@bufbuild/protobuf";
import { HelloSchema, type Hello, DisconnectReason } from "@timenet/proto";
import { isValidIp } from "@timenet/net-address";
import { verifySignature, type NodeKey } from "@timenet/node-key";
import { randomBytes, timingSafeEqual } from "node:crypto";

export const PROTOCOL_VERSION = 1;
const HELLO_TAG = "timenet/hello/v1";
const ACK_TAG = "timenet/hello-ack/v1";

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
 * The bytes a Hello's signature covers: a tag, then every field in field
 * order with explicit widths and length prefixes. Defined here, not by the
 * protobuf encoding, which is not canonical across implementations.
 */
export function canonicalHelloBytes(h: Hello): Uint8Array {
  const w = new CanonicalWriter();
  w.str(HELLO_TAG);
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

/** Our signed Hello for one connection; `timestampMs` comes from the session's HelloTimestamps. */
export function buildHello(local: LocalIdentity, observedIp: string, timestampMs: bigint): Hello {
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
  hello.signature = local.key.sign(canonicalHelloBytes(hello));
  return hello;
}

/** Checks a peer's Hello; returns the reason to refuse it, or undefined to accept. */
export function checkHello(local: LocalIdentity, h: Hello): { reason: DisconnectReason; detail: string } | undefined {
  if (h.network !== local.network) {
    return { reason: DisconnectReason.WRONG_NETWORK, detail: `network "${h.network}", expected "${local.network}"` };
  }
  if (!bytesEqual(h.genesisHash, local.genesisHash)) {
    return { reason: DisconnectReason.WRONG_GENESIS, detail: `genesis ${hex(h.genesisHash)}, expected ${hex(local.genesisHash)}` };
  }
  if (h.protocolVersion < local.minProtocolVersion) {
    return { reason: DisconnectReason.BAD_VERSION, detail: `protocol ${h.protocolVersion}, need >= ${local.minProtocolVersion}` };
  }
  if (h.nodeId.length !== 32 || !verifySignature(h.nodeId, canonicalHelloBytes(h), h.signature)) {
    return { reason: DisconnectReason.BAD_SIGNATURE, detail: "hello signature does not verify with its node id" };
  }
  if (bytesEqual(h.nodeId, local.key.publicKey)) {
    return { reason: DisconnectReason.SELF_CONNECTION, detail: "hello carries our own node id" };
  }
  if (h.nonce.length !== 16 || h.sessionId.length !== 16 || !isValidIp(h.observedIp)) {
    return { reason: DisconnectReason.PROTOCOL_ERROR, detail: "hello lacks a 16-byte nonce, a session id or a valid observed_ip" };
  }
  return undefined;
}

function ackBytes(peerHello: Hello): Uint8Array {
  const w = new CanonicalWriter();
  w.str(ACK_TAG);
  w.bytes(peerHello.nonce);
  w.bytes(peerHello.nodeId);
  return w.finish();
}

/** Our HelloAck signature over the peer's fresh nonce: proves our key is live. */
export function signAck(local: LocalIdentity, peerHello: Hello): Uint8Array {
  return local.key.sign(ackBytes(peerHello));
}

/** Verifies the peer's HelloAck for the Hello we sent it. */
export function verifyAck(ourHello: Hello, peerNodeId: Uint8Array, signature: Uint8Array): boolean {
  return verifySignature(peerNodeId, ackBytes(ourHello), signature);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

class CanonicalWriter {
  private parts: Buffer[] = [];
  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    this.parts.push(b);
  }
  u64(n: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, n));
    this.parts.push(b);
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.parts.push(Buffer.from(b));
  }
  str(s: string): void {
    this.bytes(Buffer.from(s, "utf8"));
  }
  finish(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}
