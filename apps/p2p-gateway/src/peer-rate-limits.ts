import { TokenBucket } from "@timenet/rate-limit";
import type { RateLimits } from "./options.js";

/** The rate-limit class of an incoming message kind; undefined = not limited. */
export function limitClass(kind: string): "getBlocks" | "getPeers" | "ping" | "gossip" | "pushes" | undefined {
  switch (kind) {
    case "new_block_push":
      return "pushes";
    case "get_blocks":
      return "getBlocks";
    case "get_peers":
      return "getPeers";
    case "ping":
      return "ping";
    case "new_block":
    case "tx":
    case "blocks": // unsolicited (responses to our requests are never limited)
    case "peers":
    case "unknown":
      return "gossip";
    default:
      return undefined;
  }
}

/** "announce_only": a push over the pushes' budget (within gossip's): its announcement is read, its block is not. */
export type LimitVerdict = "ok" | "drop" | "abuse" | "announce_only";

/**
 * One peer connection's token buckets: messages per kind class, and bytes of
 * everything we did not ask for (gossip, unsolicited and unknown frames), so
 * a peer is limited by what it costs us, not only by how often it sends.
 * A refused message fills an abuse bucket, and emptying it is sustained abuse:
 * the caller reports one offence and the abuse bucket starts over, so a
 * flood yields a bounded trickle of offences rather than one per message.
 */
export class PeerRateLimits {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly bytes: TokenBucket;
  private readonly busyAnswers: TokenBucket;
  private abuse: TokenBucket;
  private quietUntil = 0;

  constructor(
    private readonly limits: RateLimits,
    now = Date.now(),
  ) {
    this.abuse = new TokenBucket(limits.abuse, now);
    this.bytes = new TokenBucket(limits.gossipBytes, now);
    this.busyAnswers = new TokenBucket(limits.getBlocks, now);
  }

  /**
   * Whether a GetBlocks over the limit may be answered busy: at most at the
   * GetBlocks rate again. A peer asking up to twice our limit (another
   * version's pace) is told at once each time; a flood beyond that is
   * skipped unanswered, so answering never costs more than serving would.
   */
  mayAnswerBusy(now = Date.now()): boolean {
    return this.busyAnswers.take(1, now);
  }

  /** Whether a message of this kind and size (bytes on the wire) may be handled. */
  check(kind: string, size: number, now = Date.now()): LimitVerdict {
    const cls = limitClass(kind);
    if (cls === undefined) return "ok";
    let b = this.buckets.get(cls);
    if (!b) {
      b = new TokenBucket(this.limits[cls], now);
      this.buckets.set(cls, b);
    }
    if (cls === "pushes") {
      // Gossip first (a push is gossip, and floods within it count as abuse there), then the pushes' own budget, never abuse:
      // beyond it the push is an announcement, as an honest sender beyond its pace would have sent it.
      const gossip = this.check("new_block", size, now);
      if (gossip !== "ok") return gossip;
      return b.take(1, now) ? "ok" : "announce_only";
    }
    const within = b.take(1, now) && (cls !== "gossip" || this.bytes.take(size, now));
    if (within) return "ok";
    if (this.abuse.take(1, now) || now < this.quietUntil) return "drop";
    // One abuse verdict per period of the abuse rate: a flood of millions of
    // messages is one offence and one log line a minute, not one per bucket.
    this.abuse = new TokenBucket(this.limits.abuse, now);
    this.quietUntil = now + this.limits.abuse.periodMs;
    return "abuse";
  }
}
