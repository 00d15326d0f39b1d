import { create } from "@bufbuild/protobuf";
import { PeerDirection, PeerSchema, PeerSource, PeerState, type Peer } from "@timenet/proto";
import { compareIp, type PeerIp } from "@timenet/net-address";
import { TypedEvents, type ListenerErrorHandler } from "@timenet/events";
import type { Logger } from "@timenet/telemetry";
import type { BookCounts, RegistryMetrics } from "./metrics.js";
import { clipPeerFields } from "./peer-strings.js";
import type { PeerStore } from "./peer-store.js";

export type RemovedWhy = "given_up" | "unverified" | "evicted";

export type PeerRecordEvents = {
  /** An IP left the book: every unit forgets what it kept about it. */
  removed: (ip: PeerIp, why: RemovedWhy) => void;
};

export interface PeerRecordsOptions {
  store: PeerStore;
  maxBookSize: number;
  metrics: RegistryMetrics;
  logger: Logger;
  /** Where a throwing listener of this unit\'s events is reported (counted and logged). */
  onListenerError: ListenerErrorHandler;
  /**
   * Whether an entry must stay whatever the bound (configured, connected,
   * banned, being dialled…): each unit that pins entries answers for its own.
   */
  pinned: (p: Peer, now: number) => boolean;
}

/** A ban in force at `now`. */
export function isBanned(p: Peer, now: number): boolean {
  return p.banUntilMs > 0n && Number(p.banUntilMs) > now;
}

/**
 * Whether the record rests on a third party's claim only: learned from peer
 * exchange, no handshake with that IP ever completed, and no operator vouched
 * for it (configuration, addnode, allow-list). Nothing that happens to such
 * an address (its dials failing) is held against the IP.
 */
export function isUnverified(p: Peer): boolean {
  return p.source === PeerSource.PEER_EXCHANGE && p.totalConnections === 0 && !p.persistent && !p.allowListed;
}

/** Whether the record holds a judgement of the IP (a penalty not yet lifted, or past bans) that must outlive its connections. */
export function holdsJudgement(p: Peer): boolean {
  return p.score < 0 || p.banCount > 0;
}

/**
 * The peer book's records and their storage: one `Peer` per normalised IP
 * (never two for one machine), written through to LMDB on every change (a
 * peer's claimed best block, which changes with every block, is written
 * later: raiseClaim). It
 * decides nothing about peers; the dial planner, the judge, the gateway's
 * connection state and peer exchange each change the fields they own and
 * `save` them here. Bounded: beyond `maxBookSize` the least valuable entry that
 * nothing pins is evicted (bans pin entries, and the judge keeps at most
 * MAX_BANS of them).
 */
export class PeerRecords {
  readonly events: TypedEvents<PeerRecordEvents>;
  private readonly peers = new Map<PeerIp, Peer>();
  /** Records whose claim rose since they were last written (raiseClaim). */
  private readonly unsavedClaims = new Set<PeerIp>();
  private claimsSavedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: PeerRecordsOptions) {
    this.events = new TypedEvents<PeerRecordEvents>(o.onListenerError);
  }

  /** Loads the stored book. Connections are not trusted from disk: the caller reconciles them with the gateway's state. */
  load(now: number): Peer[] {
    const loaded = this.o.store.load((ip, err) => this.o.logger.error({ peer_ip: ip, err: err.message }, "undecodable peer record skipped"));
    for (const p of loaded) {
      this.clip(p); // a book written before the limits
      refreshState(p, now);
      this.peers.set(p.ip as PeerIp, p);
    }
    return loaded;
  }

  get(ip: PeerIp): Peer | undefined {
    return this.peers.get(ip);
  }

  has(ip: PeerIp): boolean {
    return this.peers.has(ip);
  }

  get size(): number {
    return this.peers.size;
  }

  all(): IterableIterator<Peer> {
    return this.peers.values();
  }

  /** The records in one state (all for UNSPECIFIED), in IP order. */
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

  /**
   * The record of `ip`, created if new. Facts about real connections and
   * offences (`evenIfFull`) are kept even when nothing can be evicted; a
   * learned candidate is not (undefined).
   */
  getOrCreate(ip: PeerIp, source: PeerSource, now: number, init: { nextDialMs: number; evenIfFull?: boolean }): Peer | undefined {
    const known = this.peers.get(ip);
    if (known) return known;
    if (this.peers.size >= this.o.maxBookSize && !this.evictOne(now)) {
      if (!init.evenIfFull) return undefined;
      this.o.logger.warn({ peer_ip: ip, size: this.peers.size }, "peer book over its size limit: every entry is pinned");
    }
    const p = create(PeerSchema, { ip, source, firstSeenMs: BigInt(now), state: PeerState.DISCONNECTED, scoreAtMs: BigInt(now), nextDialMs: BigInt(init.nextDialMs) });
    this.peers.set(ip, p);
    return p;
  }

  /** Writes a changed record through to LMDB (and derives its state); the one place records are written, so peer-supplied fields are clipped here. */
  save(p: Peer, now: number): void {
    if (p.connId !== 0) p.lastSeenMs = BigInt(now);
    this.clip(p);
    refreshState(p, now);
    this.unsavedClaims.delete(p.ip as PeerIp);
    this.o.store.put(p);
  }

  /**
   * The peer claims a higher best block (it announced one, or the gateway's
   * entry says it did): true if it is higher than the record's. Kept at once
   * (every reader sees it), written with the record's next save or by
   * saveClaims, not through: every peer's claim rises with every block, so a
   * write per announcement was most of the registry's work on a new block
   * (four LMDB transactions per block on a six-node devnet, in the burst of
   * work the block causes on every process). A claim lost to a crash is made
   * again by the peer's next announcement.
   */
  raiseClaim(p: Peer, height: number, hash: Uint8Array): boolean {
    if (height <= p.bestHeight) return false;
    p.bestHeight = height;
    p.bestHash = hash;
    if (this.peers.get(p.ip as PeerIp) === p) this.unsavedClaims.add(p.ip as PeerIp);
    return true;
  }

  /** Writes the records whose claim rose, if the last such write is `everyMs` old (0: now). */
  saveClaims(now: number, everyMs: number): void {
    if (this.unsavedClaims.size === 0 || now - this.claimsSavedAt < everyMs) return;
    this.claimsSavedAt = now;
    for (const ip of [...this.unsavedClaims]) {
      const p = this.peers.get(ip);
      if (p) this.save(p, now);
    }
    this.unsavedClaims.clear();
  }

  remove(ip: PeerIp, why: RemovedWhy): void {
    this.unsavedClaims.delete(ip);
    if (!this.peers.delete(ip)) return;
    this.o.store.remove(ip);
    this.o.metrics.forgotten.inc({ reason: why });
    this.events.emit("removed", ip, why);
  }

  private clip(p: Peer): void {
    const cut = clipPeerFields(p);
    if (cut.length === 0) return;
    for (const field of cut) this.o.metrics.clipped.inc({ field });
    this.o.logger.warn({ peer_ip: p.ip, fields: cut }, "peer-supplied fields over their limit were clipped before storing");
  }

  /** Drops the least valuable entry that nothing pins; false if there is none. */
  private evictOne(now: number): boolean {
    let worst: Peer | undefined;
    for (const p of this.peers.values()) {
      if (p.connId !== 0 || p.persistent || p.allowListed || p.source === PeerSource.CONFIG || isBanned(p, now) || this.o.pinned(p, now)) continue;
      if (!worst || worse(p, worst)) worst = p;
    }
    if (!worst) return false;
    this.o.logger.debug({ peer_ip: worst.ip }, "evicted from a full peer book");
    this.remove(worst.ip as PeerIp, "evicted");
    return true;
  }
}

/**
 * What losing the entry would forget, least first: a claim nobody verified,
 * then a plain peer, then a judgement (an offender evicted would come back
 * with a clean slate, so it goes last, the lightest penalty first).
 */
function weight(p: Peer): number {
  return holdsJudgement(p) ? 2 : isUnverified(p) ? 0 : 1;
}

/** Less to forget, then the lighter judgement, then more failures, then seen longest ago. */
function worse(a: Peer, b: Peer): boolean {
  if (weight(a) !== weight(b)) return weight(a) < weight(b);
  if (a.score !== b.score) return a.score > b.score;
  if (a.banCount !== b.banCount) return a.banCount < b.banCount;
  if (a.consecutiveDialFailures !== b.consecutiveDialFailures) return a.consecutiveDialFailures > b.consecutiveDialFailures;
  return a.lastSeenMs < b.lastSeenMs;
}

function refreshState(p: Peer, now: number): void {
  p.state = p.connId !== 0 ? PeerState.CONNECTED : isBanned(p, now) ? PeerState.BANNED : PeerState.DISCONNECTED;
}
