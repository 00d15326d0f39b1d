import { createHash, randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { Direction, DisconnectReason, DisconnectReasonSchema, enumLabel, type Envelope } from "@timenet/proto";
import { TypedEvents } from "@timenet/events";
import { listenConflictHint, listeningPort, normalizeIp, type PeerEndpoint, type PeerIp } from "@timenet/net-address";
import { LogThrottle, type Logger, type PeerLabeler } from "@timenet/telemetry";
import type { WallClock } from "./clock.js";
import { HelloTimestamps, type LocalIdentity } from "./hello.js";
import type { ChannelIdentity } from "./channel-identity.js";
import { reportListenerError } from "./listener-errors.js";
import type { GatewayMetrics } from "./metrics.js";
import { directionLabel, PeerConnection, type CloseInfo, type ConnectionTuning } from "./peer-connection.js";
import { resolveDuplicate } from "./duplicate-resolution.js";
import { isHandshakeFailure } from "./reasons.js";
import { AcceptRateLimit, type AcceptRates } from "./accept-rate-limit.js";
import { SubnetPressure } from "./subnet-pressure.js";
import { selectEvictionVictim, type EvictionCandidate } from "./inbound-eviction.js";
import { InboundByteBudget } from "./inbound-byte-budget.js";

export interface ConnectionManagerOptions {
  local: LocalIdentity;
  /** Our static Noise key, signed by the node key: one per process. */
  channelIdentity: ChannelIdentity;
  tuning: ConnectionTuning;
  /** Local address outbound sockets bind to (the devnet's 127.0.0.k); undefined = the OS picks. */
  dialLocalAddress: string | undefined;
  dialTimeoutMs: number;
  /** Hard cap on open peer sockets of any state; beyond it (unless a handshake may be evicted) inbound ones are refused at accept, dials refused. */
  maxConnections: number;
  /**
   * Sockets one IP may hold at once in any state. Two cover a simultaneous
   * dial, a third a restart racing the old socket; more is a flood.
   */
  maxSocketsPerIp: number;
  /** An inbound socket still handshaking after this long may be closed for a newcomer when every slot is taken. */
  handshakeEvictableAfterMs: number;
  logger: Logger;
  metrics: GatewayMetrics;
  labeler: PeerLabeler;
  /**
   * Whether the admission policy bans this IP now. A dial still connecting
   * when its IP was banned is dropped once it connects: the policy closes the
   * IP's sockets, and this one did not exist yet.
   */
  isBanned?: (ip: PeerIp) => boolean;
  /** Admission: a reason to refuse this IP at accept, before any handshake byte; "inbound_full" lets eviction make room. */
  admit?: (ip: PeerIp) => DisconnectReason | "inbound_full" | undefined;
  /** The network group of an IP (its /24 or /64 under the admission policy). */
  subnetOf: (ip: PeerIp) => string;
  /** Peers never evicted (the allow-list). */
  isProtected?: (ip: PeerIp) => boolean;
  /** New inbound sockets per IP and per subnet. */
  acceptRates: AcceptRates;
  /** Our wall clock, for our Hellos' timestamps. */
  wallClock: WallClock;
}

export class DialError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "DialError";
  }
}

export type ConnectionManagerEvents = {
  /** A connection completed its handshake and is the one kept for its IP. */
  connected: (conn: PeerConnection) => void;
  /** The connection kept for an IP closed. */
  disconnected: (conn: PeerConnection, info: CloseInfo) => void;
  /** Any socket stopped being usable, handshaking ones included. */
  closing: (conn: PeerConnection, info: CloseInfo) => void;
  /** Any socket is gone at the OS level. */
  socketClosed: (conn: PeerConnection, info: CloseInfo) => void;
  /** A message after the handshake, with the envelope's bytes as received. */
  message: (conn: PeerConnection, envelope: Envelope, kind: string, body: Uint8Array) => void;
  /** A peer keeps exceeding its rate limits. */
  abuse: (conn: PeerConnection, detail: string) => void;
  /** An outbound attempt failed before a socket opened. */
  dialFailed: (endpoint: PeerEndpoint, err: DialError) => void;
};

const DIAL_ERROR_CODES = new Set(["ECONNREFUSED", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EADDRNOTAVAIL", "EADDRINUSE"]);

/**
 * Holds every peer socket and guarantees at most one established connection
 * per IP: a second one is resolved by resolveDuplicate the same way on both
 * ends, and the loser is closed with Goodbye{DUPLICATE} after its handshake.
 *
 * Its events (ConnectionManagerEvents) are emitted from inside socket reads:
 * a listener that throws is counted and logged, and the others still run.
 */
export class ConnectionManager {
  readonly events: TypedEvents<ConnectionManagerEvents>;
  /** The peer whose event is being delivered: TypedEvents reports a listener's error without the event's arguments. */
  private emittingFor: PeerIp | undefined;
  private readonly established = new Map<PeerIp, PeerConnection>();
  private readonly sockets = new Set<PeerConnection>();
  private readonly dialing = new Set<PeerIp>();
  /** Addresses that turned out to be ourselves: never dialled again. */
  readonly selfIps = new Set<PeerIp>();
  private server: Server | undefined;
  private nextConnId = 1;
  /** One per gateway, i.e. per session: a later dial always carries a later Hello. */
  private readonly helloTimestamps = new HelloTimestamps();
  private stopping = false;
  private readonly acceptRate: AcceptRateLimit;
  /** How hard each subnet knocks: a flood's handshakes give way to a quieter subnet's newcomer. */
  private readonly pressure = new SubnetPressure();
  /** One log line per IP and refusal reason per 10 s: a flood of sockets must not become a flood of lines. */
  private readonly refusalLog = new LogThrottle(10_000);
  /** Orders subnets for eviction's protection: secret, so an attacker cannot aim at the unprotected ones. */
  private readonly evictionKey = randomBytes(16);
  /** Unasked bytes from every peer together: the per-peer limits multiply by the number of peers, this does not. */
  private readonly inboundBudget: InboundByteBudget;

  constructor(private readonly o: ConnectionManagerOptions) {
    this.acceptRate = new AcceptRateLimit(o.acceptRates);
    this.inboundBudget = new InboundByteBudget(o.tuning.rateLimits.nodeBytes);
    this.events = new TypedEvents((event, err) => reportListenerError(o.metrics, o.logger, event, err, this.emittingFor));
  }

  async listen(host: string, port: number): Promise<number> {
    const server = createServer({ noDelay: true, keepAlive: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => reject(new Error(`cannot listen for peers on ${host}:${port}: ${err.message}${listenConflictHint(err, port)}`));
      server.once("error", failed);
      server.listen({ host, port }, () => {
        server.off("error", failed);
        resolve();
      });
    });
    server.on("error", (err) => this.o.logger.error({ err }, "p2p listener error"));
    return listeningPort(server);
  }

  get(ip: PeerIp): PeerConnection | undefined {
    return this.established.get(ip);
  }

  getByConnId(connId: number): PeerConnection | undefined {
    for (const c of this.established.values()) if (c.connId === connId) return c;
    return undefined;
  }

  isConnected(ip: PeerIp): boolean {
    return this.established.has(ip);
  }

  isDialing(ip: PeerIp): boolean {
    return this.dialing.has(ip);
  }

  connections(): PeerConnection[] {
    return [...this.established.values()];
  }

  /** Remote IPs of the open inbound sockets (handshaking or established), for admission limits. */
  *inboundIps(): Iterable<PeerIp> {
    for (const c of this.sockets) if (c.direction === Direction.INBOUND && c.state !== "closing" && c.state !== "closed") yield c.remoteIp;
  }

  /** Closes every socket of an IP, in any state (a ban). Returns how many. */
  closeAll(ip: PeerIp, reason: DisconnectReason, detail: string): number {
    let n = 0;
    for (const c of [...this.sockets]) {
      if (c.remoteIp !== ip || c.state === "closing" || c.state === "closed") continue;
      c.close(reason, detail);
      n++;
    }
    return n;
  }

  /** Inbound sockets still in their handshake (Noise and Hello). */
  inboundHandshakes(): PeerConnection[] {
    return [...this.sockets].filter((c) => c.direction === Direction.INBOUND && c.state === "handshaking");
  }

  /** Open OS-level sockets to an IP, in any state (handshaking, established, closing). */
  socketCount(ip?: string): number {
    if (ip === undefined) return this.sockets.size;
    const n = normalizeIp(ip);
    let count = 0;
    for (const c of this.sockets) if (c.remoteIp === n) count++;
    return count;
  }

  private accept(socket: Socket): void {
    let ip: PeerIp;
    try {
      ip = normalizeIp(socket.remoteAddress ?? "");
    } catch {
      socket.destroy();
      return;
    }
    const refusal = this.admission(ip);
    if (refusal !== undefined) {
      // Refused before any handshake byte: the peer learns nothing from us.
      const reason = typeof refusal === "string" ? refusal : enumLabel(DisconnectReasonSchema, refusal);
      this.o.metrics.acceptRefused.inc({ reason });
      const suppressed = this.refusalLog.tick(`${ip}/${reason}`);
      if (suppressed !== undefined) this.o.logger.info({ peer_ip: ip, reason, suppressed }, "inbound connection refused at accept");
      socket.destroy();
      return;
    }
    this.adopt(socket, ip, Direction.INBOUND);
  }

  /**
   * Inbound sockets from an IP in any state. Our own dials to it do not
   * count: a dial to a wrong port some peer told us about (a tarpit that
   * never closes) must not keep the real node at that IP from connecting in.
   */
  private inboundSocketCount(ip: PeerIp): number {
    let n = 0;
    for (const c of this.sockets) if (c.remoteIp === ip && c.direction === Direction.INBOUND) n++;
    return n;
  }

  /** Why an inbound socket from ip is refused, or undefined (after making room, if a connection may go). */
  private admission(ip: PeerIp): DisconnectReason | "accept_rate_ip" | "accept_rate_subnet" | undefined {
    if (this.stopping) return DisconnectReason.SHUTDOWN;
    if (this.inboundSocketCount(ip) >= this.o.maxSocketsPerIp) return DisconnectReason.TOO_MANY_CONNECTIONS;
    if (!this.o.isProtected?.(ip)) {
      const rate = this.acceptRate.check(ip, this.o.subnetOf(ip));
      if (rate !== "ok") return rate;
      this.pressure.add(this.o.subnetOf(ip));
    }
    // Bans and the policy's limits before anything is closed for this newcomer.
    const verdict = this.o.admit?.(ip);
    if (verdict !== undefined && verdict !== "inbound_full") return verdict;
    const atCap = this.sockets.size >= this.o.maxConnections;
    if (!atCap && verdict !== "inbound_full") return undefined;
    // Every slot is taken. A socket still in its handshake long after an honest one would have finished goes first:
    // strangers trickling bytes (slowloris) would otherwise hold their slots until the handshake timeout, and an honest
    // peer reconnecting meanwhile would be refused. Then a young handshake of a subnet knocking harder than the
    // newcomer's; then eviction's choice among the established inbound peers.
    if (this.makeRoomFromHandshakes(ip)) return undefined;
    if (atCap) return DisconnectReason.TOO_MANY_CONNECTIONS;
    return this.evictFor(ip) ? undefined : DisconnectReason.TOO_MANY_CONNECTIONS;
  }

  /** Makes room for a newcomer, inbound or our own dial, by closing a socket still in its handshake: an old one, else a young one of a crowded subnet. */
  private makeRoomFromHandshakes(newcomer: PeerIp): boolean {
    return this.evictHandshaking(newcomer) || this.evictCrowdedHandshake(newcomer);
  }

  /**
   * Closes the inbound socket that has been in its handshake longest, if that
   * is at least handshakeEvictableAfterMs (allow-listed IPs never): its slot,
   * and its place in the socket count, go to the newcomer at once.
   */
  private evictHandshaking(newcomer: PeerIp): boolean {
    const now = Date.now();
    let oldest: PeerConnection | undefined;
    for (const c of this.inboundHandshakes()) {
      if (now - c.openedAt < this.o.handshakeEvictableAfterMs || this.o.isProtected?.(c.remoteIp)) continue;
      if (!oldest || c.openedAt < oldest.openedAt) oldest = c;
    }
    if (!oldest) return false;
    this.evictHandshake(oldest, `still handshaking after ${now - oldest.openedAt} ms with every slot taken: room made for ${newcomer}`);
    return true;
  }

  /** Closes a socket in its handshake for a newcomer: its slot, and its place in the socket count, are free at once. */
  private evictHandshake(c: PeerConnection, why: string): void {
    this.o.metrics.evictions.inc({ state: "handshaking" });
    c.close(DisconnectReason.EVICTED, why, { goodbye: false });
    c.destroy();
    this.sockets.delete(c);
    this.o.metrics.sockets.set(this.sockets.size);
  }

  /**
   * Closes an inbound socket still in its handshake, however young, if its
   * subnet knocks harder than the newcomer's (SubnetPressure: new sockets,
   * fading over ~10 s): of the subnets knocking hardest, the socket
   * handshaking longest. Why: strangers who reconnect as fast as their
   * sockets are evicted take every slot the moment it becomes evictable
   * (handshakeEvictableAfterMs), so an honest newcomer, who comes once,
   * got in 1 time of 10 in the attack suite's slowloris row. An honest peer
   * comes once and weighs ~1; a flood cannot take back a slot from a subnet
   * quieter than its own. Established peers are never touched here.
   */
  private evictCrowdedHandshake(newcomer: PeerIp): boolean {
    const now = Date.now();
    const newcomers = this.pressure.of(this.o.subnetOf(newcomer), now);
    let victim: PeerConnection | undefined;
    let victimCrowd = 0;
    for (const c of this.inboundHandshakes()) {
      if (this.o.isProtected?.(c.remoteIp)) continue;
      const crowd = this.pressure.of(this.o.subnetOf(c.remoteIp), now);
      if (crowd <= newcomers) continue;
      if (!victim || crowd > victimCrowd || (crowd === victimCrowd && c.openedAt < victim.openedAt)) {
        victim = c;
        victimCrowd = crowd;
      }
    }
    if (!victim) return false;
    this.evictHandshake(victim, `handshaking from a subnet knocking harder (${victimCrowd.toFixed(1)} new sockets, fading over 10 s) than the newcomer's (${newcomers.toFixed(1)}) with every slot taken: room made for ${newcomer}`);
    return true;
  }

  /** Every inbound slot is taken: closes the connection eviction chooses, if any may go. */
  private evictFor(newcomer: PeerIp): boolean {
    const candidates: Array<EvictionCandidate & { conn: PeerConnection }> = [];
    for (const conn of this.established.values()) {
      if (conn.direction !== Direction.INBOUND || this.o.isProtected?.(conn.remoteIp)) continue;
      candidates.push({
        conn,
        ip: conn.remoteIp,
        subnet: this.o.subnetOf(conn.remoteIp),
        connectedAtMs: conn.establishedAt,
        rttMs: conn.lastRttMs,
        lastUsefulAtMs: conn.lastUsefulAtMs,
      });
    }
    const rank = (subnet: string) => createHash("sha256").update(this.evictionKey).update(subnet).digest().readUInt32BE(0);
    const victim = selectEvictionVictim(candidates, rank);
    if (!victim) return false;
    this.o.metrics.evictions.inc({ state: "established" });
    victim.conn.close(DisconnectReason.EVICTED, `every inbound slot taken: room made for ${newcomer}`);
    return true;
  }

  /** Dials an endpoint. Resolves with the connection once TCP is up (the handshake follows). */
  dial(endpoint: PeerEndpoint): Promise<PeerConnection> {
    const ip = endpoint.ip;
    if (this.stopping) return Promise.reject(new DialError("SHUTDOWN", "gateway is stopping"));
    if (this.dialing.has(ip)) return Promise.reject(new DialError("ALREADY_DIALING", `already dialling ${ip}`));
    const peer = this.o.labeler.label(ip);
    // A peer we chose to dial is worth more than a stranger's handshake: at the cap it takes the slot of an old one,
    // else of a young one from a subnet knocking harder than the peer's (a flood reconnecting as fast as it is
    // evicted would otherwise keep every slot young and refuse each of our dials). Established links are never closed
    // for a dial. Refused, it is not the peer's failure (no dialFailed): counted and logged, and the registry retries.
    if (this.sockets.size >= this.o.maxConnections && !this.makeRoomFromHandshakes(ip)) {
      this.o.metrics.dialFailures.inc({ reason: "too_many_connections", peer });
      const suppressed = this.refusalLog.tick(`dial/${ip}`);
      if (suppressed !== undefined) this.o.logger.warn({ peer_ip: ip, port: endpoint.port, reason: "too_many_connections", sockets: this.sockets.size, suppressed }, "dial refused: every socket slot is held by an established peer or a handshake we may not evict");
      return Promise.reject(new DialError("TOO_MANY_CONNECTIONS", "connection cap reached"));
    }
    this.dialing.add(ip);
    this.o.metrics.dialAttempts.inc({ peer });
    return new Promise<PeerConnection>((resolve, reject) => {
      const socket = connect({ host: ip, port: endpoint.port, localAddress: this.o.dialLocalAddress, noDelay: true, keepAlive: true });
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connect timed out after ${this.o.dialTimeoutMs}ms`), { code: "ETIMEDOUT" })), this.o.dialTimeoutMs);
      const fail = (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        this.dialing.delete(ip);
        const code = err.code && DIAL_ERROR_CODES.has(err.code) ? err.code : "OTHER";
        this.o.metrics.dialFailures.inc({ reason: code.toLowerCase(), peer });
        const e = new DialError(code, `dial ${ip}:${endpoint.port} failed: ${err.message}`);
        this.o.logger.info({ peer_ip: ip, port: endpoint.port, reason: code.toLowerCase() }, "dial failed");
        this.emit(ip, "dialFailed", endpoint, e);
        reject(e);
      };
      socket.once("error", fail);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", fail);
        this.dialing.delete(ip);
        if (this.o.isBanned?.(ip)) {
          // Not the peer's failure: no dialFailed event for the registry, which banned it.
          socket.destroy();
          this.o.metrics.dialFailures.inc({ reason: "banned", peer });
          this.o.logger.info({ peer_ip: ip, port: endpoint.port, reason: "banned" }, "dial dropped: the IP was banned while it connected");
          reject(new DialError("BANNED", `dial ${ip}:${endpoint.port} dropped: banned while connecting`));
          return;
        }
        resolve(this.adopt(socket, ip, Direction.OUTBOUND));
      });
    });
  }

  private adopt(socket: Socket, ip: PeerIp, direction: Direction): PeerConnection {
    const conn = new PeerConnection({
      ...this.o.tuning,
      socket,
      direction,
      connId: this.nextConnId++,
      remoteIp: ip,
      local: this.o.local,
      channelIdentity: this.o.channelIdentity,
      helloTimestampMs: this.helloTimestamps.next(this.o.wallClock()),
      logger: this.o.logger,
      metrics: this.o.metrics,
      peerLabel: this.o.labeler.label(ip),
      inboundBudget: this.inboundBudget,
      // The peers we chose and the operator's are never held for strangers: strangers cannot take their place.
      heldByNodeBudget: () => direction === Direction.INBOUND && !this.o.isProtected?.(ip),
    });
    this.sockets.add(conn);
    this.o.metrics.sockets.set(this.sockets.size);
    conn.events.on("established", () => this.onEstablished(conn));
    conn.events.on("message", (env, kind, body) => this.emit(ip, "message", conn, env, kind, body));
    conn.events.on("closing", (info) => this.onClosing(conn, info));
    conn.events.on("abuse", (detail) => this.emit(ip, "abuse", conn, detail));
    conn.events.on("closed", (info) => {
      this.sockets.delete(conn);
      this.o.metrics.sockets.set(this.sockets.size);
      this.emit(ip, "socketClosed", conn, info);
    });
    conn.start();
    return conn;
  }

  private onEstablished(conn: PeerConnection): void {
    const existing = this.established.get(conn.remoteIp);
    if (existing) {
      const { keep, drop, rule } = resolveDuplicate(existing, conn);
      const kept = keep === conn ? "new" : "existing";
      this.o.metrics.duplicatesResolved.inc({ rule, kept });
      this.o.logger.info(
        {
          peer_ip: conn.remoteIp,
          kept_conn_id: keep.connId,
          kept_direction: directionLabel(keep.direction),
          dropped_conn_id: drop.connId,
          dropped_direction: directionLabel(drop.direction),
          rule,
          kept,
        },
        "duplicate connection resolved",
      );
      // Closing the loser first: if it is the registered one, its
      // "disconnected" goes out before the winner's "connected", and there is
      // never an instant with two established connections for one IP.
      drop.close(DisconnectReason.DUPLICATE, `kept conn ${keep.connId} (${rule})`);
      if (keep === existing) return;
    }
    this.established.set(conn.remoteIp, conn);
    this.updatePeerGauge();
    this.o.metrics.connects.inc({ direction: directionLabel(conn.direction), peer: this.o.labeler.label(conn.remoteIp) });
    this.emit(conn.remoteIp, "connected", conn);
  }

  private onClosing(conn: PeerConnection, info: CloseInfo): void {
    const reason = enumLabel(DisconnectReasonSchema, info.reason);
    const direction = directionLabel(conn.direction);
    this.o.metrics.disconnects.inc({ reason, initiator: info.initiator, direction, peer: this.o.labeler.label(conn.remoteIp) });
    if (!info.wasEstablished && (isHandshakeFailure(info.reason) || info.reason === DisconnectReason.PROTOCOL_ERROR)) {
      this.o.metrics.handshakeFailures.inc({ reason });
    }
    if (info.reason === DisconnectReason.AUTHENTICATION_FAILED && info.initiator === "local") {
      this.o.metrics.authenticationFailures.inc({ stage: info.authenticated ? "transport" : "handshake", peer: this.o.labeler.label(conn.remoteIp) });
    }
    if (info.reason === DisconnectReason.SELF_CONNECTION && info.initiator === "local") this.selfIps.add(conn.remoteIp);
    if (this.established.get(conn.remoteIp) === conn) {
      this.established.delete(conn.remoteIp);
      this.updatePeerGauge();
      this.o.metrics.connectionLifetime.observe({ direction }, info.livedMs / 1000);
      this.emit(conn.remoteIp, "disconnected", conn, info);
    }
    this.emit(conn.remoteIp, "closing", conn, info);
  }

  private emit<K extends keyof ConnectionManagerEvents & string>(ip: PeerIp, event: K, ...args: Parameters<ConnectionManagerEvents[K]>): void {
    // Listeners may close other connections, whose events nest inside this one.
    const outer = this.emittingFor;
    this.emittingFor = ip;
    this.events.emit(event, ...args);
    this.emittingFor = outer;
  }

  private updatePeerGauge(): void {
    let inbound = 0;
    let outbound = 0;
    for (const c of this.established.values()) {
      if (c.direction === Direction.OUTBOUND) outbound++;
      else inbound++;
    }
    this.o.metrics.peers.set({ direction: "inbound" }, inbound);
    this.o.metrics.peers.set({ direction: "outbound" }, outbound);
  }

  /** Closes one IP's connection; false if there was none. */
  disconnect(ip: PeerIp, reason: DisconnectReason, detail: string): boolean {
    const c = this.established.get(ip);
    if (!c) return false;
    c.close(reason, detail);
    return true;
  }

  /**
   * Stops accepting, says Goodbye{SHUTDOWN} on every socket and waits for them
   * to close (destroying stragglers after graceMs).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
    const all = [...this.sockets];
    const gone = Promise.all(all.map((c) => (c.state === "closed" ? undefined : new Promise<void>((r) => c.events.on("closed", () => r())))));
    for (const c of all) c.close(DisconnectReason.SHUTDOWN, "node shutting down");
    const timer = setTimeout(() => all.forEach((c) => c.destroy()), graceMs);
    await gone;
    clearTimeout(timer);
    await closed;
  }
}
