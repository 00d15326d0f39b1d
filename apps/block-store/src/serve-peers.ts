import { PeerMessageSchema, Subjects, type PeerMessage } from "@timenet/proto";
import type { Bus, BusSubscription } from "@timenet/bus";
import { LogThrottle, type Logger } from "@timenet/telemetry";
import type { StoreMetrics } from "./metrics.js";
import { PublishBacklog } from "./publish-backlog.js";
import type { ServeBackend } from "./serve-backend.js";
import type { BudgetLimit } from "./serve-budget.js";
import type { ServeAnswer } from "./serve-job.js";
import { encodeBlocksReply, type ReplyTo } from "./serve-reply.js";
import { ServeThreadError, type ServeThreadErrorCode } from "./serve-thread.js";

/** Why an answer was short (a budget) or refused (any). */
export type ServeLimit = BudgetLimit | "queue_full" | "peer_queue_full" | "nats_backlog" | "worker_down" | "worker_crashed" | "read_failed" | "stopping";

const LIMIT_OF_ERROR: Record<ServeThreadErrorCode, ServeLimit> = {
  ERR_SERVE_WORKER_DOWN: "worker_down",
  ERR_SERVE_WORKER_EXITED: "worker_crashed",
  ERR_SERVE_READ: "read_failed",
  ERR_SERVE_STOPPED: "stopping",
};

/** Limits that are the peer's own doing or plain load: info. The rest say something about this node: warn. */
const EXPECTED: ReadonlySet<ServeLimit> = new Set(["peer_budget", "global_budget", "peer_queue_full"]);

export interface PeerServerOptions {
  bus: Bus;
  backend: ServeBackend;
  metrics: StoreMetrics;
  logger: Logger;
  /** SERVE_MAX_BLOCKS. */
  maxBlocks: number;
  /** SERVE_MAX_BYTES: bytes of the encoded Blocks message; the first block is sent whatever its size. */
  maxBytes: number;
  /** Requests handed to the backend and not yet answered; more are refused (queue_full). */
  queueMax: number;
  /** The same, for one peer IP (peer_queue_full): one peer cannot take the whole queue. */
  queuePerPeer: number;
  /** Bytes of answers published and not yet taken by the NATS server; while above, requests are refused (nats_backlog). */
  maxBacklogBytes: number;
  /** At most one log line per peer and reason per this. Default 10 s. */
  logEveryMs?: number;
}

interface Asked {
  from_height: number;
  count: number;
}

/**
 * Answers peers' GetBlocks (arriving from the gateway on p2p.in.get_blocks)
 * on the connection the request came in on, with the request's id. This
 * thread only admits a request (bounded queue, per peer too, and the NATS
 * backlog), hands it to the backend (the serving worker: reading, the byte
 * budgets and encoding happen there) and publishes the bytes it gets back.
 * Every request is answered: a refused one with no blocks, at once, so the
 * asker moves on instead of waiting for its timeout. Replicas share the work
 * through the queue group.
 */
export class PeerServer {
  private sub: BusSubscription | undefined;
  private queued = 0;
  private readonly perPeer = new Map<string, number>();
  private nextId = 1;
  private readonly backlog: PublishBacklog;
  private readonly throttle: LogThrottle;

  constructor(private readonly o: PeerServerOptions) {
    this.backlog = new PublishBacklog(o.bus);
    this.throttle = new LogThrottle(o.logEveryMs ?? 10_000);
  }

  get backend(): ServeBackend {
    return this.o.backend;
  }

  /** Requests handed over and not yet answered. */
  get inFlight(): number {
    return this.queued;
  }

  async start(): Promise<void> {
    await this.o.backend.start();
    this.sub = this.o.bus.subscribe(Subjects.peerIn("get_blocks"), PeerMessageSchema, (m) => this.onRequest(m), { queue: "block-store" });
  }

  /** No new requests; what was handed over is answered, then the backend ends. */
  async stop(): Promise<void> {
    this.sub?.unsubscribe();
    this.sub = undefined;
    await this.o.backend.stop();
  }

  private onRequest(m: PeerMessage): void {
    const p = m.envelope?.payload;
    if (p?.case !== "getBlocks") return;
    const received = performance.now();
    const to: ReplyTo = { peerIp: m.peerIp, connId: m.connId, requestId: m.envelope!.requestId };
    const asked: Asked = { from_height: p.value.fromHeight, count: p.value.count };
    const full: ServeLimit | undefined =
      this.queued >= this.o.queueMax
        ? "queue_full"
        : (this.perPeer.get(to.peerIp) ?? 0) >= this.o.queuePerPeer
          ? "peer_queue_full"
          : this.backlog.bytes >= this.o.maxBacklogBytes
            ? "nats_backlog"
            : undefined;
    if (full !== undefined) {
      this.refuse(to, full, asked, received);
      return;
    }
    this.hold(to.peerIp, 1);
    const job = { id: this.nextId++, to, fromHeight: p.value.fromHeight, count: Math.min(p.value.count, this.o.maxBlocks), maxBytes: this.o.maxBytes };
    void this.o.backend
      .answer(job)
      .then(
        (a) => this.deliver(to, a, asked, received),
        (err: unknown) => this.refuse(to, err instanceof ServeThreadError ? LIMIT_OF_ERROR[err.code] : "read_failed", asked, received, err as Error),
      )
      .catch((err: unknown) => this.o.logger.error({ peer_ip: to.peerIp, err: (err as Error).message }, "answering GetBlocks failed"))
      .finally(() => this.hold(to.peerIp, -1));
  }

  private deliver(to: ReplyTo, a: ServeAnswer, asked: Asked, received: number): void {
    const { metrics, logger } = this.o;
    if (this.publish(a.reply)) {
      metrics.blocksServed.inc(a.blocks);
      metrics.serveBytes.inc(a.bytes);
    }
    metrics.servePeers.set(a.budgetPeers);
    if (a.limitedBy === undefined) this.count("served", "none", received);
    else {
      const result = a.blocks > 0 ? "short" : "refused";
      this.count(result, a.limitedBy, received);
      this.logLimited(to, result, a.limitedBy, { ...asked, sent: a.blocks, bytes: a.bytes });
    }
    logger.debug({ peer_ip: to.peerIp, conn_id: to.connId, ...asked, sent: a.blocks, bytes: a.bytes, where: this.o.backend.where }, "answered GetBlocks");
  }

  /** Answers with no blocks, marked busy: the asker learns it was load, not a missing chain, and blames nobody. */
  private refuse(to: ReplyTo, why: ServeLimit, asked: Asked, received: number, err?: Error): void {
    this.publish(encodeBlocksReply(to, [], true));
    this.count("refused", why, received);
    this.logLimited(to, "refused", why, { ...asked, sent: 0, ...(err && { err: err.message }) });
  }

  private publish(reply: Uint8Array): boolean {
    const sent = this.o.bus.publishEncoded(Subjects.peerOutSend, reply);
    if (sent) this.backlog.added(reply.length);
    this.o.metrics.serveBacklogBytes.set(this.backlog.bytes);
    return sent;
  }

  private count(result: "served" | "short" | "refused", reason: ServeLimit | "none", received: number): void {
    this.o.metrics.serveRequests.inc({ result, reason });
    this.o.metrics.serveLatency.observe((performance.now() - received) / 1000);
  }

  private logLimited(to: ReplyTo, result: "short" | "refused", why: ServeLimit, fields: object): void {
    const unlogged = this.throttle.tick(`${to.peerIp} ${result} ${why}`);
    if (unlogged === undefined) return;
    const line = { peer_ip: to.peerIp, conn_id: to.connId, result, reason: why, ...fields, unlogged_since_last: unlogged };
    const msg = result === "short" ? "GetBlocks answered short" : "GetBlocks refused";
    if (EXPECTED.has(why)) this.o.logger.info(line, msg);
    else this.o.logger.warn(line, msg);
  }

  private hold(peerIp: string, delta: 1 | -1): void {
    this.queued += delta;
    const n = (this.perPeer.get(peerIp) ?? 0) + delta;
    if (n > 0) this.perPeer.set(peerIp, n);
    else this.perPeer.delete(peerIp);
    this.o.metrics.serveQueueDepth.set(this.queued);
  }
}
