import { create } from "@bufbuild/protobuf";
import {
  AdmissionPolicySchema,
  Direction,
  DisconnectReason,
  DisconnectReasonSchema,
  enumLabel,
  OffenceKindSchema,
  SeveritySchema,
  PeerAddressSchema,
  PeerConnectedSchema,
  PeerDirection,
  PeerSchema,
  PeerSource,
  PeerState,
  type AdmissionPolicy,
  type Connection,
  type DialFailed,
  type Offence,
  type Peer,
  type PeerAddress,
  type PeerConnected,
  type PeerDisconnected,
} from "@timenet/proto";
import { compareIp, isPublicIp, type PeerEndpoint, type PeerIp } from "@timenet/net-address";
import type { Logger } from "@timenet/telemetry";
import { backoffDelayMs } from "./backoff.js";
import type { BookCounts, RegistryMetrics } from "./metrics.js";
import type { ResolvedRegistryOptions } from "./options.js";
import type { PeerStore } from "./peer-store.js";
import { banDurationMs, decayedScore, gradeOf, penaltyFor } from "./scoring.js";

export interface PeerBookOptions {
  options: ResolvedRegistryOptions;
  store: PeerStore;
  metrics: RegistryMetrics;
  logger: Logger;
  /** Called when bans or the allow-list change: the admission policy must go out. */
  onPolicyChange(): void;
  random?: () => number;
}

export interface DialOrder {
  ip: PeerIp;
  port: number;
  why: "persistent" | "fill";
}

/** Where a dial failure's label comes from: a bounded set, whatever a publisher sends. */
const SOCKET_ERROR = /^[a-z_]{1,24}$/;

/** Closes that say nothing against the peer: they do not count as failures. */
const BLAMELESS = new Set([DisconnectReason.SHUTDOWN, DisconnectReason.OPERATOR, DisconnectReason.BANNED, DisconnectReason.DUPLICATE]);

/**
 * The one peer book of a node, keyed by normalised IP: every fact about a
 * peer lands here (connections, failures, offences, peer exchange), is
 * written through to LMDB, and every decision (dial, ban, share) is read
 * from here. An IP is never in the book twice.
 */
export class PeerBook {
  private readonly peers = new Map<PeerIp, Peer>();
  /** Dials sent to the gateway and not yet resolved: IP -> give-up time. */
  private readonly pendingDials = new Map<PeerIp, number>();
  /** When each current connection's "connected" event arrived (for reconciliation). */
  private readonly connectedEventAt = new Map<PeerIp, number>();
  /** The connection id of each IP's last disconnect (a stale snapshot must not revive it). */
  private readonly lastClosedConnId = new Map<PeerIp, number>();
  /** Connection ids stored as current before a restart: reconciliation may find them alive. */
  private readonly restoredConnId = new Map<PeerIp, number>();
  private policyVersion = BigInt(Date.now()) * 1000n;
  private readonly o: ResolvedRegistryOptions;
  private readonly random: () => number;

  constructor(private readonly b: PeerBookOptions) {
    this.o = b.options;
    this.random = b.random ?? Math.random;
  }

  /** Loads the stored book, then applies the configuration (bootstrap peers, allow-list). */
  load(now = Date.now()): void {
    for (const p of this.b.store.load((ip, err) => this.b.logger.error({ peer_ip: ip, err: err.message }, "undecodable peer record skipped"))) {
      // Connections are the gateway's to report: until reconciliation says
      // otherwise, nothing is connected.
      if (p.connId !== 0) {
        this.restoredConnId.set(p.ip as PeerIp, p.connId);
        p.connId = 0;
        p.connectedSinceMs = 0n;
      }
      this.refreshState(p, now);
      this.peers.set(p.ip as PeerIp, p);
    }
    const bootstrap = new Map(this.o.bootstrapPeers.map((e) => [e.ip, e]));
    const allow = new Set(this.o.allowList);
    for (const p of this.peers.values()) {
      const ip = p.ip as PeerIp;
      if (p.source === PeerSource.CONFIG && !bootstrap.has(ip)) p.persistent = false;
      p.allowListed = allow.has(ip);
    }
    for (const e of bootstrap.values()) {
      const p = this.getOrCreate(e.ip, PeerSource.CONFIG, now);
      p.port = e.port;
      p.persistent = true;
    }
    for (const ip of allow) {
      const p = this.getOrCreate(ip, PeerSource.CONFIG, now);
      p.allowListed = true;
      // The allow-list overrides automatic bans; an operator's ban stands.
      if (p.banUntilMs > 0n && !p.banReason.startsWith("operator")) this.liftBan(p, "allow_listed", now);
    }
    for (const p of this.peers.values()) this.save(p, now);
    this.b.logger.info({ peers: this.peers.size, bootstrap: bootstrap.size, allow_listed: allow.size }, "peer book loaded");
  }

  get(ip: PeerIp): Peer | undefined {
    return this.peers.get(ip);
  }

  list(state: PeerState = PeerState.UNSPECIFIED): Peer[] {
    return [...this.peers.values()].filter((p) => state === PeerState.UNSPECIFIED || p.state === state).sort((x, y) => compareIp(x.ip, y.ip));
  }

  counts(): BookCounts {
    const c = { connected: 0, disconnected: 0, banned: 0, size: this.peers.size };
    for (const p of this.peers.values()) {
      if (p.state === PeerState.CONNECTED) c.connected++;
      else if (p.state === PeerState.BANNED) c.banned++;
      else c.disconnected++;
    }
    return c;
  }

  directions(): { inbound: number; outbound: number } {
    let inbound = 0;
    let outbound = 0;
    for (const p of this.peers.values()) {
      if (p.connId === 0) continue;
      if (p.direction === PeerDirection.OUTBOUND) outbound++;
      else inbound++;
    }
    return { inbound, outbound };
  }

  get dialsPending(): number {
    return this.pendingDials.size;
  }

  // --- facts from the gateway -------------------------------------------

  onConnected(ev: PeerConnected, now = Date.now(), isNewConnection = true): void {
    const ip = ev.ip as PeerIp;
    const p = this.getOrCreate(ip, ev.direction === Direction.INBOUND ? PeerSource.INBOUND : PeerSource.UNSPECIFIED, now, true);
    if (ev.port > 0) p.port = ev.port;
    const h = ev.hello;
    if (h) {
      p.nodeId = Buffer.from(h.nodeId).toString("hex");
      p.softwareVersion = h.softwareVersion;
      p.network = h.network;
      p.bestHeight = h.bestHeight;
      p.bestHash = h.bestHash;
    }
    p.direction = ev.direction === Direction.OUTBOUND ? PeerDirection.OUTBOUND : PeerDirection.INBOUND;
    p.connectedSinceMs = ev.connectedAtMs || BigInt(now);
    if (isNewConnection) p.totalConnections++;
    p.connId = ev.connId;
    this.pendingDials.delete(ip);
    this.connectedEventAt.set(ip, now);
    this.save(p, now);
  }

  onDisconnected(ev: PeerDisconnected, now = Date.now()): void {
    const ip = ev.ip as PeerIp;
    this.lastClosedConnId.set(ip, ev.connId);
    const p = this.peers.get(ip);
    // A close of a connection we no longer track (replaced) changes nothing.
    if (!p || p.connId !== ev.connId) return;
    this.markDisconnected(p, ev.reason, Number(ev.livedMs), now);
  }

  onDialFailed(ev: DialFailed, now = Date.now()): void {
    const ip = ev.ip as PeerIp;
    this.pendingDials.delete(ip);
    const p = this.peers.get(ip);
    if (!p) return;
    if (ev.reason === DisconnectReason.SELF_CONNECTION) {
      if (!p.isSelf) this.b.logger.info({ peer_ip: ip }, "address is this node itself; never dialling it again");
      p.isSelf = true;
      p.persistent = false;
      this.save(p, now);
      return;
    }
    if (p.connId !== 0) return; // connected the other way meanwhile
    const reason = ev.socketError !== "" ? (SOCKET_ERROR.test(ev.socketError) ? ev.socketError : "other") : enumLabel(DisconnectReasonSchema, ev.reason);
    this.recordFailure(p, reason, now);
  }

  /** The gateway was asked to dial. */
  markDialSent(ip: PeerIp, now = Date.now()): void {
    this.pendingDials.set(ip, now + this.o.dialGiveUpMs);
  }

  // --- judgement ----------------------------------------------------------

  /** Grades an offence; returns true if it led to a ban. */
  onOffence(off: Offence, now = Date.now()): boolean {
    const ip = off.ip as PeerIp;
    const kind = enumLabel(OffenceKindSchema, off.kind);
    const grade = gradeOf(off.kind);
    const severity = enumLabel(SeveritySchema, grade);
    this.b.metrics.offences.inc({ kind, severity });
    const p = this.getOrCreate(ip, PeerSource.INBOUND, now, true);
    const penalty = penaltyFor(grade, this.o.score);
    let score = decayedScore(p.score, Number(p.scoreAtMs), now, this.o.score.halfLifeMs);
    score = penalty === "ban" ? Math.min(score, this.o.score.banThreshold) : score - penalty;
    p.score = score;
    p.scoreAtMs = BigInt(now);
    const shouldBan = score <= this.o.score.banThreshold;
    this.b.logger.warn({ peer_ip: ip, kind, severity, score: Math.round(score), detail: off.detail }, "offence");
    let banned = false;
    if (shouldBan && p.allowListed) {
      this.b.logger.warn({ peer_ip: ip, kind, score: Math.round(score) }, "allow-listed peer is never banned automatically");
    } else if (shouldBan && !this.isBanned(p, now)) {
      this.imposeBan(p, banDurationMs(p.banCount, this.o.score), kind, now);
      banned = true;
    }
    this.save(p, now);
    return banned;
  }

  /** An operator's ban (allow-listed peers included). */
  ban(ip: PeerIp, durationMs: number, reason: string, now = Date.now()): Peer {
    const p = this.getOrCreate(ip, PeerSource.OPERATOR, now, true);
    this.imposeBan(p, durationMs > 0 ? durationMs : banDurationMs(p.banCount, this.o.score), `operator${reason ? `: ${reason}` : ""}`, now);
    this.save(p, now);
    return p;
  }

  unban(ip: PeerIp, now = Date.now()): Peer | undefined {
    const p = this.peers.get(ip);
    if (!p) return undefined;
    if (p.banUntilMs > 0n) this.liftBan(p, "operator", now);
    this.save(p, now);
    return p;
  }

  /** addnode: a persistent peer, dialled now. */
  addPersistent(e: PeerEndpoint, now = Date.now()): Peer {
    const p = this.getOrCreate(e.ip, PeerSource.OPERATOR, now, true);
    p.port = e.port;
    p.persistent = true;
    p.isSelf = false;
    p.nextDialMs = BigInt(now);
    this.save(p, now);
    this.b.logger.info({ peer_ip: e.ip, port: e.port }, "peer added by operator");
    return p;
  }

  /** A candidate from peer exchange. */
  addCandidate(ip: PeerIp, port: number, fromPublic: boolean, now = Date.now()): "accepted" | "known" | "private" | "self" | "book_full" | "invalid" {
    if (port === 0 || port > 65535) return "invalid";
    if (ip === this.o.publicIp) return "self";
    if (this.peers.has(ip)) return "known";
    if (fromPublic && !isPublicIp(ip)) return "private";
    if (this.peers.size >= this.o.maxBookSize && !this.evictWorst(now)) return "book_full";
    const p = this.getOrCreate(ip, PeerSource.PEER_EXCHANGE, now);
    p.port = port;
    this.save(p, now);
    return "accepted";
  }

  /** Up to `max` good peers to tell `forIp` about. */
  sharePeers(forIp: PeerIp, max: number, now = Date.now()): PeerAddress[] {
    const toPublic = isPublicIp(forIp);
    return [...this.peers.values()]
      .filter(
        (p) =>
          p.ip !== forIp &&
          !p.isSelf &&
          p.port !== 0 &&
          p.totalConnections > 0 &&
          !this.isBanned(p, now) &&
          (p.connId !== 0 || now - Number(p.lastSeenMs) <= this.o.peerExchangeMaxAgeMs) &&
          (!toPublic || isPublicIp(p.ip)),
      )
      .sort((x, y) => Number(y.connId !== 0) - Number(x.connId !== 0) || Number(y.lastSeenMs - x.lastSeenMs))
      .slice(0, max)
      .map((p) => create(PeerAddressSchema, { ip: p.ip, port: p.port, lastSeenMs: p.connId !== 0 ? BigInt(now) : p.lastSeenMs }));
  }

  /** Expires bans and unanswered dials, and resets failures of connections that proved stable. */
  tick(now = Date.now()): void {
    for (const p of this.peers.values()) {
      if (p.banUntilMs > 0n && Number(p.banUntilMs) <= now) {
        this.liftBan(p, "expired", now);
        this.save(p, now);
      }
      if (p.connId !== 0 && p.consecutiveDialFailures > 0 && now - Number(p.connectedSinceMs) >= this.o.stableAfterMs) {
        p.consecutiveDialFailures = 0;
        this.save(p, now);
      }
    }
    for (const [ip, until] of this.pendingDials) {
      if (until > now) continue;
      this.pendingDials.delete(ip);
      const p = this.peers.get(ip);
      if (p && p.connId === 0) this.recordFailure(p, "no_answer", now);
    }
  }

  /** Whom to dial now: persistent peers that are due, then the best candidates up to the outbound target. */
  dueDials(now = Date.now()): DialOrder[] {
    let outbound = this.directions().outbound + this.pendingDials.size;
    const orders: DialOrder[] = [];
    const candidates: Peer[] = [];
    for (const p of this.peers.values()) {
      const ip = p.ip as PeerIp;
      if (p.connId !== 0 || p.isSelf || p.port === 0 || this.pendingDials.has(ip) || this.isBanned(p, now)) continue;
      if (Number(p.nextDialMs) > now || ip === this.o.publicIp) continue;
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

  /** The admission policy the gateway enforces. */
  policy(now = Date.now()): AdmissionPolicy {
    return create(AdmissionPolicySchema, {
      bans: [...this.peers.values()].filter((p) => this.isBanned(p, now)).map((p) => ({ ip: p.ip, untilMs: p.banUntilMs, reason: p.banReason })),
      allowList: [...this.peers.values()].filter((p) => p.allowListed).map((p) => p.ip),
      maxInbound: this.o.maxInbound,
      maxPerSubnet: this.o.maxPerSubnet,
      subnetPrefixV4: this.o.subnetPrefixV4,
      subnetPrefixV6: this.o.subnetPrefixV6,
      version: this.policyVersion,
      issuedAtMs: BigInt(now),
    });
  }

  /**
   * Corrects the book from the gateway's list of connections, taken after
   * `requestedAt`. Events that raced the snapshot win: a connection whose
   * "connected" arrived after the request, or whose "disconnected" already
   * arrived, is left as the events say. Returns how many entries changed.
   */
  reconcile(connections: Connection[], requestedAt: number, now = Date.now()): number {
    const snapshot = new Map(connections.map((c) => [c.ip as PeerIp, c]));
    let corrected = 0;
    for (const p of this.peers.values()) {
      if (p.connId === 0) continue;
      const ip = p.ip as PeerIp;
      const s = snapshot.get(ip);
      if ((this.connectedEventAt.get(ip) ?? 0) >= requestedAt) continue;
      if (!s) {
        this.b.logger.warn({ peer_ip: ip, conn_id: p.connId }, "reconciliation: the gateway has no such connection; marking disconnected");
        this.markDisconnected(p, DisconnectReason.UNSPECIFIED, 0, now);
        corrected++;
      } else if (s.connId !== p.connId) {
        p.connId = s.connId;
        p.direction = s.direction === Direction.OUTBOUND ? PeerDirection.OUTBOUND : PeerDirection.INBOUND;
        p.connectedSinceMs = s.connectedSinceMs;
        this.save(p, now);
        corrected++;
      }
    }
    for (const s of connections) {
      const ip = s.ip as PeerIp;
      const p = this.peers.get(ip);
      if ((p && p.connId !== 0) || this.lastClosedConnId.get(ip) === s.connId) continue;
      this.b.logger.warn({ peer_ip: ip, conn_id: s.connId }, "reconciliation: connection the book missed; marking connected");
      // The connection we had before a restart is not a new one.
      const known = this.restoredConnId.get(ip) === s.connId;
      this.onConnected(create(PeerConnectedSchema, { ip, port: s.port, direction: s.direction, connId: s.connId, connectedAtMs: s.connectedSinceMs }), now, !known);
      const q = this.peers.get(ip)!;
      q.nodeId = s.nodeId;
      q.softwareVersion = s.softwareVersion;
      q.bestHeight = s.bestHeight;
      this.connectedEventAt.set(ip, 0);
      this.save(q, now);
      corrected++;
    }
    return corrected;
  }

  /** A peer's announced best block (NewBlock). */
  onAnnouncement(ip: PeerIp, height: number, hash: Uint8Array, now = Date.now()): void {
    const p = this.peers.get(ip);
    if (!p || height <= p.bestHeight) return;
    p.bestHeight = height;
    p.bestHash = hash;
    this.save(p, now);
  }

  // --- internals ------------------------------------------------------------

  private isBanned(p: Peer, now: number): boolean {
    return p.banUntilMs > 0n && Number(p.banUntilMs) > now;
  }

  /** Whether we dial this IP without waiting: the higher IP of a pair dials. */
  private weDial(ip: string): boolean {
    return this.o.publicIp === undefined || compareIp(this.o.publicIp, ip) > 0;
  }

  private scheduleRedial(p: Peer, delayMs: number, now: number): void {
    const wait = this.weDial(p.ip) ? delayMs : Math.max(delayMs, this.o.passiveWaitMs);
    p.nextDialMs = BigInt(now + wait);
  }

  private markDisconnected(p: Peer, reason: DisconnectReason, livedMs: number, now: number): void {
    const ip = p.ip as PeerIp;
    p.connId = 0;
    p.connectedSinceMs = 0n;
    p.lastDisconnectReason = reason;
    p.lastSeenMs = BigInt(now);
    this.connectedEventAt.delete(ip);
    if (livedMs >= this.o.stableAfterMs) p.consecutiveDialFailures = 0;
    else if (!BLAMELESS.has(reason)) p.consecutiveDialFailures++;
    this.scheduleRedial(p, backoffDelayMs(Math.max(1, p.consecutiveDialFailures), this.o.backoffMinMs, this.o.backoffMaxMs, this.random), now);
    this.save(p, now);
  }

  private recordFailure(p: Peer, reason: string, now: number): void {
    const ip = p.ip as PeerIp;
    p.consecutiveDialFailures++;
    this.b.metrics.dialFailures.inc({ reason });
    if (!p.persistent && !p.allowListed && p.source !== PeerSource.CONFIG && p.consecutiveDialFailures >= this.o.forgetAfterFailures && !this.isBanned(p, now)) {
      this.b.logger.info({ peer_ip: ip, failures: p.consecutiveDialFailures, reason }, "giving up on peer: forgotten after repeated dial failures");
      this.b.metrics.forgotten.inc({ reason: "given_up" });
      this.remove(ip);
      return;
    }
    this.scheduleRedial(p, backoffDelayMs(p.consecutiveDialFailures, this.o.backoffMinMs, this.o.backoffMaxMs, this.random), now);
    this.b.logger.info({ peer_ip: ip, reason, failures: p.consecutiveDialFailures, retry_in_ms: Number(p.nextDialMs) - now }, "dial failed; retry scheduled");
    this.save(p, now);
  }

  private imposeBan(p: Peer, durationMs: number, reason: string, now: number): void {
    p.banUntilMs = BigInt(now + durationMs);
    p.banReason = reason;
    p.banCount++;
    this.pendingDials.delete(p.ip as PeerIp);
    const label = reason.startsWith("operator") ? "operator" : reason;
    this.b.metrics.bans.inc({ reason: label });
    this.b.logger.warn({ peer_ip: p.ip, reason: label, detail: reason, duration_ms: durationMs, bans: p.banCount }, "peer banned");
    this.bumpPolicy();
  }

  private liftBan(p: Peer, why: "expired" | "operator" | "allow_listed", now: number): void {
    p.banUntilMs = 0n;
    p.banReason = "";
    p.score = 0;
    p.scoreAtMs = BigInt(now);
    p.nextDialMs = BigInt(now);
    this.b.metrics.unbans.inc({ reason: why });
    this.b.logger.info({ peer_ip: p.ip, reason: why }, "ban lifted");
    this.bumpPolicy();
  }

  private bumpPolicy(): void {
    this.policyVersion++;
    this.b.onPolicyChange();
  }

  private getOrCreate(ip: PeerIp, source: PeerSource, now: number, evenIfFull = false): Peer {
    let p = this.peers.get(ip);
    if (p) return p;
    // Facts about real connections and offences are kept even when the book
    // is full of things nobody can evict; learned candidates are not.
    if (this.peers.size >= this.o.maxBookSize) this.evictWorst(now);
    if (!evenIfFull && this.peers.size >= this.o.maxBookSize) this.b.logger.warn({ peer_ip: ip }, "peer book over its size limit");
    p = create(PeerSchema, {
      ip,
      source,
      firstSeenMs: BigInt(now),
      state: PeerState.DISCONNECTED,
      scoreAtMs: BigInt(now),
      nextDialMs: BigInt(this.weDial(ip) ? now : now + this.o.passiveWaitMs),
    });
    this.peers.set(ip, p);
    return p;
  }

  /** Drops the least valuable entry that nothing depends on; false if there is none. */
  private evictWorst(now: number): boolean {
    let worst: Peer | undefined;
    for (const p of this.peers.values()) {
      if (p.connId !== 0 || p.persistent || p.allowListed || p.source === PeerSource.CONFIG || this.isBanned(p, now) || this.pendingDials.has(p.ip as PeerIp)) continue;
      if (!worst || p.score < worst.score || (p.score === worst.score && (p.consecutiveDialFailures > worst.consecutiveDialFailures || (p.consecutiveDialFailures === worst.consecutiveDialFailures && p.lastSeenMs < worst.lastSeenMs)))) {
        worst = p;
      }
    }
    if (!worst) return false;
    this.b.metrics.forgotten.inc({ reason: "evicted" });
    this.b.logger.debug({ peer_ip: worst.ip }, "evicted from a full peer book");
    this.remove(worst.ip as PeerIp);
    return true;
  }

  private remove(ip: PeerIp): void {
    this.peers.delete(ip);
    this.pendingDials.delete(ip);
    this.b.store.remove(ip);
  }

  private refreshState(p: Peer, now: number): void {
    p.state = p.connId !== 0 ? PeerState.CONNECTED : this.isBanned(p, now) ? PeerState.BANNED : PeerState.DISCONNECTED;
  }

  private save(p: Peer, now: number): void {
    if (p.connId !== 0) p.lastSeenMs = BigInt(now);
    this.refreshState(p, now);
    this.b.store.put(p);
  }
}
