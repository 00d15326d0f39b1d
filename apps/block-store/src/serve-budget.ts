import { TokenBucket } from "@timenet/rate-limit";

/** A sustained rate of bytes with a burst allowance. */
export interface ByteRate {
  bytesPerSec: number;
  burstBytes: number;
}

export interface ServeBudgetLimits {
  /** Each peer IP's budget. */
  peer: ByteRate;
  /** All peers together. */
  global: ByteRate;
  /** Peers with a budget tracked at once. */
  maxPeers: number;
}

/** Which budget stops an answer: a peer's own, everyone's, or no room to track one more peer. */
export type BudgetLimit = "peer_budget" | "global_budget" | "peers_full";

function bucket(r: ByteRate, now: number): TokenBucket {
  return new TokenBucket({ count: r.bytesPerSec, periodMs: 1_000, burst: r.burstBytes }, now);
}

/**
 * Bytes of blocks the store may serve: a token bucket per peer IP and one for
 * everyone. Used by the one thread that answers, one answer at a time, so an
 * answer takes exactly what it sent and nothing is reserved ahead. The table
 * of peers is bounded: a peer whose bucket has refilled is forgotten when
 * room is needed (a fresh bucket is the same), and when every tracked peer is
 * still spending a new one is refused.
 */
export class ServeBudget {
  private readonly peers = new Map<string, TokenBucket>();
  private readonly global: TokenBucket;

  constructor(
    private readonly limits: ServeBudgetLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.global = bucket(limits.global, now());
  }

  /** Peers tracked. */
  get size(): number {
    return this.peers.size;
  }

  /** What `peerIp` may be sent now (whole bytes) and which budget is the tighter; "peers_full" when it cannot be tracked. */
  allowance(peerIp: string): { bytes: number; by: "peer_budget" | "global_budget" } | "peers_full" {
    const now = this.now();
    const own = this.peer(peerIp, now);
    if (own === undefined) return "peers_full";
    const mine = Math.floor(own.available(now));
    const all = Math.floor(this.global.available(now));
    return mine <= all ? { bytes: mine, by: "peer_budget" } : { bytes: all, by: "global_budget" };
  }

  /** Takes the bytes an answer sent (at most its allowance). */
  spend(peerIp: string, bytes: number): void {
    if (bytes <= 0) return;
    const now = this.now();
    this.peers.get(peerIp)?.take(bytes, now);
    this.global.take(bytes, now);
  }

  private peer(peerIp: string, now: number): TokenBucket | undefined {
    const known = this.peers.get(peerIp);
    if (known !== undefined) return known;
    if (this.peers.size >= this.limits.maxPeers) {
      for (const [ip, b] of this.peers) if (b.available(now) >= this.limits.peer.burstBytes) this.peers.delete(ip);
      if (this.peers.size >= this.limits.maxPeers) return undefined;
    }
    const fresh = bucket(this.limits.peer, now);
    this.peers.set(peerIp, fresh);
    return fresh;
  }
}
