import { createHash } from "node:crypto";
import { Direction } from "@timenet/proto";
import { compareIp, normalizeIp } from "@timenet/net-address";
import type { PeerConnection } from "./peer-connection.js";

export type DuplicateRule = "peer_restarted" | "dialed_by_higher_ip" | "tiebreak";

/**
 * Chooses which of two established sockets to one IP survives. Every input
 * is something both ends of each socket know identically (the two Hellos
 * exchanged on it), so both nodes keep the same socket:
 *
 * 1. If the peer's session differs between the sockets, the peer restarted:
 *    the socket to its newer session wins (the old one is dead). The
 *    restarted peer holds only the new socket, so it agrees.
 * 2. Else the socket dialled by the higher IP wins, comparing the dialler's
 *    address as the acceptor saw it with the acceptor's address as the
 *    dialler dialled it (both carried in Hello.observed_ip), so NAT cannot
 *    make the two ends disagree.
 * 3. Else (same direction twice: a reconnect racing an old socket) the
 *    larger link key, a hash of both Hello nonces, wins.
 */
export function resolveDuplicate(a: PeerConnection, b: PeerConnection): { keep: PeerConnection; drop: PeerConnection; rule: DuplicateRule } {
  const ha = a.peerHello!;
  const hb = b.peerHello!;
  if (Buffer.compare(ha.sessionId, hb.sessionId) !== 0) {
    const newer =
      ha.sessionStartedMs !== hb.sessionStartedMs
        ? ha.sessionStartedMs > hb.sessionStartedMs
          ? a
          : b
        : Buffer.compare(ha.sessionId, hb.sessionId) > 0
          ? a
          : b;
    return { keep: newer, drop: newer === a ? b : a, rule: "peer_restarted" };
  }
  const ah = dialedByHigherIp(a);
  const bh = dialedByHigherIp(b);
  if (ah !== bh) return ah ? { keep: a, drop: b, rule: "dialed_by_higher_ip" } : { keep: b, drop: a, rule: "dialed_by_higher_ip" };
  return Buffer.compare(linkKey(a), linkKey(b)) > 0 ? { keep: a, drop: b, rule: "tiebreak" } : { keep: b, drop: a, rule: "tiebreak" };
}

/** The dialler's and acceptor's addresses of a socket, identical on both ends. */
export function linkAddresses(c: PeerConnection): { dialerIp: string; acceptorIp: string } {
  const observedByPeer = normalizeIp(c.peerHello!.observedIp);
  return c.direction === Direction.OUTBOUND
    ? { dialerIp: observedByPeer, acceptorIp: c.remoteIp }
    : { dialerIp: c.remoteIp, acceptorIp: observedByPeer };
}

export function dialedByHigherIp(c: PeerConnection): boolean {
  const { dialerIp, acceptorIp } = linkAddresses(c);
  return compareIp(dialerIp, acceptorIp) > 0;
}

/** SHA-256 of the dialler's then the acceptor's Hello nonce. */
export function linkKey(c: PeerConnection): Buffer {
  const [dialer, acceptor] = c.direction === Direction.OUTBOUND ? [c.ourHello, c.peerHello!] : [c.peerHello!, c.ourHello];
  return createHash("sha256").update(dialer.nonce).update(acceptor.nonce).digest();
}
