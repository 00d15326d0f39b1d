import type { Gauge } from "prom-client";
import type { Logger } from "@timenet/telemetry";
import { isPrivateIp } from "@timenet/net-address";
import { readDefaultGateway } from "./default-gateway.js";

/** How the gateway decides that peers' source addresses are being replaced (settings, all optional). */
export interface SourceIpWatchSettings {
  /**
   * The address docker-proxy's connections come from: this container's
   * default gateway (the bridge). Default: read from /proc/net/route; null: none.
   */
  bridgeIp?: string | null;
  /** Addresses a NAT or proxy could stand for. Default: isPrivateIp (RFC 1918, ULA). */
  isPrivate?: (ip: string) => boolean;
  /** Different node ids from one private address that mean "masked". Default 3 (2 from the bridge address). */
  threshold?: number;
  /**
   * A handshake counts as evidence this long. Default 10 min. Behind a real
   * proxy every peer shares one IP, so they keep replacing each other (one
   * socket per IP) and the evidence stays fresh; a few strangers behind one
   * NAT on our private network raise the alarm only while they keep coming.
   */
  windowMs?: number;
  now?: () => number;
}

export interface SourceIpWatchOptions extends SourceIpWatchSettings {
  /** timenet_gateway_source_ip_masked (0/1). */
  gauge: Gauge;
  logger: Logger;
}

/** Private addresses tracked at once; beyond it the oldest is forgotten. */
const MAX_TRACKED = 256;
/** Node ids remembered per address (well above any threshold); beyond it the oldest is forgotten. */
const MAX_IDS_PER_IP = 16;

/**
 * One IP is one peer: that rule needs the peers' real source addresses. With
 * Docker's userland proxy on, docker-proxy accepts every inbound connection
 * and opens its own from the bridge's address, so every peer looks like one
 * private IP. This notices it (several different node ids completing inbound
 * handshakes from one private address, or two from the bridge address) and
 * says so loudly: an error log, the gauge, and `masked`/`reason` for /readyz.
 * It only reports: nobody is closed, banned or refused for it. The alarm
 * ends (logged) once fewer handshakes than that are within `windowMs`.
 */
export class SourceIpWatch {
  readonly bridgeIp: string | undefined;
  private readonly isPrivate: (ip: string) => boolean;
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  /** Private source ip -> node id (hex) -> its latest inbound handshake from there, ms. */
  private readonly seen = new Map<string, Map<string, number>>();
  private maskedBy: { ip: string; nodeIds: number } | undefined;

  constructor(private readonly o: SourceIpWatchOptions) {
    this.bridgeIp = o.bridgeIp === null ? undefined : (o.bridgeIp ?? readDefaultGateway());
    this.isPrivate = o.isPrivate ?? isPrivateIp;
    this.threshold = o.threshold ?? 3;
    this.windowMs = o.windowMs ?? 10 * 60_000;
    this.now = o.now ?? Date.now;
    o.gauge.set(0);
    if (this.bridgeIp) {
      o.logger.info({ bridge_ip: this.bridgeIp }, "inbound peers arriving from the default gateway's address would mean a proxy hides their source IPs (checked as they connect)");
    }
  }

  get masked(): boolean {
    this.evaluate();
    return this.maskedBy !== undefined;
  }

  /** Why /readyz fails; undefined while source addresses look real. */
  get reason(): string | undefined {
    const m = this.maskedBy;
    if (!m) return undefined;
    const what = m.ip === this.bridgeIp ? "this container's default gateway (the Docker bridge)" : "one private address";
    return `${m.nodeIds} different peers connected from ${m.ip}, ${what}: a proxy (Docker's userland-proxy) replaces peers' source IPs; set "userland-proxy": false in /etc/docker/daemon.json and restart dockerd`;
  }

  /** An inbound connection completed its handshake from `ip` as `nodeId`. */
  inbound(ip: string, nodeId: Uint8Array): void {
    if (ip !== this.bridgeIp && !this.isPrivate(ip)) return;
    let ids = this.seen.get(ip);
    if (!ids) {
      if (this.seen.size >= MAX_TRACKED) this.seen.delete(this.seen.keys().next().value!);
      this.seen.set(ip, (ids = new Map()));
    }
    const id = Buffer.from(nodeId).toString("hex");
    ids.delete(id); // re-inserted: newest last
    if (ids.size >= MAX_IDS_PER_IP) ids.delete(ids.keys().next().value!);
    ids.set(id, this.now());
    this.evaluate();
  }

  /** Drops evidence older than the window and raises or ends the alarm (also run on a timer and on every read). */
  evaluate(): void {
    const now = this.now();
    let worst: { ip: string; nodeIds: number } | undefined;
    for (const [ip, ids] of this.seen) {
      for (const [id, at] of ids) if (now - at > this.windowMs) ids.delete(id);
      if (ids.size === 0) {
        this.seen.delete(ip);
        continue;
      }
      const enough = ip === this.bridgeIp ? Math.min(2, this.threshold) : this.threshold;
      if (ids.size >= enough && (!worst || ids.size > worst.nodeIds)) worst = { ip, nodeIds: ids.size };
    }
    const was = this.maskedBy;
    this.maskedBy = worst;
    this.o.gauge.set(worst ? 1 : 0);
    if (worst && !was) {
      this.o.logger.error({ source_ip: worst.ip, bridge_ip: this.bridgeIp, node_ids: worst.nodeIds }, `peers' source IPs are masked: ${this.reason}. One IP = one peer cannot hold: all inbound peers share one address (nobody is banned for it)`);
    } else if (!worst && was) {
      this.o.logger.warn({ source_ip: was.ip, window_ms: this.windowMs }, "source IPs look real again: no longer several peers from one private address within the window");
    }
  }
}
