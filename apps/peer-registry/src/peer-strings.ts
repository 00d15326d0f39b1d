import type { Peer } from "@timenet/proto";

/**
 * The documented limits of what the book stores from a peer's own words (its
 * Hello, its announcements) and of operator text kept with it. The gateway
 * validates these fields too; the book clips them again where records are
 * written, so a multi-MiB string can never reach LMDB, the book loaded at
 * start, or a ListPeers answer. UTF-16 code units for strings, bytes for
 * bytes.
 */
export const PEER_FIELD_LIMITS = {
  /** `git describe` of the peer's build. */
  softwareVersion: 128,
  network: 64,
  /** Hex of the 32-byte ed25519 key. */
  nodeId: 64,
  /** The record's connection protection label ("noise-xx"). */
  encryption: 32,
  /** An offence kind, or "operator: " and the operator's reason. */
  banReason: 256,
  /** A block hash is 32 bytes; anything longer is not one and is not kept. */
  bestHash: 32,
} as const;

export type ClippedField = keyof typeof PEER_FIELD_LIMITS;

/** A ban's reason as the admission policy carries it (the book keeps it whole): MAX_BANS of them fit one NATS value. */
export const POLICY_REASON_LIMIT = 32;

/** Peer-supplied text in a log line (offence details, reasons): at most this many code units. */
export const LOG_TEXT_LIMIT = 256;

const STRING_FIELDS = ["softwareVersion", "network", "nodeId", "encryption", "banReason"] as const;

/** Cuts `s` to `max` code units without splitting a surrogate pair. */
export function clipText(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** Clips a record's peer-supplied fields in place; returns the fields it had to cut. */
export function clipPeerFields(p: Peer): ClippedField[] {
  const cut: ClippedField[] = [];
  for (const f of STRING_FIELDS) {
    if (p[f].length > PEER_FIELD_LIMITS[f]) {
      p[f] = clipText(p[f], PEER_FIELD_LIMITS[f]);
      cut.push(f);
    }
  }
  if (p.bestHash.length > PEER_FIELD_LIMITS.bestHash) {
    p.bestHash = new Uint8Array(0);
    cut.push("bestHash");
  }
  return cut;
}

/** A node id as the book keeps it: the hex of a 32-byte key, or "" for anything else (never a huge hex string). */
export function nodeIdHex(bytes: Uint8Array): string {
  return bytes.length === PEER_FIELD_LIMITS.nodeId / 2 ? Buffer.from(bytes).toString("hex") : "";
}
