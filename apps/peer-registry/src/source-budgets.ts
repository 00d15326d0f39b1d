import type { PeerIp } from "@timenet/net-address";
import { TokenBucket, type Rate } from "@timenet/rate-limit";

export interface SourceBudgetsOptions {
  /** What one telling peer may add. */
  rate: Rate;
  /** Telling peers remembered; beyond this the fullest budget is forgotten. */
  maxSources: number;
  /** Called with the number of budgets after every change (a gauge). */
  onSize?: (size: number) => void;
}

/**
 * Peer-exchange budgets: one token bucket per telling peer's IP, kept apart
 * from the book, so nothing the teller does (reconnecting, being forgotten or
 * evicted and coming back) refills it. Bounded: beyond `maxSources` the
 * bucket holding the most tokens goes, because a full bucket is exactly what
 * a newcomer gets, so forgetting it gives back the least.
 */
export class SourceBudgets {
  private readonly buckets = new Map<PeerIp, TokenBucket>();

  constructor(private readonly o: SourceBudgetsOptions) {}

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token from `from`'s budget; false when it is spent. */
  take(from: PeerIp, now: number): boolean {
    return this.bucketOf(from, now).take(1, now);
  }

  private bucketOf(from: PeerIp, now: number): TokenBucket {
    let b = this.buckets.get(from);
    if (b) return b;
    if (this.buckets.size >= this.o.maxSources) this.evictFullest(now);
    b = new TokenBucket(this.o.rate, now);
    this.buckets.set(from, b);
    this.o.onSize?.(this.buckets.size);
    return b;
  }

  private evictFullest(now: number): void {
    let fullest: PeerIp | undefined;
    let most = -1;
    for (const [ip, b] of this.buckets) {
      const tokens = b.available(now);
      if (tokens > most) {
        most = tokens;
        fullest = ip;
      }
    }
    if (fullest !== undefined) this.buckets.delete(fullest);
  }
}
