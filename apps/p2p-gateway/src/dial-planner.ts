import { compareIp, formatEndpoint, type PeerEndpoint, type PeerIp } from "@timenet/net-address";
import type { Logger } from "@timenet/telemetry";
import { ExponentialBackoff } from "./backoff.js";

export interface DialPlannerOptions {
  /** Our own address (PUBLIC_IP); unknown means we never wait passively. */
  localIp: PeerIp | undefined;
  passiveWaitMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** A connection that lived this long resets the peer's backoff. */
  stableAfterMs: number;
  isConnected(ip: PeerIp): boolean;
  isDialing(ip: PeerIp): boolean;
  isSelf(ip: PeerIp): boolean;
  dial(endpoint: PeerEndpoint): void;
  logger: Logger;
}

interface Target {
  endpoint: PeerEndpoint;
  backoff: ExponentialBackoff;
  timer: NodeJS.Timeout | undefined;
  nextDialAt: number;
}

/**
 * Decides when to dial each target peer. The higher IP of a pair dials; the
 * lower waits `passiveWaitMs` for it and then dials itself (the peer may be
 * behind NAT or not know us). A peer that keeps failing is retried with
 * exponential backoff and jitter; one that stays connected resets it.
 */
export class DialPlanner {
  private readonly targets = new Map<PeerIp, Target>();
  private running = false;

  constructor(private readonly o: DialPlannerOptions) {}

  start(endpoints: PeerEndpoint[]): void {
    this.running = true;
    for (const e of endpoints) this.addTarget(e);
  }

  stop(): void {
    this.running = false;
    for (const t of this.targets.values()) clearTimeout(t.timer);
  }

  addTarget(endpoint: PeerEndpoint): void {
    if (this.targets.has(endpoint.ip)) return;
    const t: Target = { endpoint, backoff: new ExponentialBackoff(this.o.backoffMinMs, this.o.backoffMaxMs), timer: undefined, nextDialAt: 0 };
    this.targets.set(endpoint.ip, t);
    this.schedule(t, this.weDial(endpoint.ip) ? 0 : this.o.passiveWaitMs, "new target");
  }

  /** Whether we are the side that dials this peer without waiting. */
  weDial(ip: PeerIp): boolean {
    return this.o.localIp === undefined || compareIp(this.o.localIp, ip) > 0;
  }

  nextDialAt(ip: PeerIp): number | undefined {
    return this.targets.get(ip)?.nextDialAt;
  }

  onConnected(ip: PeerIp): void {
    const t = this.targets.get(ip);
    if (!t) return;
    clearTimeout(t.timer);
    t.timer = undefined;
    t.nextDialAt = 0;
  }

  /** A connection to the IP ended (lived ms) or a dial or handshake to it failed (lived 0). */
  onDisconnected(ip: PeerIp, livedMs: number, why: string): void {
    const t = this.targets.get(ip);
    if (!t || !this.running) return;
    if (livedMs >= this.o.stableAfterMs) t.backoff.reset();
    t.backoff.fail();
    const delay = t.backoff.nextDelayMs();
    // The lower side gives the higher one its passive-wait window again.
    this.schedule(t, this.weDial(ip) ? delay : Math.max(delay, this.o.passiveWaitMs), why);
  }

  private schedule(t: Target, delayMs: number, why: string): void {
    if (!this.running) return;
    clearTimeout(t.timer);
    t.nextDialAt = Date.now() + delayMs;
    this.o.logger.debug({ peer_ip: t.endpoint.ip, delay_ms: delayMs, why, failures: t.backoff.failures }, "dial scheduled");
    t.timer = setTimeout(() => this.fire(t), delayMs);
  }

  private fire(t: Target): void {
    t.timer = undefined;
    const ip = t.endpoint.ip;
    if (!this.running || this.o.isConnected(ip) || this.o.isDialing(ip)) return;
    if (this.o.isSelf(ip)) {
      this.o.logger.info({ peer_ip: ip }, "target is this node itself; never dialling it again");
      return;
    }
    this.o.logger.info({ peer_ip: ip, endpoint: formatEndpoint(t.endpoint), attempt: t.backoff.failures + 1 }, "dialling peer");
    this.o.dial(t.endpoint);
  }
}
