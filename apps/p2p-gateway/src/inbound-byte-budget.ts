import { TokenBucket, type Rate } from "@timenet/rate-limit";

/** One connection's recent unsolicited bytes, decayed over the budget's period (so: about its rate per period). */
export interface InboundUsage {
  bytes: number;
  at: number;
}

/** Shortest hold: a socket is not paused and resumed for every frame. */
const MIN_HOLD_MS = 20;
/** Longest hold, as for the per-peer skip budget: the peer's pings still get answered after it. */
const MAX_HOLD_MS = 2_000;

/**
 * Bytes of everything peers sent us unasked (gossip, pushes, frames skipped
 * unread), from all peers together. The per-peer limits multiply by the
 * number of peers, and every byte costs its decryption (a Noise frame is
 * authenticated whole) before a frame can even be skipped: eight strangers
 * each within their own 4 MiB/s budget, and each with its 16 MiB burst, kept
 * a gateway busy for whole seconds. Beyond this node-wide budget, only the
 * peers sending more than a fair share (the rate divided among the peers
 * that sent anything lately) stop being read for a while; TCP then holds
 * them back at no cost to us. A peer within its share is never held for the
 * heavy ones, and no peer is blamed: an honest relay may be heavy during a
 * transaction flood, and this is our capacity, not its offence.
 */
export class InboundByteBudget {
  private readonly bucket: TokenBucket;
  private current = new Set<InboundUsage>();
  private previous = new Set<InboundUsage>();
  private windowAt: number;

  constructor(
    private readonly rate: Rate,
    now = Date.now(),
  ) {
    this.bucket = new TokenBucket(rate, now);
    this.windowAt = now;
  }

  /** A new connection's record (nothing sent yet). */
  usage(now = Date.now()): InboundUsage {
    return { bytes: 0, at: now };
  }

  /** The fair share of one sender, in bytes per period: the rate divided among the peers that sent anything in the last period or two. */
  fairShare(now = Date.now()): number {
    this.roll(now);
    return this.share();
  }

  /**
   * Charges `bytes` a peer sent unasked; returns how long its socket should
   * not be read, in milliseconds: 0 while the node-wide bucket holds them, or
   * while the peer sends within its fair share; otherwise until its recent
   * bytes have decayed back to that share (bounded).
   */
  charge(u: InboundUsage, bytes: number, now = Date.now()): number {
    if (now > u.at) u.bytes *= Math.exp(-(now - u.at) / this.rate.periodMs);
    u.at = Math.max(u.at, now);
    u.bytes += bytes;
    this.roll(now);
    this.current.add(u);
    if (this.bucket.take(bytes, now)) return 0;
    const share = this.share();
    if (u.bytes <= share) return 0;
    const holdMs = this.rate.periodMs * Math.log(u.bytes / share);
    return Math.round(Math.min(MAX_HOLD_MS, Math.max(MIN_HOLD_MS, holdMs)));
  }

  /** The share for the current windows (already rolled). */
  private share(): number {
    return this.rate.count / Math.max(1, this.current.size, this.previous.size);
  }

  private roll(now: number): void {
    if (now - this.windowAt < this.rate.periodMs) return;
    // Two periods or more since the last roll: nobody sent in the last one.
    this.previous = now - this.windowAt < 2 * this.rate.periodMs ? this.current : new Set();
    this.current = new Set();
    this.windowAt = now;
  }
}
