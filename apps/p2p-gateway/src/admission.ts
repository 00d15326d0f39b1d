import { DisconnectReason, type AdmissionPolicy } from "@timenet/proto";
import { normalizeIp, subnetKey, type PeerIp } from "@timenet/net-address";

/**
 * The gateway's in-memory copy of the registry's admission policy. Every
 * accept is decided here, synchronously: banned IPs, then (unless the IP is
 * allow-listed) the inbound and per-subnet limits. Until the first policy
 * arrives nothing is banned and only the gateway's own socket caps apply.
 */
export class AdmissionControl {
  private bans = new Map<PeerIp, { untilMs: number; reason: string }>();
  private allow = new Set<PeerIp>();
  private maxInbound = Number.POSITIVE_INFINITY;
  private maxPerSubnet = Number.POSITIVE_INFINITY;
  private prefixV4 = 24;
  private prefixV6 = 64;
  private epoch = "";
  private version = -1n;
  private received = false;

  /**
   * Applies a policy unless it is older than the one held within the same
   * registry epoch; true when applied. A policy of another epoch always
   * applies: only the registry's NATS user may write the bucket, and the
   * bucket delivers its writes in order, so the latest one is the registry's
   * current run (a restarted registry starts again from version 1).
   */
  apply(p: AdmissionPolicy): boolean {
    if (this.received && p.epoch === this.epoch && p.version < this.version) return false;
    this.epoch = p.epoch;
    this.version = p.version;
    this.received = true;
    const bans = new Map<PeerIp, { untilMs: number; reason: string }>();
    for (const b of p.bans) {
      try {
        bans.set(normalizeIp(b.ip), { untilMs: Number(b.untilMs), reason: b.reason });
      } catch {
        // An unparseable entry cannot match any socket: skip it.
      }
    }
    this.bans = bans;
    this.allow = new Set(p.allowList.flatMap((ip) => (isIp(ip) ? [normalizeIp(ip)] : [])));
    this.maxInbound = p.maxInbound || Number.POSITIVE_INFINITY;
    this.maxPerSubnet = p.maxPerSubnet || Number.POSITIVE_INFINITY;
    this.prefixV4 = p.subnetPrefixV4 || 24;
    this.prefixV6 = p.subnetPrefixV6 || 64;
    return true;
  }

  get hasPolicy(): boolean {
    return this.received;
  }

  get allowList(): ReadonlySet<PeerIp> {
    return this.allow;
  }

  isBanned(ip: PeerIp, now = Date.now()): boolean {
    const b = this.bans.get(ip);
    return b !== undefined && b.untilMs > now;
  }

  bannedIps(now = Date.now()): PeerIp[] {
    return [...this.bans].filter(([, b]) => b.untilMs > now).map(([ip]) => ip);
  }

  /** The subnet (network group) of an IP under the policy's prefixes. */
  subnetOf(ip: PeerIp): string {
    return subnetKey(ip, this.prefixV4, this.prefixV6);
  }

  /**
   * The reason to refuse an inbound socket from `ip`, "inbound_full" when
   * only the total of inbound slots is reached (eviction may make room), or
   * undefined to accept. `inboundIps` are the remote IPs of the inbound
   * sockets already open.
   */
  admit(ip: PeerIp, inboundIps: Iterable<PeerIp>, now = Date.now()): DisconnectReason | "inbound_full" | undefined {
    if (this.isBanned(ip, now)) return DisconnectReason.BANNED;
    if (this.allow.has(ip)) return undefined;
    if (this.maxInbound === Number.POSITIVE_INFINITY && this.maxPerSubnet === Number.POSITIVE_INFINITY) return undefined;
    const subnet = subnetKey(ip, this.prefixV4, this.prefixV6);
    let inbound = 0;
    let sameSubnet = 0;
    for (const other of inboundIps) {
      // Allow-listed peers do not use up the strangers' slots either.
      if (this.allow.has(other)) continue;
      inbound++;
      if (subnetKey(other, this.prefixV4, this.prefixV6) === subnet) sameSubnet++;
    }
    if (sameSubnet >= this.maxPerSubnet) return DisconnectReason.TOO_MANY_CONNECTIONS;
    if (inbound >= this.maxInbound) return "inbound_full";
    return undefined;
  }
}

function isIp(s: string): boolean {
  try {
    normalizeIp(s);
    return true;
  } catch {
    return false;
  }
}
