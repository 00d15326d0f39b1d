import { TokenBucket } from "@timenet/rate-limit";
import type { RateLimits } from "./options.js";

/** The rate-limit class of an incoming message kind; undefined = not limited. */
function limitClass(kind: string): keyof Omit<RateLimits, "abuse"> | undefined {
  switch (kind) {
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
      return "gossip";
    default:
      return undefined;
  }
}

/**
 * One peer connection's token buckets. `allow` says whether a message may be
 * handled; drops fill an abuse bucket, and emptying it is sustained abuse:
 * the caller reports one offence and the abuse bucket starts over, so a
 * flood yields a bounded trickle of offences rather than one per message.
 */
export class PeerRateLimits {
  private readonly buckets = new Map<string, TokenBucket>();
  private abuse: TokenBucket;

  constructor(private readonly limits: RateLimits) {
    this.abuse = new TokenBucket(limits.abuse);
  }

  /** "ok", "drop", or "abuse" (drop, and the peer has now been dropping for too long). */
  check(kind: string, now = Date.now()): "ok" | "drop" | "abuse" {
    const cls = limitClass(kind);
    if (cls === undefined) return "ok";
    let b = this.buckets.get(cls);
    if (!b) {
      b = new TokenBucket(this.limits[cls], now);
      this.buckets.set(cls, b);
    }
    if (b.take(1, now)) return "ok";
    if (this.abuse.take(1, now)) return "drop";
    this.abuse = new TokenBucket(this.limits.abuse, now);
    return "abuse";
  }
}
