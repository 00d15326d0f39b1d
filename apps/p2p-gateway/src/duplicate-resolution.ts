import { createHash } from "node:crypto";
import { Direction, type Hello } from "@timenet/proto";
import { compareIp, normalizeIp } from "@timenet/net-address";

export type DuplicateRule = "peer_restarted" | "dialed_by_higher_ip" | "newer_dial" | "tiebreak";

/** What resolution reads of an established socket: its direction and the two Hellos exchanged on it. */
export interface Link {
  readonly direction: Direction;
  readonly remoteIp: string;
  readonly ourHello: Hello;
  readonly peerHello: Hello | undefined;
}

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
 * 3. Else, if one node dialled both (a redial racing its old socket), the
 *    newer dial wins: the socket whose dialler's Hello has the larger
 *    timestamp_ms. A session's Hello timestamps strictly increase, so this is
 *    exactly the later dial; the old socket may be half-open (the dialler's
 *    side is gone), and keeping it would close the live one as DUPLICATE and
 *    start a redial loop until the dead one timed out.
 * 4. Else the larger link key, a hash of both Hello nonces, wins.
 */
export function resolveDuplicate<C extends Link>(a: C, b: C): { keep: C; drop: C; rule: DuplicateRule } {
  const win = (keep: C, rule: DuplicateRule) => ({ keep, drop: keep === a ? b : a, rule });
  const ha = a.peerHello!;
  const hb = b.peerHello!;
  if (Buffer.compare(ha.sessionId, hb.sessionId) !== 0) {
    const aNewer = ha.sessionStartedMs !== hb.sessionStartedMs ? ha.sessionStartedMs > hb.sessionStartedMs : Buffer.compare(ha.sessionId, hb.sessionId) > 0;
    return win(aNewer ? a : b, "peer_restarted");
  }
  const ah = dialedByHigherIp(a);
  if (ah !== dialedByHigherIp(b)) return win(ah ? a : b, "dialed_by_higher_ip");
  if (a.direction === b.direction) {
    const ta = dialerHello(a).timestampMs;
    const tb = dialerHello(b).timestampMs;
    if (ta !== tb) return win(ta > tb ? a : b, "newer_dial");
  }
  return win(Buffer.compare(linkKey(a), linkKey(b)) > 0 ? a : b, "tiebreak");
}

/** The dialler's and acceptor's addresses of a socket, identical on both ends. */
export function linkAddresses(c: Link): { dialerIp: string; acceptorIp: string } {
  const observedByPeer = normalizeIp(c.peerHello!.observedIp);
  return c.direction === Direction.OUTBOUND
    ? { dialerIp: observedByPeer, acceptorIp: c.remoteIp }
    : { dialerIp: c.remoteIp, acceptorIp: observedByPeer };
}

export function dialedByHigherIp(c: Link): boolean {
  const { dialerIp, acceptorIp } = linkAddresses(c);
  return compareIp(dialerIp, acceptorIp) > 0;
}

function dialerHello(c: Link): Hello {
  return c.direction === Direction.OUTBOUND ? c.ourHello : c.peerHello!;
}

function acceptorHello(c: Link): Hello {
  return c.direction === Direction.OUTBOUND ? c.peerHello! : c.ourHello;
}

/** SHA-256 of the dialler's then the acceptor's Hello nonce. */
function linkKey(c: Link): Buffer {
  return createHash("sha256").update(dialerHello(c).nonce).update(acceptorHello(c).nonce).digest();
}
