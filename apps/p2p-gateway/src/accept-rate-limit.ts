import { TokenBucket, type Rate } from "@timenet/rate-limit";

export interface AcceptRates {
  /** New inbound sockets per remote IP. Default 5/s, burst 10 (js-libp2p's per-host default is 5/s). */
  perIp: Rate;
  /** New inbound sockets per subnet (/24, /64). Default 20/s, burst 40. */
  perSubnet: Rate;
}

export const DEFAULT_ACCEPT_RATES: AcceptRates = {
  perIp: { count: 5, periodMs: 1_000, burst: 10 },
  perSubnet: { count: 20, periodMs: 1_000, burst: 40 },
};

/** IPs and subnets tracked at once; the least recently seen is forgotten first (its bucket starts full again). */
const MAX_TRACKED = 4096;

/**
 * How fast new inbound sockets may arrive from one IP and from one subnet,
 * checked at accept before a byte is read or a handshake key made: a flood of
 * connection attempts costs us a token-bucket lookup each. Bounded: both maps
 * keep at most MAX_TRACKED entries.
 */
export class AcceptRateLimit {
  private readonly ips = new Map<string, TokenBucket>();
  private readonly subnets = new Map<string, TokenBucket>();

  constructor(private readonly rates: AcceptRates = DEFAULT_ACCEPT_RATES) {}

  /** "ok", or which budget the new socket is over. */
  check(ip: string, subnet: string, now = Date.now()): "ok" | "accept_rate_ip" | "accept_rate_subnet" {
    if (!take(this.subnets, subnet, this.rates.perSubnet, now)) return "accept_rate_subnet";
    if (!take(this.ips, ip, this.rates.perIp, now)) return "accept_rate_ip";
    return "ok";
  }
}

function take(map: Map<string, TokenBucket>, key: string, rate: Rate, now: number): boolean {
  let b = map.get(key);
  if (b) map.delete(key); // re-inserted below: the map's order is recency
  else {
    b = new TokenBucket(rate, now);
    if (map.size >= MAX_TRACKED) map.delete(map.keys().next().value!);
  }
  map.set(key, b);
  return b.take(1, now);
}
