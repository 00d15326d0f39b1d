import { createHash } from "node:crypto";
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import {
  BroadcastSchema,
  EnvelopeSchema,
  PeerRequestErrorCode,
  PeerRequestSchema,
  PeerResponseSchema,
  OffenceKind,
  OffenceKindSchema,
  enumLabel,
  OffenceSchema,
  DisconnectReason,
  Direction,
  PEER_MESSAGE_KINDS,
  Subjects,
  type ChainTip,
  type Envelope,
  type PeerMessageKind,
} from "@timenet/proto";
import { isValidIp, normalizeIp } from "@timenet/net-address";
import type { Bus, BusSubscription } from "@timenet/bus";
import type { Logger } from "@timenet/telemetry";
import type { ConnectionManager } from "./connection-manager.js";
import type { GatewayMetrics } from "./metrics.js";
import type { PeerConnection } from "./peer-connection.js";
import { TokenBucket, type Rate } from "@timenet/rate-limit";
import { extendsTip } from "@timenet/chain";
import { PeerRequestError } from "./pending-requests.js";
import { offenceFor } from "./reasons.js";
import { checkPushedBlock } from "./pushed-block.js";
import { SeenCache } from "./seen-cache.js";
import { decodeSendToPeer, encodePeerMessage, encodePeerResponse } from "./peer-message.js";

export interface NatsBridgeOptions {
  bus: Bus;
  manager: ConnectionManager;
  metrics: GatewayMetrics;
  logger: Logger;
  seenCacheSize: number;
  defaultRequestTimeoutMs: number;
  /** The network's transaction size limit: a larger Tx is never broadcast. */
  maxTxBytes: number;
  maxRequestTimeoutMs: number;
  /** GetBlocks out to one peer at once, for every local asker together (all sync replicas). */
  maxBlockRequestsPerPeer: number;
  /** How fast GetBlocks go to one peer, for every local asker together. */
  getBlocksPace: Rate;
  /** Our new tip's block goes with its announcement when its encoding is at most this (0: never). */
  blockPushMaxBytes: number;
  /** Peers a new block is pushed to: at least this many, ⌈√n⌉ of n candidates when more. */
  blockPushFanout: number;
  /** How fast our new tips go to one peer with their block; beyond, announced alone. */
  pushPace: Rate;
  /** Our store's tip now: a block pushed to us goes on to chain-sync only if it extends it. */
  tip(): { height: number; hash: Uint8Array };
  /** A peer announced a block higher than any before on its connection (the connection state carries it). */
  onAnnounced?(conn: PeerConnection): void;
}

const KINDS = new Set<string>(PEER_MESSAGE_KINDS);

/** A NewBlock's deduplication key: once per announcing peer and block. */
function announcementKey(peerIp: string, hash: Uint8Array): string {
  return `b:${peerIp}:${Buffer.from(hash).toString("hex")}`;
}

/** A Tx's relay-once key: its SHA-256d. */
function txKey(data: Uint8Array): string {
  const once = createHash("sha256").update(data).digest();
  return `t:${createHash("sha256").update(once).digest("hex")}`;
}

/**
 * Connects peers to the node's NATS bus: every post-handshake message goes
 * out on p2p.in.<kind>, services send and ask through p2p.out.* and
 * p2p.request, and lifecycle facts are published as events. Tx gossip is
 * relayed to every other peer once per hash. NewBlock is never relayed: a
 * node announces a block only once its own store holds it (ChainTipLink), so
 * an announcement always means "this peer can serve it". Relaying someone
 * else's block made peers ask us for a block we did not have yet, count us
 * as an empty-answer offender and wait a second for another peer.
 * A small new block is pushed with its announcement to each peer that has
 * not announced it to us (announceBlock): it writes it at once instead of
 * asking for it a round trip later.
 */
export class NatsBridge {
  private readonly subs: BusSubscription[] = [];
  private readonly seen: SeenCache;
  /** The highest block announced to us so far (whoever announces a higher one first was useful). */
  private highestAnnounced = 0;
  /** Per connection (gone with it): our GetBlocks out to it now, and our pace towards it. */
  private readonly blockAsks = new WeakMap<PeerConnection, { out: number; pace: TokenBucket }>();
  /** Per connection (gone with it): our pushes to it, under its inbound push limit. */
  private readonly pushPaces = new WeakMap<PeerConnection, TokenBucket>();

  constructor(private readonly o: NatsBridgeOptions) {
    this.seen = new SeenCache(o.seenCacheSize);
  }

  start(): void {
    const { bus, manager } = this.o;
    manager.events.on("message", (conn, env, kind, body) => this.onPeerMessage(conn, env, kind, body));
    manager.events.on("closing", (conn, info) => {
      // Only what an authenticated peer did is its own: before the Noise
      // handshake completes, anyone on the path could have caused the close.
      const offence = info.initiator === "local" && info.authenticated ? offenceFor(info.reason) : undefined;
      if (offence !== undefined) this.reportOffence(conn.remoteIp, offence, info.detail);
    });
    manager.events.on("abuse", (conn, detail) => this.reportOffence(conn.remoteIp, OffenceKind.RATE_LIMIT, detail));

    this.subs.push(
      // Read around the envelope's bytes: our store's block answers go out as it built them, never decoded here.
      bus.subscribeEncoded(Subjects.peerOutSend, (bytes) => {
        let m;
        try {
          m = decodeSendToPeer(bytes);
        } catch {
          return this.drop("bad_send_request");
        }
        if (!m.envelope || !isValidIp(m.peerIp)) return this.drop("bad_send_request");
        const ip = normalizeIp(m.peerIp);
        // A reply names its connection: it goes out on that socket or nowhere.
        const conn = m.connId !== 0 ? manager.getByConnId(m.connId) : manager.get(ip);
        if (!conn || conn.remoteIp !== ip) return this.drop(m.connId !== 0 ? "connection_gone" : "not_connected");
        if (!conn.send(m.envelope)) this.drop("connection_gone");
      }),
      bus.subscribe(Subjects.peerOutBroadcast, BroadcastSchema, (m) => {
        if (!m.envelope) return this.drop("bad_broadcast");
        const p = m.envelope.payload;
        // A Tx our peers would refuse from its header (and close the link for) is never sent.
        if (p.case === "tx" && p.value.data.length > this.o.maxTxBytes) return this.drop("tx_too_large");
        if (p.case === "tx") this.seen.add(txKey(p.value.data)); // our own Tx is not relayed back to us
        const exclude = new Set(m.excludeIps.filter(isValidIp).map((ip) => normalizeIp(ip)));
        for (const c of manager.connections()) if (!exclude.has(c.remoteIp)) c.send(m.envelope);
      }),
      bus.subscribe(Subjects.peerRequest, PeerRequestSchema, async (m, ctx) => {
        const reply = (r: MessageInitShape<typeof PeerResponseSchema>) => ctx.respond(PeerResponseSchema, r);
        const fail = (code: PeerRequestErrorCode, message: string, result: string) => {
          this.o.metrics.peerRequests.inc({ result });
          reply({ result: { case: "error", value: { code, message } } });
        };
        if (!m.envelope || !isValidIp(m.peerIp)) return fail(PeerRequestErrorCode.BAD_REQUEST, "peer_ip and envelope are required", "bad_request");
        const question = m.envelope.payload.case;
        if (question !== "getBlocks" && question !== "getPeers") {
          return fail(PeerRequestErrorCode.BAD_REQUEST, `${question ?? "empty"} is not a question a peer answers (get_blocks, get_peers)`, "bad_request");
        }
        const conn = manager.get(normalizeIp(m.peerIp));
        if (!conn) return fail(PeerRequestErrorCode.NOT_CONNECTED, `not connected to ${m.peerIp}`, "not_connected");
        const timeout = Math.min(m.timeoutMs || this.o.defaultRequestTimeoutMs, this.o.maxRequestTimeoutMs);
        // Pipelined, but bounded per peer whatever the number of sync replicas: a peer's GetBlocks rate limit is not ours to overrun.
        const asks = question === "getBlocks" ? this.blockAsksOf(conn) : undefined;
        if (asks && asks.out >= this.o.maxBlockRequestsPerPeer) {
          return fail(PeerRequestErrorCode.TOO_MANY_REQUESTS, `${asks.out} GetBlocks already out to ${conn.remoteIp}: ask again shortly or ask another peer`, "too_many_block_requests");
        }
        if (asks && !asks.pace.take()) {
          const { count, periodMs } = this.o.getBlocksPace;
          return fail(PeerRequestErrorCode.TOO_MANY_REQUESTS, `GetBlocks to ${conn.remoteIp} paced at ${count} per ${periodMs} ms (its own limit skips more): ask again shortly or ask another peer`, "paced");
        }
        if (asks) asks.out++;
        try {
          const answer = await conn.request(m.envelope, timeout);
          this.o.metrics.peerRequests.inc({ result: "ok" });
          // The answer as it came off the socket (priced and shape-checked on the way in; the asker decodes it), not encoded again.
          ctx.respondEncoded(encodePeerResponse(answer.body));
        } catch (err) {
          if (!(err instanceof PeerRequestError)) throw err;
          if (err.code === "TIMEOUT") fail(PeerRequestErrorCode.TIMEOUT, err.message, "timeout");
          else if (err.code === "PEER_CLOSED") fail(PeerRequestErrorCode.PEER_CLOSED, err.message, "peer_closed");
          else fail(PeerRequestErrorCode.BAD_REQUEST, err.message, "too_many_requests");
        } finally {
          if (asks) asks.out--;
        }
      }),
    );
  }

  private blockAsksOf(conn: PeerConnection): { out: number; pace: TokenBucket } {
    let asks = this.blockAsks.get(conn);
    if (!asks) this.blockAsks.set(conn, (asks = { out: 0, pace: new TokenBucket(this.o.getBlocksPace) }));
    return asks;
  }

  /**
   * Our store's new tip, to every peer that has not announced it to us (one
   * that did holds it: a NewBlock back would cost both ends a frame and its
   * chain-sync a message, and on the six-node devnet it was 40 % of every
   * block's NewBlock frames): with the block (when it came with the tip and
   * is at most blockPushMaxBytes) within our push pace towards the peer and
   * to at most the fan-out of such peers (our outbound peers first, then at
   * random per block); the announcement alone to the others.
   */
  announceBlock(tip: ChainTip): void {
    const announcement = { height: tip.height, hash: tip.hash, header: tip.header };
    const plain = create(EnvelopeSchema, { payload: { case: "newBlock", value: announcement } });
    const pushable = tip.block.length > 0 && tip.block.length <= this.o.blockPushMaxBytes;
    const pushed = pushable ? create(EnvelopeSchema, { payload: { case: "newBlock", value: { ...announcement, block: tip.block } } }) : undefined;
    const candidates: PeerConnection[] = [];
    for (const c of this.o.manager.connections()) {
      if (this.seen.has(announcementKey(c.remoteIp, tip.hash))) this.o.metrics.newBlocksWithheld.inc();
      else if (pushed !== undefined) candidates.push(c);
      else if (c.send(plain)) this.o.metrics.newBlocksSent.inc({ how: "announced" });
    }
    // A random order per block, our outbound peers first: the peers we chose get the bytes before any stranger, so
    // strangers connecting in by the hundred can take pushes from each other but not from them.
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
    }
    candidates.sort((x, y) => Number(y.direction === Direction.OUTBOUND) - Number(x.direction === Direction.OUTBOUND));
    const fanout = Math.max(this.o.blockPushFanout, Math.ceil(Math.sqrt(candidates.length)));
    let pushes = 0;
    for (const c of candidates) {
      // Over the pace the peer would skip the push unread, and with it the announcement: it does not use a push.
      const how = pushes >= fanout ? "beyond_fanout" : this.pushPaceOf(c).take(1) ? "pushed" : "paced";
      if (how === "pushed") pushes++;
      if (c.send(how === "pushed" ? pushed! : plain)) this.o.metrics.newBlocksSent.inc({ how });
    }
  }

  private pushPaceOf(conn: PeerConnection): TokenBucket {
    let pace = this.pushPaces.get(conn);
    if (!pace) this.pushPaces.set(conn, (pace = new TokenBucket(this.o.pushPace)));
    return pace;
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }

  private onPeerMessage(conn: PeerConnection, env: Envelope, kind: string, body: Uint8Array): void {
    if (!KINDS.has(kind)) return this.drop("unknown_kind");
    if (env.payload.case === "newBlock" && env.payload.value.hash.length !== 32) {
      // Deduplication is keyed by this hash: a malformed one must not poison the cache.
      conn.close(DisconnectReason.PROTOCOL_ERROR, "new_block without a 32-byte hash");
      return;
    }
    if (env.payload.case === "newBlock" && env.payload.value.block.length > 0) {
      const nb = env.payload.value;
      // Not our tip's child by its announced header (a copy of one we took, a race, a branch): chain-sync hears
      // the announcement, and the block's bytes stop here, never decoded.
      if (!nb.header || !extendsTip(nb.header, this.o.tip())) {
        this.o.metrics.gossip.inc({ kind, result: "push_not_next" });
        const announcement = create(EnvelopeSchema, { payload: { case: "newBlock", value: { ...nb, block: new Uint8Array(0) } } });
        return this.onPeerMessage(conn, announcement, kind, toBinary(EnvelopeSchema, announcement));
      }
      // The peer wrote this message on its own authenticated channel: a pushed block that is not the one it names is its doing.
      const pushed = checkPushedBlock(nb);
      if ("wrong" in pushed) return conn.close(DisconnectReason.PROTOCOL_ERROR, `new_block.block ${pushed.wrong}`);
    }
    const p = env.payload;
    const key = p.case === "tx" ? txKey(p.value.data) : p.case === "newBlock" ? announcementKey(conn.remoteIp, p.value.hash) : undefined;
    if (key !== undefined) {
      if (!this.seen.add(key)) {
        this.o.metrics.gossip.inc({ kind, result: "duplicate" });
        return;
      }
      if (p.case === "tx") {
        this.o.metrics.gossip.inc({ kind, result: "relayed" });
        // First sight: relay to every other peer, never back to the sender,
        // within each peer's relay byte budget (a flood we received is not
        // multiplied into every link's send queue).
        for (const c of this.o.manager.connections()) {
          if (c.remoteIp !== conn.remoteIp && c.relay(env, body.length) === "over_budget") this.drop("relay_budget");
        }
      } else {
        // Each peer's first announcement of a block: its height, for chain-sync and the registry.
        this.o.metrics.gossip.inc({ kind, result: "announced" });
        if (p.case === "newBlock" && conn.noteAnnounced(p.value.height, p.value.hash)) this.o.onAnnounced?.(conn);
        // The first to tell us of a higher block is useful (eviction protects it).
        if (p.case === "newBlock" && p.value.height > this.highestAnnounced) {
          this.highestAnnounced = p.value.height;
          conn.lastUsefulAtMs = Date.now();
        }
      }
    }
    const subject = Subjects.peerIn(kind as PeerMessageKind);
    if (!this.o.bus.publishEncoded(subject, encodePeerMessage(conn.remoteIp, conn.connId, body))) {
      this.o.metrics.natsPublishErrors.inc({ subject });
    }
  }

  private reportOffence(ip: string, kind: OffenceKind, detail: string): void {
    this.o.metrics.offences.inc({ kind: enumLabel(OffenceKindSchema, kind) });
    this.publish(Subjects.offence, OffenceSchema, { ip, kind, detail, atMs: BigInt(Date.now()) });
  }

  private publish<D extends DescMessage>(subject: string, schema: D, msg: MessageInitShape<D>): void {
    if (!this.o.bus.publish(subject, schema, msg)) this.o.metrics.natsPublishErrors.inc({ subject });
  }

  private drop(reason: string): void {
    this.o.metrics.dropped.inc({ reason });
  }
}
