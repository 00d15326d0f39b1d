import { DisconnectReason, DisconnectReasonSchema, enumLabel, PeerSource, type DialFailed, type Peer } from "@timenet/proto";
import { compareIp, type PeerEndpoint, type PeerIp } from "@timenet/net-address";
import type { Logger } from "@timenet/telemetry";
import { backoffDelayMs } from "./backoff.js";
import type { RegistryMetrics } from "./metrics.js";
import { holdsJudgement, isBanned, isUnverified, type PeerRecords } from "./peer-records.js";

export interface DialOrder {
  ip: PeerIp;
  port: number;
  why: "persistent" | "fill";
}

export interface DialPlannerOptions {
  records: PeerRecords;
  metrics: RegistryMetrics;
  logger: Logger;
  /** This host's public IP: the higher IP of a pair dials. Undefined: always dial. */
  publicIp: PeerIp | undefined;
  targetOutbound: number;
  maxDialsPerTick: number;
  passiveWaitMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  stableAfterMs: number;
  dialGiveUpMs: number;
  forgetAfterFailures: number;
  /** Failed dials after which an unverified address (see isUnverified) is dropped; at most forgetAfterFailures. */
  unverifiedMaxFailures: number;
  random?: () => number;
}

/** Where a dial failure's label comes from: a bounded set, whatever a publisher sends. */
const SOCKET_ERROR = /^[a-z_]{1,24}$/;

/**
 * Ends that say nothing against the peer: they do not count as failures. Our
 * own restart, a ban, an operator's close, a lost duplicate, the peer's
 * announced shutdown.
 */
const BLAMELESS = new Set([DisconnectReason.SHUTDOWN, DisconnectReason.OPERATOR, DisconnectReason.BANNED, DisconnectReason.DUPLICATE, DisconnectReason.LOCAL_RESTART, DisconnectReason.EVICTED]);

/**
 * Whom to dial, and when: persistent peers (configuration, addnode) always,
 * learned ones up to the outbound target, best first. Owns each record's
 * `nextDialMs`, `consecutiveDialFailures`, `persistent` and `isSelf`, and the
 * dials sent to the gateway and not yet resolved. The higher IP of a pair
 * dials at once; the lower waits PASSIVE_WAIT first. Failures back off
 * exponentially with jitter; the count resets only once a connection has
 * lived STABLE_AFTER (resetting at connect would let a flapping peer cycle).
 *
 * A node held under one IP is not dialled under another (a multi-homed
 * host, or an address relayed with our source IP kept: it sees us under one
 * IP, so one of the two sockets loses a duplicate race, and redialling it
 * would win the next race and close the other, for ever). That address is
 * dialled again once the node is no longer connected.
 *
 * A failure belongs to the address dialled: one reported for a port the
 * record no longer holds says nothing about the peer. An unverified address
 * (a third party's claim) that keeps failing is dropped quietly; nothing of
 * it is ever held against the IP.
 */
export class DialPlanner {
  /** Dials sent to the gateway and not yet resolved: IP -> give-up time. Only IPs in the book. */
  private readonly pending = new Map<PeerIp, number>();
  private readonly random: () => number;
  /** IPs whose due redial is held back now (their node is connected under another IP): counted once per hold. Only IPs in the book. */
  private readonly heldBack = new Set<PeerIp>();

  constructor(private readonly o: DialPlannerOptions) {
    this.random = o.random ?? Math.random;
    o.records.events.on("removed", (ip) => {
      this.pending.delete(ip);
      this.heldBack.delete(ip);
    });
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  isPending(ip: PeerIp): boolean {
    return this.pending.has(ip);
  }

  /** When a newly learned IP may first be dialled. */
  firstDialAt(ip: string, now: number): number {
    return this.weDial(ip) ? now : now + this.o.passiveWaitMs;
  }

  /** The bootstrap peers of this run's configuration are persistent; earlier ones no longer are. */
  applyBootstrap(bootstrap: PeerEndpoint[], now: number): void {
    const wanted = new Map(bootstrap.map((e) => [e.ip, e]));
    for (const p of this.o.records.all()) {
      if (p.source === PeerSource.CONFIG && !wanted.has(p.ip as PeerIp) && p.persistent) {
        p.persistent = false;
        this.o.records.save(p, now);
      }
    }
    for (const e of wanted.values()) {
      const p = this.o.records.getOrCreate(e.ip, PeerSource.CONFIG, now, { nextDialMs: this.firstDialAt(e.ip, now), evenIfFull: true })!;
      p.port = e.port;
      p.persistent = true;
      this.o.records.save(p, now);
    }
  }

  /** addnode: a persistent peer, dialled now. */
  addPersistent(e: PeerEndpoint, now: number): Peer {
    const p = this.o.records.getOrCreate(e.ip, PeerSource.OPERATOR, now, { nextDialMs: now, evenIfFull: true })!;
    p.port = e.port;
    p.persistent = true;
    p.isSelf = false;
    p.nextDialMs = BigInt(now);
    this.o.records.save(p, now);
    this.o.logger.info({ peer_ip: e.ip, port: e.port }, "peer added by operator");
    return p;
  }

  /** Whom to dial now: persistent peers that are due, then the best candidates up to the outbound target. */
  due(now: number): DialOrder[] {
    let outbound = this.o.records.directions().outbound + this.pending.size;
    const orders: DialOrder[] = [];
    const candidates: Peer[] = [];
    const held = this.connectedNodes();
    for (const p of this.o.records.all()) {
      const ip = p.ip as PeerIp;
      if (p.connId !== 0 || p.isSelf || p.port === 0 || this.pending.has(ip) || isBanned(p, now)) continue;
      if (Number(p.nextDialMs) > now || ip === this.o.publicIp) continue;
      const heldAs = p.nodeId === "" ? undefined : held.get(p.nodeId);
      if (heldAs !== undefined) {
        this.noteHeldBack(p, heldAs);
        continue;
      }
      this.heldBack.delete(ip);
      if (p.persistent) orders.push({ ip, port: p.port, why: "persistent" });
      else candidates.push(p);
    }
    outbound += orders.length;
    candidates.sort((x, y) => y.score - x.score || x.consecutiveDialFailures - y.consecutiveDialFailures || Number(y.lastSeenMs - x.lastSeenMs));
    for (const p of candidates) {
      if (outbound >= this.o.targetOutbound) break;
      orders.push({ ip: p.ip as PeerIp, port: p.port, why: "fill" });
      outbound++;
    }
    return orders.slice(0, this.o.maxDialsPerTick);
  }

  /** The gateway was asked to dial `ip`. */
  markSent(ip: PeerIp, now: number): void {
    this.pending.set(ip, now + this.o.dialGiveUpMs);
  }

  /** A connection to the IP exists: its dial (if any) is resolved. */
  onConnected(ip: PeerIp): void {
    this.pending.delete(ip);
    this.heldBack.delete(ip);
  }

  /** A connection ended: a failure unless it lived long enough or the end is blameless; the redial is scheduled. */
  onDisconnected(p: Peer, reason: DisconnectReason, livedMs: number, now: number): void {
    if (livedMs >= this.o.stableAfterMs) p.consecutiveDialFailures = 0;
    else if (!BLAMELESS.has(reason)) p.consecutiveDialFailures++;
    // After our own restart the peer is as good as before: redial now. Any
    // other end waits at least the first backoff step (a peer that said
    // SHUTDOWN is restarting and would refuse us).
    const delay = reason === DisconnectReason.LOCAL_RESTART ? 0 : this.backoff(Math.max(1, p.consecutiveDialFailures));
    this.scheduleRedial(p, delay, now);
    this.o.records.save(p, now);
  }

  /**
   * A due redial held back because its node is connected under another IP:
   * counted and logged once per hold, when it is due rather than when the
   * connection ended, because the two sockets' events may reach us in either
   * order (the loser's end before the winner's start).
   */
  private noteHeldBack(p: Peer, connectedAs: string): void {
    const ip = p.ip as PeerIp;
    if (this.heldBack.has(ip)) return;
    this.heldBack.add(ip);
    this.o.metrics.redialsDeferred.inc({ reason: "same_node_connected" });
    this.o.logger.info({ peer_ip: ip, connected_as: connectedAs, node_id: p.nodeId.slice(0, 16) }, "this node is connected under another IP: not redialling this address while it is");
  }

  /** Node ids of the peers connected now, and the IP each is connected under. */
  private connectedNodes(): Map<string, string> {
    const held = new Map<string, string>();
    for (const p of this.o.records.all()) if (p.connId !== 0 && p.nodeId !== "") held.set(p.nodeId, p.ip);
    return held;
  }

  /** The IP was banned: a dial sent to it is moot. */
  onBanned(ip: PeerIp): void {
    this.pending.delete(ip);
  }

  /** Our gateway restarted: dials sent to the old one will never be answered, and that is nobody's fault. */
  onGatewayRestarted(now: number): void {
    for (const ip of this.pending.keys()) {
      const p = this.o.records.get(ip);
      if (p && p.connId === 0) this.scheduleRedial(p, 0, now);
    }
    this.pending.clear();
  }

  onDialFailed(ev: DialFailed, now: number): void {
    const ip = ev.ip as PeerIp;
    this.pending.delete(ip);
    const p = this.o.records.get(ip);
    if (!p) return;
    if (ev.port !== 0 && ev.port !== p.port) {
      // The peer's own Hello corrected the port while this dial was out.
      this.o.metrics.dialFailures.inc({ reason: "stale_address" });
      this.o.logger.info({ peer_ip: ip, port: ev.port, record_port: p.port }, "dial to a port the record no longer holds failed; not counted against the peer");
      return;
    }
    if (ev.reason === DisconnectReason.SELF_CONNECTION) {
      if (!p.isSelf) this.o.logger.info({ peer_ip: ip }, "address is this node itself; never dialling it again");
      p.isSelf = true;
      p.persistent = false;
      this.o.records.save(p, now);
      return;
    }
    if (p.connId !== 0) return; // connected the other way meanwhile
    const reason = ev.socketError !== "" ? (SOCKET_ERROR.test(ev.socketError) ? ev.socketError : "other") : enumLabel(DisconnectReasonSchema, ev.reason);
    this.recordFailure(p, reason, now);
  }

  /**
   * Gives up on dials the gateway never reported (it always reports a failed
   * dial, so silence means our gateway was away: not counted against the
   * peer) and resets the failures of connections that proved stable.
   */
  tick(now: number): void {
    for (const p of this.o.records.all()) {
      if (p.connId !== 0 && p.consecutiveDialFailures > 0 && now - Number(p.connectedSinceMs) >= this.o.stableAfterMs) {
        p.consecutiveDialFailures = 0;
        this.o.records.save(p, now);
      }
    }
    for (const [ip, until] of this.pending) {
      if (until > now) continue;
      this.pending.delete(ip);
      const p = this.o.records.get(ip);
      if (!p || p.connId !== 0) continue;
      this.o.metrics.dialFailures.inc({ reason: "no_answer" });
      this.scheduleRedial(p, this.backoff(Math.max(1, p.consecutiveDialFailures)), now);
      this.o.logger.warn({ peer_ip: ip, retry_in_ms: Number(p.nextDialMs) - now }, "the gateway never reported this dial; retrying, not counted against the peer");
      this.o.records.save(p, now);
    }
  }

  private recordFailure(p: Peer, reason: string, now: number): void {
    const ip = p.ip as PeerIp;
    p.consecutiveDialFailures++;
    this.o.metrics.dialFailures.inc({ reason });
    if (isUnverified(p) && p.consecutiveDialFailures >= Math.min(this.o.unverifiedMaxFailures, this.o.forgetAfterFailures)) {
      this.o.logger.info({ peer_ip: ip, port: p.port, failures: p.consecutiveDialFailures, reason }, "dropping an address learned from peer exchange: it never answered as a peer (nothing held against the IP)");
      this.o.records.remove(ip, "unverified");
      return;
    }
    if (!p.persistent && !p.allowListed && p.source !== PeerSource.CONFIG && p.consecutiveDialFailures >= this.o.forgetAfterFailures && !isBanned(p, now)) {
      if (holdsJudgement(p)) return this.dropAddress(p, reason, now);
      this.o.logger.info({ peer_ip: ip, failures: p.consecutiveDialFailures, reason }, "giving up on peer: forgotten after repeated dial failures");
      this.o.records.remove(ip, "given_up");
      return;
    }
    this.scheduleRedial(p, this.backoff(p.consecutiveDialFailures), now);
    this.o.logger.info({ peer_ip: ip, reason, failures: p.consecutiveDialFailures, retry_in_ms: Number(p.nextDialMs) - now }, "dial failed; retry scheduled");
    this.o.records.save(p, now);
  }

  /**
   * Gives up dialling a judged IP without forgetting its judgement: forgotten,
   * an offender would come back with a clean score and ban count. Its port
   * is cleared (never dialled, never shared); its own Hello sets it again.
   */
  private dropAddress(p: Peer, reason: string, now: number): void {
    this.o.metrics.forgotten.inc({ reason: "given_up_judged" });
    this.o.logger.info({ peer_ip: p.ip, failures: p.consecutiveDialFailures, reason, score: Math.round(p.score), bans: p.banCount }, "giving up on dialling peer; its score and bans are kept");
    p.port = 0;
    p.consecutiveDialFailures = 0;
    this.o.records.save(p, now);
  }

  private backoff(failures: number): number {
    return backoffDelayMs(failures, this.o.backoffMinMs, this.o.backoffMaxMs, this.random);
  }

  /** Whether we dial this IP without waiting: the higher IP of a pair dials. */
  private weDial(ip: string): boolean {
    return this.o.publicIp === undefined || compareIp(this.o.publicIp, ip) > 0;
  }

  private scheduleRedial(p: Peer, delayMs: number, now: number): void {
    p.nextDialMs = BigInt(now + (this.weDial(p.ip) ? delayMs : Math.max(delayMs, this.o.passiveWaitMs)));
  }
}
