import { createHash } from "node:crypto";
import { generateDhKeyPair, type DhKeyPair } from "@timenet/noise";
import { verifySignature, type NodeKey } from "@timenet/node-key";
import { canonicalFields } from "./canonical-writer.js";

/** The wire protocol this build speaks: 2 = everything after TCP inside Noise XX; 3 = the Hellos inside its handshake messages. */
export const WIRE_PROTOCOL_VERSION = 3;

const STATIC_KEY_TAG = Buffer.from("timenet/noise-static-key/v2", "utf8");
const PROLOGUE_TAG = "timenet/p2p/v2";
const FINGERPRINT_TAG = "timenet/network-fingerprint/v2";
/** An identity payload: the node id (ed25519, 32 bytes), then its signature (64) over the tag and the static Noise key. */
export const IDENTITY_PAYLOAD_BYTES = 96;
/** Message 1's payload: the first 16 bytes of the network fingerprint. */
export const FINGERPRINT_BYTES = 16;

/**
 * What this process proves in every Noise handshake: a static X25519 key,
 * fresh per process (it never leaves memory), and the node key's signature
 * over it, made once at start; with the prologues and the fingerprint of its
 * network, the same for every connection.
 */
export interface ChannelIdentity {
  nodeKey: NodeKey;
  staticKey: DhKeyPair;
  identityPayload: Buffer;
  /** Version, network and genesis: the prologue of every session between nodes of our network. */
  prologue: Buffer;
  /** Version only: for sessions whose fingerprints differ. */
  neutralPrologue: Buffer;
  /** Message 1's payload. */
  fingerprint: Buffer;
}

export function createChannelIdentity(nodeKey: NodeKey, network: string, genesisHash: Uint8Array): ChannelIdentity {
  const staticKey = generateDhKeyPair();
  const signature = nodeKey.sign(Buffer.concat([STATIC_KEY_TAG, staticKey.publicKey]));
  return {
    nodeKey,
    staticKey,
    identityPayload: Buffer.concat([nodeKey.publicKey, signature]),
    prologue: networkPrologue(network, genesisHash),
    neutralPrologue: neutralPrologue(),
    fingerprint: networkFingerprint(network, genesisHash),
  };
}

/**
 * The node id a handshake payload proves for the static key the peer used
 * in the same handshake, or undefined. Strict verification: a small-order
 * or non-canonical node id or signature proves nothing.
 */
export function provenNodeId(payload: Uint8Array, remoteStatic: Uint8Array): Uint8Array | undefined {
  if (payload.length !== IDENTITY_PAYLOAD_BYTES) return undefined;
  const nodeId = payload.subarray(0, 32);
  const ok = verifySignature(nodeId, Buffer.concat([STATIC_KEY_TAG, remoteStatic]), payload.subarray(32));
  return ok ? new Uint8Array(nodeId) : undefined;
}

/** The prologue of every session on our network: the protocol version, the network name and the genesis hash. */
function networkPrologue(network: string, genesisHash: Uint8Array): Buffer {
  return canonicalFields(PROLOGUE_TAG, String(WIRE_PROTOCOL_VERSION), network, genesisHash);
}

/**
 * The prologue of a session between nodes of different networks (their
 * fingerprints differ): the protocol version only. Such a session exists
 * only so each side can tell the other, authenticated, which network or
 * genesis it is on; nothing else is ever accepted on it.
 */
function neutralPrologue(): Buffer {
  return canonicalFields(PROLOGUE_TAG, String(WIRE_PROTOCOL_VERSION));
}

/** A hash of network and genesis: says "same network or not" in message 1 without naming either. */
function networkFingerprint(network: string, genesisHash: Uint8Array): Buffer {
  return createHash("sha256").update(canonicalFields(FINGERPRINT_TAG, network, genesisHash)).digest().subarray(0, FINGERPRINT_BYTES);
}
