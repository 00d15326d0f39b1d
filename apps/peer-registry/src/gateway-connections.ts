import {
  Direction,
  DisconnectReason,
  DisconnectReasonSchema,
  enumLabel,
  PeerDirection,
  PeerSource,
  peerTipOf,
  StateKeys,
  type ConnectionState,
  type GatewayRun,
  type GatewayStateValue,
  type Peer,
} from "@timenet/proto";
import { isValidIp, normalizeIp, type PeerIp } from "@timenet/net-address";
import { TypedEvents, type ListenerErrorHandler } from "@timenet/events";
import type { StateChange } from "@timenet/bus";
import type { Logger } from "@timenet/telemetry";
import type { RegistryMetrics } from "./metrics.js";
import { isUnverified, type PeerRecords } from "./peer-records.js";
import { nodeIdHex } from "./peer-strings.js";

export type GatewayConnectionEvents = {
  /** A new gateway run: whatever was asked of the previous one is moot. */
  gatewayRestarted: (now: number) => void;
  connected: (p: Peer, now: number) => void;
  disconnected: (p: Peer, reason: DisconnectReason, livedMs: number, now: number) => void;
};

export interface GatewayConnectionsOptions {
  records: PeerRecords;
  metrics: RegistryMetrics;
  logger: Logger;
  /** Where a throwing listener of this unit\'s events is reported (counted and logged). */
  onListenerError: ListenerErrorHandler;
  /** When a new IP may first be dialled (the dial planner's rule), for records created here. */
  firstDialAt: (ip: string, now: number) => number;
}

/**
 * The book's connection state, taken from the gateway's published state
 * (bucket P2P_CONNECTIONS) and nothing else: the gateway never answers a
 * question and the registry never asks one. Changes arrive in the order they
 * happened; each connection end carries its reason. Owns each record's
 * connId, direction, connectedSince, last disconnect reason and what the
 * peer's Hello said.
 *
 * Our own restarts are never the peer's fault: connections of an earlier
 * gateway run, and connections that ended while the registry was down
 * without a trace left, end with LOCAL_RESTART, which nobody counts as a
 * failure. Records are reconciled once the initial state has been read
 * (`initialized`): until then a record's stored connection is not trusted.
 */
export class GatewayConnections {
  readonly events: TypedEvents<GatewayConnectionEvents>;
  private runId: string | undefined;
  private initialized = false;

  constructor(private readonly o: GatewayConnectionsOptions) {
    this.events = new TypedEvents<GatewayConnectionEvents>(o.onListenerError);
  }

  apply(change: StateChange<GatewayStateValue>, now: number): void {
    if (change.op === "delete") return this.onDeleted(change.key, now);
    const v = change.value;
    if ("run" in v) return this.onRun(v.run, now);
    const s = v.connection;
    if (!isValidIp(s.ip) || change.key !== StateKeys.connection(normalizeIp(s.ip))) {
      this.o.metrics.gatewayState.inc({ change: "invalid" });
      return;
    }
    // An entry of another run is history being cleaned up (or a stale rewrite): the run entry decides.
    if (Buffer.from(s.runId).toString("hex") !== this.runId) return;
    if (s.ended) this.onEnded(normalizeIp(s.ip), s, now);
    else this.onEstablished(normalizeIp(s.ip), s, now);
  }

  /**
   * The initial state has been read: a record that still holds a connection the
   * gateway does not (the registry was down when it ended) ends now.
   */
  markInitialized(now: number): void {
    this.initialized = true;
    for (const p of this.o.records.all()) {
      if (p.connId !== 0 && !this.confirmed.has(p.ip as PeerIp)) this.end(p, DisconnectReason.LOCAL_RESTART, 0, now, "its end was missed while the registry was down");
    }
    this.confirmed.clear();
  }

  /** IPs whose stored connection the initial state confirmed (only until initialized). */
  private readonly confirmed = new Set<PeerIp>();

  private onRun(run: GatewayRun, now: number): void {
    const id = Buffer.from(run.runId).toString("hex");
    if (id === this.runId) return;
    const previous = this.runId;
    this.runId = id;
    if (previous === undefined && !this.initialized) return; // the first run seen: entries follow
    this.o.metrics.gatewayState.inc({ change: "gateway_restarted" });
    let ended = 0;
    for (const p of this.o.records.all()) {
      if (p.connId === 0) continue;
      this.end(p, DisconnectReason.LOCAL_RESTART, 0, now, "our gateway restarted");
      ended++;
    }
    this.o.logger.warn({ run_id: id.slice(0, 16), ended }, "the gateway restarted: the connections of its previous run are gone");
    this.events.emit("gatewayRestarted", now);
  }

  private onEstablished(ip: PeerIp, s: ConnectionState, now: number): void {
    const known = this.o.records.get(ip);
    if (known && sameConnection(known, s)) {
      if (!this.initialized) this.confirmed.add(ip);
      // The gateway writes the entry again when the peer announces a higher block: an announcement we may not have heard (down, or our NATS away).
      this.o.records.raiseClaim(known, s.announcedHeight, s.announcedHash);
      return;
    }
    // A different connection of this IP replaced one we never saw end.
    if (known && known.connId !== 0) this.end(known, DisconnectReason.LOCAL_RESTART, 0, now, "replaced before its end was seen");
    const source = s.direction === Direction.INBOUND ? PeerSource.INBOUND : PeerSource.UNSPECIFIED;
    const p = this.o.records.getOrCreate(ip, source, now, { nextDialMs: this.o.firstDialAt(ip, now), evenIfFull: true })!;
    const h = s.hello;
    if (h) {
      if (h.listenPort > 0 && h.listenPort <= 65535 && h.listenPort !== p.port) this.correctPort(p, h.listenPort);
      p.nodeId = nodeIdHex(h.nodeId);
      p.softwareVersion = h.softwareVersion;
      p.network = h.network;
      // Its claim now: the highest block it announced on this connection, else its Hello's.
      const tip = peerTipOf(s)!;
      p.bestHeight = tip.height;
      p.bestHash = tip.hash;
    }
    p.encryption = s.encryption;
    p.direction = s.direction === Direction.OUTBOUND ? PeerDirection.OUTBOUND : PeerDirection.INBOUND;
    p.connectedSinceMs = s.connectedAtMs;
    p.connId = s.connId;
    p.totalConnections++;
    if (!this.initialized) this.confirmed.add(ip);
    this.o.metrics.gatewayState.inc({ change: "connected" });
    this.o.records.save(p, now);
    this.events.emit("connected", p, now);
  }

  /**
   * The peer's own Hello names its listen port (it completed a handshake with
   * us, from that IP): it replaces a claimed or outdated one. The failures of
   * a claimed port were that address's, not the peer's: they go with it.
   */
  private correctPort(p: Peer, port: number): void {
    const claimed = isUnverified(p);
    if (p.port !== 0) {
      this.o.metrics.portCorrections.inc({ was: claimed ? "unverified" : "verified" });
      this.o.logger.info({ peer_ip: p.ip, port, was: p.port, claimed }, "listen port corrected by the peer's own Hello");
    }
    if (claimed) p.consecutiveDialFailures = 0;
    p.port = port;
  }

  private onEnded(ip: PeerIp, s: ConnectionState, now: number): void {
    const p = this.o.records.get(ip);
    // The end of a connection the book does not hold (already ended, or replaced) changes nothing.
    if (!p || !sameConnection(p, s)) return;
    this.end(p, s.ended!.reason, Number(s.ended!.livedMs), now);
  }

  private onDeleted(key: string, now: number): void {
    const ip = ipOfKey(key);
    if (ip === undefined) return;
    // The gateway deletes only ended entries and those of earlier runs; a
    // record still holding a connection there missed its end.
    const p = this.o.records.get(ip);
    if (p && p.connId !== 0) this.end(p, DisconnectReason.LOCAL_RESTART, 0, now, "entry removed before its end was seen");
  }

  private end(p: Peer, reason: DisconnectReason, livedMs: number, now: number, why?: string): void {
    p.connId = 0;
    p.connectedSinceMs = 0n;
    p.lastDisconnectReason = reason;
    p.lastSeenMs = BigInt(now);
    this.o.metrics.gatewayState.inc({ change: reason === DisconnectReason.LOCAL_RESTART ? "end_missed" : "disconnected" });
    if (why) this.o.logger.info({ peer_ip: p.ip, reason: enumLabel(DisconnectReasonSchema, reason), why }, "connection ended");
    this.o.records.save(p, now);
    this.events.emit("disconnected", p, reason, livedMs, now);
  }
}

/** Connection ids restart with every gateway run: the id and the moment it was established identify one. */
function sameConnection(p: Peer, s: ConnectionState): boolean {
  return p.connId === s.connId && p.connectedSinceMs === s.connectedAtMs;
}

/** The IP of a `c.<ip>` key, validated. */
function ipOfKey(key: string): PeerIp | undefined {
  const raw = StateKeys.ipOf(key);
  return raw !== undefined && isValidIp(raw) ? normalizeIp(raw) : undefined;
}
